"""The trial API's read path, from plain rows (trials/api/reading.py) and as it was (model
instances and TrialSerializer), measured in-process in alternating rounds.

    # once: a database with 100,000 synthetic trials
    export DEBUG=1 SECRET_KEY=x DATABASE_URL=sqlite:////tmp/nkkb100k.sqlite3
    python manage.py migrate && python manage.py generate_synthetic --trials 100000

    DATABASE_URL=sqlite:////tmp/nkkb100k.sqlite3 SECRET_KEY=x .venv/bin/python \\
        bench/read_path.py [--rounds 7] [--requests 40]

Each path answers the same requests through the trial ViewSet (its filters, pages, rendering
to JSON), called directly: the middleware is the same for both and left out, as is the rate
limit. First the two answers are checked equal, byte for byte. Then, in each round and for each
scenario (the trial list filtered by therapy class, 50 rows; a synthetic trial's record; a
curated trial's, with its registry record and caveats), each path
answers `--requests` requests one after the other, the path that goes first alternating from
round to round. It prints, per scenario and path, the median across rounds of each round's
median time, with its range (min-max), and the old path's time over the new one's, per round
and its median. Nothing is written to the database.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nkkb.settings")
os.environ.setdefault("DEBUG", "0")
os.environ["API_ANON_THROTTLE_RATE"] = ""  # the rate limit writes a row per request
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")

import django  # noqa: E402

django.setup()

from rest_framework.mixins import ListModelMixin, RetrieveModelMixin  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402

from nkkb.core.api.viewsets import PlainReadsMixin  # noqa: E402
from registry.models import RegistryRecord  # noqa: E402
from trials.api.views import TrialViewSet  # noqa: E402
from trials.models import Trial  # noqa: E402

LIST_QUERY = {"therapy_class": "engager", "page_size": "50"}


class SerializerReadsTrialViewSet(TrialViewSet):
    """The read path before plain rows: the filtered queryset's model instances, their
    relations prefetched, through TrialSerializer."""

    list = ListModelMixin.list
    retrieve = RetrieveModelMixin.retrieve

    def filter_queryset(self, queryset):
        return super(PlainReadsMixin, self).filter_queryset(queryset)

    def get_object(self):
        return super(PlainReadsMixin, self).get_object()


def answer(viewset, action: str, path: str, query: dict, **kwargs) -> bytes:
    request = APIRequestFactory().get(path, query, HTTP_HOST="127.0.0.1")
    response = viewset.as_view({"get": action})(request, **kwargs)
    response.render()
    assert response.status_code == 200, response.content[:500]
    return response.content


def scenarios() -> dict[str, tuple]:
    engagers = Trial.objects.filter(trial_agents__agent__agent_class="engager")
    synthetic = engagers.filter(nct_id__startswith="NCT9").order_by("nct_id")[500].nct_id
    # A curated trial with its registry record and caveats: the fullest record.
    curated = (
        Trial.objects.filter(
            nct_id__in=RegistryRecord.objects.values("nct_id"), caveats__isnull=False
        )
        .order_by("nct_id")[0]
        .nct_id
    )
    records = {
        f"record: {nct_id}": ("retrieve", f"/api/v1/trials/{nct_id}/", {}, {"nct_id": nct_id})
        for nct_id in (synthetic, curated)
    }
    return {
        "list: therapy_class=engager, 50 rows": ("list", "/api/v1/trials/", LIST_QUERY, {}),
        **records,
    }


PATHS = {"plain rows": TrialViewSet, "serializer": SerializerReadsTrialViewSet}


def round_median(viewset, scenario, requests: int) -> float:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer(viewset, *scenario[:3], **scenario[3])
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def spread(values) -> str:
    return f"{statistics.median(values):7.2f} ms ({min(values):.2f}-{max(values):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=40, help="per path, round and scenario")
    args = parser.parse_args()

    print(f"{Trial.objects.count()} trials; load average {os.getloadavg()[0]:.2f}")
    for name, scenario in scenarios().items():
        new, old = (answer(viewset, *scenario[:3], **scenario[3]) for viewset in PATHS.values())
        assert new == old, f"{name}: the two paths answer differently"

        medians = {path: [] for path in PATHS}
        order = list(PATHS)
        for _ in range(args.rounds):
            for path in order:
                medians[path].append(round_median(PATHS[path], scenario, args.requests))
            order.reverse()
        ratios = [o / n for o, n in zip(medians["serializer"], medians["plain rows"], strict=True)]
        print(f"\n{name} ({len(new):,} bytes, {args.rounds} rounds of {args.requests} requests)")
        for path, values in medians.items():
            print(f"  {path:<11} {spread(values)}")
        per_round = " ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"  serializer / plain rows: {statistics.median(ratios):.2f}x (rounds: {per_round})")
    print(f"\nload average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
