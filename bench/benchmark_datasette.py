"""NKKB under gunicorn, Datasette and raw SQL, side by side on one large trial database.

    # once: a database with 100,000 synthetic trials, and Datasette in a venv of its own
    DATABASE_URL=sqlite:////tmp/nkkb100k.sqlite3 python manage.py migrate
    DATABASE_URL=sqlite:////tmp/nkkb100k.sqlite3 python manage.py generate_synthetic --trials 100000
    python3 -m venv /tmp/datasette-venv && /tmp/datasette-venv/bin/pip install datasette

    .venv/bin/python bench/benchmark_datasette.py --sqlite /tmp/nkkb100k.sqlite3 \\
        [--postgres postgres://postgres@127.0.0.1:54329/nkkb100k] [--duration 10]

For each scenario (a trial list filtered by therapy class, 50 rows, JSON; a trial's record; a
free-text search; the HTML list page) the same load generator (`--connections` processes, each
sending requests one after the other over HTTP/1.1 for `--duration` seconds) measures NKKB and
Datasette; the raw SQL floor runs, in as many processes, the very statements NKKB sends for that
request, through the database driver. It prints throughput, median and p95 latency (time to the
last byte; time to first byte for HTML), the ratios, and each NKKB worker's resident memory after
the run. Nothing is written to the database.
"""

import argparse
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGAGER_TRIALS = (
    "id in (select ta.trial_id from trials_trialagent ta join agents_agent a "
    "on a.id = ta.agent_id where a.agent_class = 'engager')"
)
SEARCH_TERM = "haploidentical"
# Datasette searches the titles through NKKB's own full-text index (trials/search.py), as NKKB
# does; NKKB also searches the names of agents, products and conditions.
SEARCH_TITLES = (
    "id in (select rowid from trials_trial_search "
    f"where trials_trial_search match '\"{SEARCH_TERM}\"*')"
)


@dataclass(frozen=True)
class Scenario:
    name: str
    nkkb: str
    datasette: str | None


# What Datasette's row of trials_trial holds, as NKKB's fields: the trial's own columns and its
# provenance, without the agents, products, conditions, results and warnings of NKKB's default.
TRIAL_COLUMNS = (
    "nct_id,title,phase,status,status_note,start_year,enrollment,provenance,last_updated,version"
)


def scenarios(database: str, nct_id: str) -> list[Scenario]:
    table = f"/{database}/trials_trial.json"
    # Datasette's fastest table page: the count, but no facets and no facet suggestions.
    lean = "_nofacet=1&_nosuggest=1"
    return [
        Scenario(
            "list: therapy_class=engager, 50 rows, JSON",
            "/api/v1/trials/?therapy_class=engager&page_size=50",
            f"{table}?_where={urllib.parse.quote(ENGAGER_TRIALS)}&_sort=nct_id&_size=50&{lean}",
        ),
        Scenario(
            "list of the trials' own columns: therapy_class=engager, 50 rows, JSON",
            f"/api/v1/trials/?therapy_class=engager&page_size=50&fields={TRIAL_COLUMNS}",
            f"{table}?_where={urllib.parse.quote(ENGAGER_TRIALS)}&_sort=nct_id&_size=50&{lean}",
        ),
        Scenario(
            "detail: one trial, JSON",
            f"/api/v1/trials/{nct_id}/",
            f"{table}?nct_id={nct_id}&_shape=array",
        ),
        Scenario(
            f"search: {SEARCH_TERM!r}, 50 rows, JSON",
            f"/api/v1/trials/?q={SEARCH_TERM}&page_size=50",
            f"{table}?_where={urllib.parse.quote(SEARCH_TITLES)}&_sort=nct_id&_size=50&{lean}",
        ),
        Scenario("HTML list page: therapy_class=engager", "/trials/?therapy_class=engager", None),
    ]


# Load generation


def _http_worker(port: int, path: str, deadline: float, results):
    connection = HTTPConnection("127.0.0.1", port, timeout=60)
    latencies, first_bytes, errors = [], [], 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        connection.request("GET", path, headers={"Accept": "*/*"})
        response = connection.getresponse()
        first_byte = time.perf_counter()
        response.read()
        finished = time.perf_counter()
        if response.status != 200:
            errors += 1
        latencies.append(finished - started)
        first_bytes.append(first_byte - started)
        if response.will_close:
            connection.close()
    results.put((latencies, first_bytes, errors))


def _sql_worker(url: str, options: dict, statements: list[str], deadline: float, results):
    connection = connect(url, options)
    latencies = []
    cursor = connection.cursor()
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        for statement in statements:
            cursor.execute(statement)
            cursor.fetchall()
        latencies.append(time.perf_counter() - started)
    results.put((latencies, latencies, 0))


def load(target, args, *, connections: int, duration: float) -> dict:
    results = multiprocessing.Queue()
    deadline = time.perf_counter() + duration
    workers = [
        multiprocessing.Process(target=target, args=(*args, deadline, results))
        for _ in range(connections)
    ]
    for worker in workers:
        worker.start()
    latencies, first_bytes, errors = [], [], 0
    for _ in workers:
        part = results.get()
        latencies += part[0]
        first_bytes += part[1]
        errors += part[2]
    for worker in workers:
        worker.join()
    return summary(latencies, first_bytes, errors, duration)


def summary(latencies, first_bytes, errors, duration) -> dict:
    def percentile(values, fraction):
        return sorted(values)[min(len(values) - 1, int(fraction * len(values)))] * 1000

    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput": len(latencies) / duration,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 0.95),
        "ttfb_median_ms": statistics.median(first_bytes) * 1000,
    }


# Servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, path: str, process: subprocess.Popen):
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"The server on port {port} stopped: {process.args}")
        try:
            connection = HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"The server on port {port} did not answer {path}.")


def nkkb_environment(database_url: str, settings_module: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "SECRET_KEY": "benchmark-only",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "CONN_MAX_AGE": "600",
        # The load generator is one client: the anonymous rate limit would answer 429.
        "API_ANON_THROTTLE_RATE": "100000000/second",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
    }


def start_nkkb(database_url: str, port: int, workers: int, settings_module: str):
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "nkkb.wsgi",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--log-level=warning",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=nkkb_environment(database_url, settings_module))


def start_datasette(datasette: str, sqlite_path: Path, port: int):
    command = [
        datasette,
        "serve",
        "-i",  # immutable: Datasette's mode for publishing a database nobody writes to
        str(sqlite_path),
        f"--port={port}",
        "--setting",
        "sql_time_limit_ms",
        "20000",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def worker_memory_mb(master_pid: int) -> list[dict[str, float]]:
    """Resident memory of each gunicorn worker (the master's children): in all (VmRSS), its own
    (RssAnon), mapped files (RssFile: SQLite's memory-mapped database, the operating system's
    file cache that every worker shares, and the program's libraries), and its proportional
    share (Pss: each shared page divided by the number of processes that map it)."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]  # after its header
        fields = dict(line.split(":", 1) for line in status + rollup)
        sizes.append(
            {
                key: int(fields[key].split()[0]) / 1024
                for key in ("VmRSS", "RssAnon", "RssFile", "Pss")
            }
        )
    return sizes


# Raw SQL


def connect(url: str, options: dict):
    """A connection started as NKKB starts its own (`options`: its database OPTIONS)."""
    if url.startswith("sqlite:"):
        import sqlite3

        connection = sqlite3.connect(urllib.parse.urlparse(url).path)
        if "init_command" in options:
            connection.execute(options["init_command"])
        return connection
    import psycopg2

    return psycopg2.connect(url, **options)


def captured_statements(
    database_url: str, settings_module: str, path: str
) -> tuple[dict, list[str]]:
    """NKKB's database connection options, and the SQL it sends for `path` (parameters
    inlined), read from an in-process request."""
    script = (
        "import django, json; django.setup()\n"
        "from django.db import connection\n"
        "from django.test import Client\n"
        "from django.test.utils import CaptureQueriesContext\n"
        "client = Client(HTTP_HOST='127.0.0.1')\n"
        f"client.get({path!r})\n"
        "with CaptureQueriesContext(connection) as queries:\n"
        f"    assert client.get({path!r}).status_code == 200\n"
        "options = connection.settings_dict['OPTIONS']\n"
        "print(json.dumps([options, [q['sql'] for q in queries.captured_queries]]))\n"
    )
    environment = nkkb_environment(database_url, settings_module)
    output = subprocess.run(
        [sys.executable, "-c", script], env=environment, cwd=ROOT, capture_output=True, text=True
    )
    if output.returncode:
        raise SystemExit(output.stderr)
    options, statements = json.loads(output.stdout.strip().splitlines()[-1])
    return options, statements


def first_synthetic_trial(sqlite_path: Path) -> str:
    import sqlite3

    with sqlite3.connect(sqlite_path) as connection:
        (nct_id,) = connection.execute(
            "select nct_id from trials_trial where nct_id like 'NCT9%' "
            "order by id limit 1 offset 500"
        ).fetchone()
    return nct_id


# The run


UNCACHED_SETTINGS = "uncached_settings"  # bench/uncached_settings.py
# Every request computed, as when nobody asked for it before at this data version; then as NKKB
# runs, where repeated requests are answered from the response and facet caches.
CACHE_MODES = (("computed", UNCACHED_SETTINGS), ("cached", "nkkb.settings"))


def run(options) -> dict:
    sqlite_path = options.sqlite.resolve()
    nct_id = first_synthetic_trial(sqlite_path)
    cases = scenarios(sqlite_path.stem, nct_id)
    report = {"duration_s": options.duration, "connections": options.connections, "rows": {}}
    measure = {"connections": options.connections, "duration": options.duration}
    targets = [("NKKB SQLite", f"sqlite:///{sqlite_path}")]
    if options.postgres:
        targets.append(("NKKB PostgreSQL", options.postgres))

    for database, url in targets:
        for mode, settings_module in CACHE_MODES:
            label = f"{database}, {mode}"
            port = free_port()
            server = start_nkkb(url, port, options.workers, settings_module)
            try:
                wait_for(port, cases[0].nkkb, server)
                for case in cases:
                    row = report["rows"].setdefault(case.name, {})
                    load(_http_worker, (port, case.nkkb), connections=1, duration=1)  # warm up
                    row[label] = load(_http_worker, (port, case.nkkb), **measure)
                report[f"{label}: worker RSS MB"] = worker_memory_mb(server.pid)
            finally:
                stop(server)
        for case in cases:
            connection_options, statements = captured_statements(url, UNCACHED_SETTINGS, case.nkkb)
            report["rows"][case.name][f"{database}: raw SQL"] = {
                **load(_sql_worker, (url, connection_options, statements), **measure),
                "statements": len(statements),
            }

    port = free_port()
    server = start_datasette(options.datasette, sqlite_path, port)
    try:
        wait_for(port, f"/{sqlite_path.stem}.json", server)
        for case in cases:
            if case.datasette:
                load(_http_worker, (port, case.datasette), connections=1, duration=1)
                report["rows"][case.name]["Datasette"] = load(
                    _http_worker, (port, case.datasette), **measure
                )
    finally:
        stop(server)
    return report


def print_report(report: dict):
    print(
        f"{report['connections']} connections, {report['duration_s']} s per measurement; "
        "latency to the last byte (TTFB for the HTML page)"
    )
    for name, row in report["rows"].items():
        print(f"\n{name}")
        for label, figures in row.items():
            median = figures["ttfb_median_ms"] if name.startswith("HTML") else figures["median_ms"]
            print(
                f"  {label:28s} {figures['throughput']:8.1f} req/s  median {median:7.2f} ms"
                f"  p95 {figures['p95_ms']:7.2f} ms  ({figures['requests']} requests,"
                f" {figures['errors']} errors)"
            )
        for label in [key for key in row if key.startswith("NKKB") and "raw" not in key]:
            nkkb = row[label]
            ratios = []
            if "Datasette" in row:
                ratio = nkkb["throughput"] / row["Datasette"]["throughput"]
                ratios.append(f"throughput / Datasette {ratio:.2f}")
            raw = row[f"{label.partition(',')[0]}: raw SQL"]
            ratios.append(f"median / raw SQL {nkkb['median_ms'] / raw['median_ms']:.1f}x")
            print(f"  {label}: " + ", ".join(ratios))
    for key, value in report.items():
        if key.endswith("RSS MB"):
            workers = "; ".join(
                ", ".join(f"{name} {size:.0f}" for name, size in worker.items()) for worker in value
            )
            print(f"\n{key}: {workers}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path, required=True, help="the SQLite database file")
    parser.add_argument("--postgres", help="a PostgreSQL URL holding the same trials")
    parser.add_argument("--datasette", default="/tmp/datasette-venv/bin/datasette")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args()
    report = run(options)
    print_report(report)
    if options.json:
        options.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
