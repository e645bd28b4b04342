"""Every filter and sort of the trial list, and the pages around it, at the size of a benchmark
database: which ones a synced knowledge base makes slow.

    DATABASE_URL=sqlite:////tmp/r600k.sqlite3 .venv/bin/python bench/filter_sweep.py \\
        [--repeats 3] [--time-limit 120]

In-process (Django's test client, production settings with the response and facet caches off,
as bench/uncached_settings.py), one request after another. For each request it prints the
status, the first answer's time (which reads what each process reads once per data version:
the facet index, the catalogue) and the fastest of the repeats after it. The request time limit
is raised (`--time-limit`, seconds) so that a slow request is measured rather than cut off at
the production limit, which the output marks. Nothing is written to the database.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1/trials/?page_size=50&"
# One request per filter of the trial list (trials.filtersets.TrialFilterSet), per ordering it
# offers, and the pages a researcher or curator opens around the list.
REQUESTS = [
    f"{API}therapy_class=engager",
    f"{API}agent=il-2",
    f"{API}platform=ROCK",
    f"{API}target=cd33",
    f"{API}nk_product=cynk-001",
    f"{API}cd16_status=high-affinity",
    f"{API}phase=2",
    f"{API}status=RECRUITING",
    f"{API}condition=acute-myeloid-leukemia",
    f"{API}sponsor=M.D.%20Anderson%20Cancer%20Center",
    f"{API}country=Germany",
    f"{API}start_year_min=2020",
    f"{API}completion_year_min=2024",
    f"{API}enrollment_min=50",
    f"{API}recruiting=true",
    f"{API}has_registry_record=true",
    f"{API}has_discrepancy=true",
    f"{API}has_discrepancy=false",
    f"{API}has_warning=true",
    f"{API}has_warning=false",
    f"{API}q=haploidentical",
    f"{API}ordering=title",
    f"{API}ordering=-enrollment",
    f"{API}ordering=phase",
    "/api/v1/trials/NCT90000942/",
    "/",
    "/trials/",
    "/trials/?therapy_class=engager",
    "/trials/?has_warning=true",
    "/trials/?has_discrepancy=true",
    "/trials/NCT90000942/",
    "/landscape/",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=120)
    options = parser.parse_args()

    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    production_limit = float(os.environ.get("REQUEST_TIME_LIMIT", "10"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "uncached_settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only"),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "ERROR",
            "REQUEST_TIME_LIMIT": str(options.time_limit),
            "API_ANON_THROTTLE_RATE": "100000000/second",
            "PAGES_ANON_THROTTLE_RATE": "100000000/second",
        }
    )
    import django

    django.setup()
    from django.test import Client

    client = Client()
    print(f"{'status':>6} {'first ms':>10} {'then ms':>10}  request")
    for path in REQUESTS:
        times, status = [], None
        for _ in range(1 + options.repeats):
            started = time.perf_counter()
            status = client.get(path).status_code
            times.append((time.perf_counter() - started) * 1000)
        slow = " (past the production limit)" if min(times) > production_limit * 1000 else ""
        print(f"{status:>6} {times[0]:>10.1f} {min(times[1:]):>10.1f}  {path}{slow}", flush=True)


if __name__ == "__main__":
    main()
