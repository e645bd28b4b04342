"""The registry's bulk paths on 10,000 synthetic API v2 studies: `sync_ctgov --from-file` and
`discover_ctgov` against a local server holding them. Not part of the test suite.

    .venv/bin/python bench/registry_bench.py [--studies 10000] [--small 1000]

Each run uses a fresh SQLite database in a temporary folder (migrated and seeded), so nothing
else is touched. For each path it prints wall time, peak Python memory (tracemalloc) and
resident memory (getrusage), and SQL queries per study (counted by an execute wrapper) at
`--small` and `--studies` studies: the
same figure at both sizes shows the query count is constant per study. Figures: BENCHMARKS.md.
"""

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Intervention names in the shapes the registry writes them: NK cell products, NK-directed
# agents, combination partners alone, combinations, brackets and routes.
INTERVENTIONS = [
    ["N-803", "Pembrolizumab"],
    ["Pembrolizumab"],
    ["Cyclophosphamide", "Fludarabine", "Allogeneic NK cells"],
    ["Daratumumab SC + IL-2 (aldesleukin)"],
    ["Carboplatin", "Pemetrexed"],
    ["NK-92", "Placebo"],
    ["AFM13", "Cord blood NK cells"],
    ["Rituximab"],
    ["Interleukin-15 (IL-15)"],
    ["Monalizumab", "Cetuximab"],
]
STATUSES = ["RECRUITING", "COMPLETED", "TERMINATED", "ACTIVE_NOT_RECRUITING", "AVAILABLE"]
PHASES = [["PHASE1"], ["PHASE1", "PHASE2"], ["PHASE2"], ["EARLY_PHASE1"], ["NA"], []]
COUNTRIES = ["United States", "China", "Germany", "France", "Korea, Republic of", "Japan"]


def synthetic_study(number: int, rng: random.Random) -> dict:
    """A varied API v2 study: statuses, phases, date precisions, conditions, arms, sites."""
    names = rng.choice(INTERVENTIONS)
    year = rng.randint(2005, 2026)
    start = rng.choice([f"{year}", f"{year}-{rng.randint(1, 12):02d}", f"{year}-03-15"])
    study = {
        "protocolSection": {
            "identificationModule": {
                "nctId": f"NCT{50_000_000 + number:08d}",
                "briefTitle": f"Synthetic study {number} of {' and '.join(names)}",
                "officialTitle": f"A Phase study of {', '.join(names)} in cancer ({number})",
                "secondaryIdInfos": [{"id": f"SYN-{number}"}],
            },
            "statusModule": {
                "overallStatus": rng.choice(STATUSES),
                "startDateStruct": {"date": start, "type": rng.choice(["ACTUAL", "ESTIMATED"])},
                "completionDateStruct": {"date": f"{year + 3}-06", "type": "ESTIMATED"},
                "studyFirstPostDateStruct": {"date": f"{year}-01-10", "type": "ACTUAL"},
                "lastUpdatePostDateStruct": {"date": "2026-01-05", "type": "ACTUAL"},
            },
            "sponsorCollaboratorsModule": {
                "leadSponsor": {"name": f"Sponsor {number % 300}", "class": "INDUSTRY"},
                "collaborators": [{"name": f"Centre {i}"} for i in range(rng.randint(0, 3))],
            },
            "conditionsModule": {
                "conditions": [f"Cancer type {rng.randint(1, 80)}" for _ in range(3)],
                "keywords": ["NK cells", "immunotherapy"][: rng.randint(0, 2)],
            },
            "designModule": {
                "studyType": "INTERVENTIONAL",
                "phases": rng.choice(PHASES),
                "designInfo": {"allocation": rng.choice(["RANDOMIZED", "NA"])},
                "enrollmentInfo": {
                    "count": rng.randint(5, 800),
                    "type": rng.choice(["ACTUAL", "ESTIMATED"]),
                },
            },
            "armsInterventionsModule": {
                "armGroups": [
                    {"label": "Arm A", "type": "EXPERIMENTAL", "interventionNames": names}
                ],
                "interventions": [
                    {"type": "DRUG", "name": name, "otherNames": []} for name in names
                ],
            },
            "contactsLocationsModule": {
                "locations": [{"country": rng.choice(COUNTRIES)} for _ in range(rng.randint(1, 8))]
            },
        },
        "hasResults": rng.random() < 0.2,
    }
    return study


def measure(label: str, run) -> dict:
    from django.db import connection

    # A counter, not CaptureQueriesContext: that keeps only the last 9,000 queries.
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    tracemalloc.start()
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        result = run()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "label": label,
        "seconds": seconds,
        "peak_mib": peak / 2**20,
        "queries": queries,
        "result": result,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="nkkb-registry-bench-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ.setdefault("SECRET_KEY", "registry-bench")
    os.environ["DJANGO_SETTINGS_MODULE"] = "nkkb.settings"
    sys.path[:0] = [str(ROOT)]
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from registry.ctgov import CtgovClient
    from registry.models import RegistryRecord, StudyCandidate
    from registry.sync import registry_discover, registry_files_read
    from tests.ctgov_server import CtgovServer
    from trials.models import Trial
    from trials.services.seed import seed_load

    call_command("migrate", verbosity=0)
    seed_load(directory=settings.NKKB_FIXTURES_DIR)
    rng = random.Random(12)
    studies = [synthetic_study(number, rng) for number in range(args.studies)]

    rows = []
    for size in (args.small, args.studies):
        RegistryRecord.objects.filter(nct_id__startswith="NCT5").delete()
        paths = []
        for start in range(0, size, 1000):  # pages of the API's largest size
            path = folder / f"page-{size}-{start}.json"
            path.write_text(json.dumps({"studies": studies[start : min(start + 1000, size)]}))
            paths.append(path)
        row = measure(
            f"sync_ctgov --from-file --apply, {size} studies",
            lambda paths=paths: registry_files_read(paths=paths, apply=True),
        )
        assert row["result"].counts["created"] == size, row["result"].problems[:3]
        rows.append((size, row))

    for size in (args.small, args.studies):
        RegistryRecord.objects.filter(nct_id__startswith="NCT5").delete()
        with CtgovServer(studies[:size]) as server:
            client = CtgovClient(base_url=server.url, requests_per_minute=60_000)
            row = measure(
                f"discover_ctgov --apply, local server with {size} studies",
                lambda client=client: registry_discover(
                    client=client,
                    known_nct_ids=Trial.objects.values_list("nct_id", flat=True),
                    apply=True,
                ),
            )
            row["requests"] = len(server.page_requests())
        report = row["result"]
        row["candidates"] = StudyCandidate.objects.count()
        row["seen"] = len(report.candidates) + len(report.not_relevant)
        rows.append((size, row))

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Python {sys.version.split()[0]}, SQLite, {os.cpu_count()} CPUs; peak RSS {rss:.0f} MiB")
    for size, row in rows:
        extra = ""
        if "requests" in row:
            extra = (
                f", {row['requests']} requests, {row['seen']} studies seen, "
                f"{row['candidates']} candidates "
                f"({row['queries'] / row['candidates']:.2f} queries per candidate)"
            )
        print(
            f"{row['label']}: {row['seconds']:.1f} s ({size / row['seconds']:.0f} studies/s), "
            f"peak traced memory {row['peak_mib']:.0f} MiB, {row['queries']} queries "
            f"({row['queries'] / size:.2f} per study){extra}"
        )


if __name__ == "__main__":
    main()
