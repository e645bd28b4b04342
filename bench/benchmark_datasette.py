"""NKKB under gunicorn, Datasette and raw SQL, measured in alternating rounds on one trial database.

    # once: a database with 100,000 synthetic trials, and Datasette in a venv of its own
    export DEBUG=1 DATABASE_URL=sqlite:////tmp/nkkb100k.sqlite3
    python manage.py migrate && python manage.py generate_synthetic --trials 100000
    python3 -m venv /tmp/datasette-venv && /tmp/datasette-venv/bin/pip install datasette

    .venv/bin/python bench/benchmark_datasette.py --sqlite /tmp/nkkb100k.sqlite3 \\
        [--postgres postgres://postgres@127.0.0.1:54329/nkkb100k] [--uncached] \\
        [--connections 1 8] [--rounds 5] [--duration 10] [--json figures.json]

Every server starts once and stays up: NKKB (gunicorn, `--workers` sync workers, production
settings) per database, computed (response and facet caches off: bench/uncached_settings.py) and
cached (as NKKB runs by default; `--uncached` leaves this one out), and Datasette serving the
SQLite file. For each number of `--connections`, `--rounds` rounds follow one another; in each
round, for each scenario (a trial list filtered by therapy class, 50 rows, JSON, full and with
the trial's own columns; a trial's record; a free-text search; the HTML list page), every system
takes its turn for `--duration` seconds: NKKB, then Datasette, then the raw SQL floor (the very
statements NKKB sends for that request, run through the database driver), the order rotated by
one system each round so that none always runs first or last. The load generator is as many
processes as connections, each sending requests one after the other over HTTP/1.1.

It prints, per scenario and system, the median across rounds of the throughput and of the median
latency (time to the last byte; time to first byte for HTML) with their range (min-max), the
ratio of NKKB's throughput to Datasette's in each round and its median, NKKB's median latency
over raw SQL's, the load average before and after each round, the database's size, and each NKKB
worker's resident memory after the run. Nothing is written to the database.
"""

import argparse
import functools
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
from http.client import HTTPConnection, HTTPException
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# NKKB's therapy-class rule (trials.models.therapy_class_rows): an agent expressed by the cells
# of an NK cell product gives the trial no class of its own.
ENGAGER_TRIALS = (
    "id in (select ta.trial_id from trials_trialagent ta join agents_agent a "
    "on a.id = ta.agent_id where a.agent_class = 'engager' "
    "and ta.role not in ('expressed-by-product'))"
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
    # An HTML page's latency is its time to first byte: the browser starts rendering there.
    first_byte: bool = False


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
        Scenario(
            f"search of the trials' own columns: {SEARCH_TERM!r}, 50 rows, JSON",
            f"/api/v1/trials/?q={SEARCH_TERM}&page_size=50&fields={TRIAL_COLUMNS}",
            f"{table}?_where={urllib.parse.quote(SEARCH_TITLES)}&_sort=nct_id&_size=50&{lean}",
        ),
        Scenario(
            "HTML list page: therapy_class=engager",
            "/trials/?therapy_class=engager",
            None,
            first_byte=True,
        ),
    ]


# Load generation


def _http_worker(port: int, path: str, deadline: float, results):
    connection = HTTPConnection("127.0.0.1", port, timeout=60)
    latencies, first_bytes, errors = [], [], 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers={"Accept": "*/*"})
            response = connection.getresponse()
            first_byte = time.perf_counter()
            response.read()
        except (OSError, HTTPException):
            # A refused or dropped connection is an error of the run, not the end of the worker
            # (the parent waits for every worker's figures).
            errors += 1
            connection.close()
            continue
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
    latencies, errors = [], 0
    cursor = connection.cursor()
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            for statement in statements:
                cursor.execute(statement)
                if cursor.description is not None:  # a statement that returns rows
                    cursor.fetchall()
        except Exception:  # sqlite3's and psycopg2's errors alike: counted, not fatal
            errors += 1
            continue
        latencies.append(time.perf_counter() - started)
    results.put((latencies, latencies, errors))


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
        # A worker that died sends nothing: fail rather than wait for it forever.
        part = results.get(timeout=duration + 120)
        latencies += part[0]
        first_bytes += part[1]
        errors += part[2]
    for worker in workers:
        worker.join()
    return summary(latencies, first_bytes, errors, duration)


def summary(latencies, first_bytes, errors, duration) -> dict:
    def percentile(values, fraction):
        return sorted(values)[min(len(values) - 1, int(fraction * len(values)))] * 1000

    if not latencies:
        raise SystemExit(f"No request succeeded in {duration} s ({errors} errors).")
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
        # The load generator is one client: the anonymous rate limits would answer 429. Raised,
        # not turned off, so that each request still counts its hit as in production.
        "API_ANON_THROTTLE_RATE": "100000000/second",
        "PAGES_ANON_THROTTLE_RATE": "100000000/second",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
    }


# gunicorn's request log as write_mix.py reads it: the worker's pid, the client's name for the
# request (its X-Bench-Request header), the method, the status, the worker's time in µs, and the
# request's CPU and collector time in µs (bench/timed_wsgi.py's headers).
ACCESS_LOG_FORMAT = (
    "%(p)s %({x-bench-request}i)s %(m)s %(s)s %(D)s %({x-bench-cpu-us}o)s %({x-bench-gc-us}o)s"
)


def start_nkkb(
    database_url: str, port: int, workers: int, settings_module: str, access_log: Path = None
):
    """NKKB under gunicorn; with `access_log`, its requests timed (bench/timed_wsgi.py) and
    logged there."""
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "timed_wsgi" if access_log else "nkkb.wsgi",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--log-level=warning",
    ]
    if access_log:
        command += [f"--access-logfile={access_log}", f"--access-logformat={ACCESS_LOG_FORMAT}"]
    # Its request log (one line per request) would bury the report; errors count in the figures.
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=nkkb_environment(database_url, settings_module),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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

        # In autocommit, as Django runs: NKKB's statements include a write (the rate limit's
        # hit), whose implicit transaction would otherwise hold the write lock for good.
        connection = sqlite3.connect(
            urllib.parse.urlparse(url).path,
            isolation_level=None,
            timeout=options.get("timeout", 5),
        )
        if "init_command" in options:
            connection.executescript(options["init_command"])
        return connection
    import psycopg2

    connection = psycopg2.connect(url, **options)
    connection.autocommit = True
    return connection


def captured_statements(
    database_url: str, settings_module: str, path: str
) -> tuple[dict, list[str]]:
    """NKKB's database connection options, and the SQL it sends for `path` (parameters
    inlined), read from an in-process request. The process reads the facet indexes first, as
    each gunicorn worker does when it starts (gunicorn.conf.py): at 600,000 trials a slow
    machine took longer than a request may (REQUEST_TIME_LIMIT) to read them on the first."""
    script = (
        "import django, json; django.setup()\n"
        "from django.db import connection\n"
        "from django.test import Client\n"
        "from django.test.utils import CaptureQueriesContext\n"
        "from nkkb.core.facets import read_facet_indexes\n"
        "read_facet_indexes()\n"
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


def postgres_label(url: str, *, several: bool) -> str:
    """PostgreSQL's name in the report; where several URLs are given, with how each connects
    (a host of `/...` is a Unix socket's directory, as libpq reads it)."""
    if not several:
        return "PostgreSQL"
    host = urllib.parse.unquote(urllib.parse.urlparse(url).hostname or "")
    return f"PostgreSQL {'socket' if host.startswith('/') or not host else 'TCP'}"


def database_size_mib(url: str) -> float:
    """The database's size on disk: the SQLite file (and its write-ahead log, if any), or
    PostgreSQL's pg_database_size."""
    if url.startswith("sqlite:"):
        path = Path(urllib.parse.urlparse(url).path)
        files = [path, path.with_name(path.name + "-wal")]
        return sum(file.stat().st_size for file in files if file.exists()) / 2**20
    connection = connect(url, {})
    try:
        cursor = connection.cursor()
        cursor.execute("select pg_database_size(current_database())")
        return cursor.fetchone()[0] / 2**20
    finally:
        connection.close()


# The systems: each measures a scenario at a number of connections, or has no equivalent (None)


def measure_http(port: int, path_of, case: Scenario, connections: int, duration: float):
    path = path_of(case)
    if path is None:
        return None
    return load(_http_worker, (port, path), connections=connections, duration=duration)


def measure_sql(url: str, captured: dict, case: Scenario, connections: int, duration: float):
    connection_options, statements = captured[case.name]
    figures = load(
        _sql_worker,
        (url, connection_options, statements),
        connections=connections,
        duration=duration,
    )
    return {**figures, "statements": len(statements)}


# The run


UNCACHED_SETTINGS = "uncached_settings"  # bench/uncached_settings.py
# Every request computed, as when nobody asked for it before at this data version; then as NKKB
# runs, where repeated requests are answered from the response and facet caches.
CACHE_MODES = (("computed", UNCACHED_SETTINGS), ("cached", "nkkb.settings"))
DATASETTE = "Datasette"


def rotated(labels: list[str], shift: int) -> list[str]:
    shift %= len(labels)
    return labels[shift:] + labels[:shift]


def run(options) -> dict:
    sqlite_path = options.sqlite.resolve()
    cases = scenarios(sqlite_path.stem, first_synthetic_trial(sqlite_path))
    databases = [("SQLite", f"sqlite:///{sqlite_path}")]
    for url in options.postgres:
        databases.append((postgres_label(url, several=len(options.postgres) > 1), url))
    modes = CACHE_MODES[:1] if options.uncached else CACHE_MODES
    datasette_version = subprocess.run(
        [options.datasette, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    report = {
        "duration_s": options.duration,
        "rounds": options.rounds,
        "workers": options.workers,
        "cpus": os.cpu_count(),
        "datasette": datasette_version,
        "database_MiB": {database: database_size_mib(url) for database, url in databases},
        "runs": [],
        "worker_memory_MB": {},
    }

    nkkb_servers, http_systems, sql_systems = {}, {}, {}
    datasette = None
    try:
        for database, url in databases:
            for mode, settings_module in modes:
                port = free_port()
                label = f"NKKB {database} {mode}"
                nkkb_servers[label] = (
                    start_nkkb(url, port, options.workers, settings_module),
                    port,
                )
                http_systems[label] = functools.partial(measure_http, port, lambda c: c.nkkb)
            captured = {
                case.name: captured_statements(url, UNCACHED_SETTINGS, case.nkkb) for case in cases
            }
            sql_systems[f"raw SQL {database}"] = functools.partial(measure_sql, url, captured)
        port = free_port()
        datasette = start_datasette(options.datasette, sqlite_path, port)
        http_systems[DATASETTE] = functools.partial(measure_http, port, lambda c: c.datasette)

        for server, server_port in nkkb_servers.values():
            wait_for(server_port, cases[0].nkkb, server)
        wait_for(port, f"/{sqlite_path.stem}.json", datasette)
        # One request of every scenario, in each worker, before the rounds: the facet index is
        # read there (once per worker and data version), and Python's imports are done.
        for measure in http_systems.values():
            for case in cases:
                measure(case, options.workers, 1)

        systems = {**http_systems, **sql_systems}
        for connections in options.connections:
            rounds = []
            for number in range(options.rounds):
                order = rotated(list(systems), number)
                round_ = {"order": order, "load_before": os.getloadavg(), "rows": {}}
                for case in cases:
                    for label in order:
                        figures = systems[label](case, connections, options.duration)
                        if figures is not None:
                            round_["rows"].setdefault(case.name, {})[label] = figures
                round_["load_after"] = os.getloadavg()
                print(
                    f"{connections} connection(s), round {number + 1} of {options.rounds} done",
                    file=sys.stderr,
                    flush=True,
                )
                rounds.append(round_)
            report["runs"].append(
                {
                    "connections": connections,
                    "rounds": rounds,
                    "summary": summarise(rounds, cases, list(systems)),
                }
            )
        for label, (server, _) in nkkb_servers.items():
            report["worker_memory_MB"][label] = worker_memory_mb(server.pid)
    finally:
        for server, _ in nkkb_servers.values():
            stop(server)
        if datasette is not None:
            stop(datasette)
    return report


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(rounds: list[dict], cases: list[Scenario], labels: list[str]) -> dict:
    """Per scenario and system: the median and range across rounds of the throughput, of the
    median latency and of the p95; NKKB's throughput over Datasette's in each round, and NKKB's
    median latency over that of raw SQL on the same database."""
    summary = {}
    for case in cases:
        latency = "ttfb_median_ms" if case.first_byte else "median_ms"
        per_round = [round_["rows"][case.name] for round_ in rounds]
        rows = {}
        for label in labels:
            if label not in per_round[0]:
                continue
            figures = [row[label] for row in per_round]
            rows[label] = {
                "throughput": spread([f["throughput"] for f in figures]),
                "latency_ms": spread([f[latency] for f in figures]),
                "p95_ms": spread([f["p95_ms"] for f in figures]),
                "errors": sum(f["errors"] for f in figures),
            }
            if not label.startswith("NKKB"):
                continue
            if DATASETTE in per_round[0]:
                ratios = [
                    row[label]["throughput"] / row[DATASETTE]["throughput"] for row in per_round
                ]
                rows[label]["throughput_over_datasette"] = {
                    "rounds": ratios,
                    "median": statistics.median(ratios),
                }
            database = label.removeprefix("NKKB ").rsplit(" ", 1)[0]  # "NKKB <database> <mode>"
            raw = f"raw SQL {database}"
            rows[label]["latency_over_raw_sql"] = statistics.median(
                [row[label][latency] / row[raw][latency] for row in per_round]
            )
        summary[case.name] = rows
    return summary


def _range(figures: dict, digits: int) -> str:
    return (
        f"{figures['median']:.{digits}f} ({figures['min']:.{digits}f}-{figures['max']:.{digits}f})"
    )


def print_report(report: dict):
    """The figures as Markdown tables, ready for BENCHMARKS.md."""
    sizes = ", ".join(f"{name} {size:.1f} MiB" for name, size in report["database_MiB"].items())
    print(
        f"{report['rounds']} rounds of {report['duration_s']:g} s per system and scenario; "
        f"{report['workers']} gunicorn workers; {report['cpus']} CPUs; {report['datasette']}; "
        f"database {sizes}. Medians across rounds (min-max); latency is each measurement's "
        "median, to the last byte (first byte for HTML)."
    )
    for run_ in report["runs"]:
        print(f"\n### {run_['connections']} connection(s)\n")
        print(
            "| request | system | req/s | latency ms | p95 ms | / Datasette, per round "
            "(median) | latency / raw SQL | errors |"
        )
        print("| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |")
        for name, rows in run_["summary"].items():
            for label, figures in rows.items():
                ratio = figures.get("throughput_over_datasette")
                ratio_text = (
                    ", ".join(f"{value:.2f}" for value in ratio["rounds"])
                    + f" (**{ratio['median']:.2f}x**)"
                    if ratio
                    else ""
                )
                raw = figures.get("latency_over_raw_sql")
                print(
                    f"| {name} | {label} | {_range(figures['throughput'], 1)} "
                    f"| {_range(figures['latency_ms'], 2)} | {_range(figures['p95_ms'], 2)} "
                    f"| {ratio_text} | {f'{raw:.1f}x' if raw else ''} | {figures['errors']} |"
                )
        print("\nLoad average (1, 5, 15 min) before -> after each round:")
        for number, round_ in enumerate(run_["rounds"], 1):
            before, after = (
                " ".join(f"{value:.2f}" for value in round_[key])
                for key in ("load_before", "load_after")
            )
            print(f"- round {number} ({', '.join(round_['order'])}): {before} -> {after}")
    print("\nResident memory of each NKKB worker after the run (MB):")
    for label, workers in report["worker_memory_MB"].items():
        sizes = "; ".join(
            ", ".join(f"{name} {size:.0f}" for name, size in worker.items()) for worker in workers
        )
        print(f"- {label}: {sizes}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path, required=True, help="the SQLite database file")
    parser.add_argument(
        "--postgres",
        nargs="*",
        default=[],
        help="PostgreSQL URLs holding the same trials (one server over TCP and over its Unix "
        "socket, say: postgres://user@%%2Fvar%%2Frun%%2Fpostgresql:5432/name)",
    )
    parser.add_argument("--datasette", default="/tmp/datasette-venv/bin/datasette")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per system, scenario and round"
    )
    parser.add_argument(
        "--connections",
        type=int,
        nargs="+",
        default=[1, 8],
        help="concurrent clients; the rounds run once for each number given",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--uncached",
        action="store_true",
        help="NKKB computed only (response and facet caches off), not also as it runs by default",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args()
    report = run(options)
    print_report(report)
    if options.json:
        options.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
