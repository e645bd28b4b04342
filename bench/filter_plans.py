"""Time every trial-list filter on a large database and show the query plans that scan tables.

    DATABASE_URL=sqlite:////tmp/nkkb100k.sqlite3 python bench/filter_plans.py [--plans]

Requests go in-process through Django's test client (no HTTP server), anonymous, as the API
and the list page serve them, with the response and facet caches off so that every run is
computed; each URL is timed as the median of a few runs.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "uncached_settings")  # beside this file
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402

FILTERS = [
    "",
    "therapy_class=engager",
    "therapy_class=cytokine&therapy_class=nk-cell-product",
    "agent=n-803",
    "platform=TriKE",
    "target=cd33",
    "nk_product=adoptive-nk",
    "cd16_status=high-affinity-non-cleavable",
    "phase=2",
    "status=COMPLETED",
    "condition=hematologic-malignancies",
    "q=CAR-NK",
    "q=haploidentical",
    "q=leukemia",
    "q=IL-15 superagonist",
    "ordering=-enrollment",
    "ordering=enrollment",
    "ordering=title",
    "phase=2&ordering=-enrollment",
]
RUNS = 5


class SqlTimer:
    """Adds up the time the database spends on the queries it wraps."""

    def __init__(self):
        self.total = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.total += time.perf_counter() - started


def plan(sql: str, params) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return [row[-1] for row in cursor.fetchall()]
        cursor.execute(f"EXPLAIN {sql}", params)
        return [row[0] for row in cursor.fetchall()]


def scans(lines: list[str]) -> list[str]:
    """Plan lines that read a whole table rather than look rows up through an index."""
    return [
        line.strip()
        for line in lines
        if ("SCAN" in line and "USING" not in line and "CONSTANT" not in line) or "Seq Scan" in line
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", action="store_true", help="print the scanning plan lines")
    parser.add_argument("--prefix", default="/api/v1/trials/", help="e.g. /trials/")
    options = parser.parse_args()
    client = Client()
    print(f"{connection.vendor}: {options.prefix}, median of {RUNS} runs, page_size=50: total, SQL")
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        for query in FILTERS:
            url = f"{options.prefix}?page_size=50&{query}"
            timings, sql_timings = [], []
            for _ in range(RUNS):
                sql_time = SqlTimer()
                with (
                    CaptureQueriesContext(connection) as queries,
                    connection.execute_wrapper(sql_time),
                ):
                    started = time.perf_counter()
                    response = client.get(url)
                    timings.append(time.perf_counter() - started)
                sql_timings.append(sql_time.total)
                assert response.status_code == 200, (url, response.status_code)
            print(
                f"{statistics.median(timings) * 1000:8.1f} ms"
                f"{statistics.median(sql_timings) * 1000:8.1f} ms SQL"
                f"  {len(queries):2d} queries  {query}"
            )
            if options.plans:
                for captured in queries.captured_queries:
                    sql = captured["sql"]
                    # The captured SQL has its parameters inlined; plans need no parameters then.
                    for line in scans(plan(sql, None)):
                        print(f"            {line}    <- {sql[:90]}")


if __name__ == "__main__":
    main()
