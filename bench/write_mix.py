"""Reads with and without a write every second: what a write costs the servers, and how long the
first list page after a write takes, measured in alternating rounds on a copy of a database.

    .venv/bin/python bench/write_mix.py --sqlite /tmp/nkkb600k.sqlite3 \\
        [--postgres postgres://postgres@127.0.0.1:55432/nkkb600k] [--rounds 4] [--duration 20]

NKKB runs under gunicorn (`--workers` sync workers, production settings: response and facet
caches on). A SQLite database is copied first (the writes go to the copy); a PostgreSQL database
is written to as it is (each write adds or removes " (edited)" at the end of the title of one of
twenty curated trials, in turn). Each round runs the same reads (one client requesting the HTML
trial list filtered by therapy class, as a researcher's browser would, `--read-rate` times a
second) twice: once alone, once while a curator saves one trial through the API every
`--interval` seconds; a third kind of round runs the writer alone, without the reads; each kind
goes first in turn. The reads are paced so that the machine is not saturated: one client reading
as fast as it can (`--read-rate 0`) kept both of a 2-CPU machine's CPUs busy, and the CPU its
reads took moved from round to round by more than the writes cost (BENCHMARKS.md, "Issue 17,
seventh round"). The writes alone give a steadier figure than the difference of the mix's
rounds, which moved far more between runs of the same code ("nineteenth round").

It prints, per kind of round, the median across rounds (with min-max) of: read throughput, read
latency, the slowest read (and how many reads passed 100 ms: the other worker's first page after
a write, where the writer's probes both reached one worker, is among them), the workers' CPU
seconds per second of the round (from /proc), and in the write rounds the CPU per write and the
slowest of the first reads after each write, as many as there are workers (each worker's first
list page after the write, which must read what changed), with how many of those passed 100 ms
and which (round, write of the round).

Every request names itself in a header that gunicorn's request log records, with the worker's
pid, its time, and the CPU and garbage collector's time the request took in the worker
(bench/timed_wsgi.py). From that log it prints every list page a client waited more than 100 ms
for, with where the time went (in the worker, or waiting for one), and the worker's time of
every worker's first list page after a write (whichever client read it), with the slowest five.
The CPU per write is the
workers' CPU beyond what the same number of list pages cost in the read-only rounds (the
writer's timed pages counted among them), divided by the writes: the curator's read of the
trial before the write, the write itself, and every worker bringing its facet index and caches
up to date, the first page rendered again after the write included. Of the rounds of writes
alone it prints the workers' CPU divided by the writes: each write with the curator's read
before it and the first pages after it, whole.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_datasette import ROOT, free_port, nkkb_environment, start_nkkb, stop, wait_for

BENCH_REQUEST_HEADER = "X-Bench-Request"

READ_PATH = "/trials/?therapy_class=engager"
ROUND_KINDS = ["reads", "reads + writes", "writes"]
# The bound on the first list page after a write.
SLOW_FIRST_READ_MS = 100
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def worker_cpu_seconds(master_pid: int) -> float:
    """User and system CPU time of every gunicorn worker (the master's children) so far."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def django_output(database_url: str, script: str) -> str:
    """What `script` prints, run with NKKB's settings against the benchmark database."""
    environment = nkkb_environment(database_url, "nkkb.settings")
    script = "import django; django.setup()\n" + script
    output = subprocess.run(
        [sys.executable, "-c", script], env=environment, cwd=ROOT, capture_output=True, text=True
    )
    if output.returncode:
        raise SystemExit(output.stderr)
    return output.stdout.strip().splitlines()[-1]


def curator_token(database_url: str) -> str:
    """A curator's API token in the benchmark database (made once, reused)."""
    return django_output(
        database_url,
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework.authtoken.models import Token\n"
        "from nkkb.core.accounts import curator_create\n"
        "user = get_user_model().objects.filter(username='bench-curator').first()\n"
        "user = user or curator_create(\n"
        "    username='bench-curator', password='a long passphrase for benchmarks only'\n"
        ")\n"
        "Token.objects.filter(user=user).delete()\n"
        "print(Token.objects.create(user=user).key)\n",
    )


def curated_trials(database_url: str) -> list[str]:
    """NCT numbers of curated trials for the writer to edit in turn (a synthetic trial's
    provenance is blank, which an edit's validation refuses)."""
    return django_output(
        database_url,
        "from trials.models import Trial\n"
        "print(' '.join(Trial.objects.exclude(nct_id__startswith='NCT9')"
        ".order_by('id').values_list('nct_id', flat=True)[:20]))\n",
    ).split()


class Writer(threading.Thread):
    """Saves one trial's title through the API every `interval` seconds until stopped; after
    each write, times the next `probes` list pages (each worker's first after the write)."""

    def __init__(self, port, token, nct_ids, interval, probes):
        super().__init__(daemon=True)
        self.port, self.token, self.nct_ids = port, token, nct_ids
        self.interval, self.probes = interval, probes
        self.stopping = threading.Event()
        self.writes, self.errors, self.first_reads, self.pages = 0, 0, [], 0
        self.probe_latencies = {}

    def request(self, method, path, name, body=None):
        connection = HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {
            "Authorization": f"Token {self.token}",
            "Content-Type": "application/json",
            BENCH_REQUEST_HEADER: name,
        }
        connection.request(method, path, body=body and json.dumps(body), headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, data

    def run(self):
        while not self.stopping.wait(self.interval):
            nct_id = self.nct_ids[self.writes % len(self.nct_ids)]
            status, data = self.request(
                "GET", f"/api/v1/trials/{nct_id}/?fields=title,version", f"get-{self.writes}"
            )
            trial = json.loads(data)
            title = trial["title"].removesuffix(" (edited)") + (
                "" if trial["title"].endswith(" (edited)") else " (edited)"
            )
            status, answer = self.request(
                "PATCH",
                f"/api/v1/trials/{nct_id}/",
                f"patch-{self.writes}",
                {"title": title, "version": trial["version"]},
            )
            self.writes += 1
            if status != 200:
                self.errors += 1
                print(f"PATCH {nct_id}: {status} {answer[:300]!r}", file=sys.stderr)
            slowest = 0.0
            for probe in range(self.probes):
                connection = HTTPConnection("127.0.0.1", self.port, timeout=60)
                name = f"probe-{self.writes}-{probe}"
                started = time.perf_counter()
                connection.request("GET", READ_PATH, headers={BENCH_REQUEST_HEADER: name})
                response = connection.getresponse()
                response.read()
                latency = time.perf_counter() - started
                slowest = max(slowest, latency)
                self.probe_latencies[name] = latency
                self.pages += 1
                connection.close()
            self.first_reads.append(slowest)


def read_for(port: int, duration: float, rate: float = 0) -> dict[str, float]:
    """Latencies of list pages read for `duration` seconds, one after another, or `rate` a
    second where given (each read starts on time unless the last one is late), by the name each
    read gave the server."""
    connection = HTTPConnection("127.0.0.1", port, timeout=60)
    latencies = {}
    deadline = time.perf_counter() + duration
    next_start = time.perf_counter()
    while time.perf_counter() < deadline:
        if rate:
            time.sleep(max(0.0, next_start - time.perf_counter()))
            next_start += 1 / rate
        name = f"read-{len(latencies)}"
        started = time.perf_counter()
        connection.request("GET", READ_PATH, headers={BENCH_REQUEST_HEADER: name})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{READ_PATH} answered {response.status}")
        latencies[name] = time.perf_counter() - started
    connection.close()
    return latencies


def logged_requests(access_log: Path, offset: int) -> list[tuple]:
    """(worker pid, the client's name, method, the worker's ms, its CPU ms, its collector's ms)
    of each request gunicorn logged past `offset`, in the order the responses ended."""
    with access_log.open() as log:
        log.seek(offset)
        lines = log.read().splitlines()
    requests = []
    for line in lines:
        pid, name, method, _status, *microseconds = line.split()
        requests.append((pid, name, method, *(int(value) / 1000 for value in microseconds)))
    return requests


def attributed(requests, latencies: dict[str, float]) -> tuple[list[dict], list[float]]:
    """Each list page the client waited more than 100 ms for, with where the time went, and
    the worker's time for each worker's first list page after a write (any worker's).

    A sync worker serves one request at a time: the client's wait beyond the worker's time was
    spent before a worker took the request (every worker busy). A page is a worker's first after
    a write when a write's response was logged between that worker's previous page and it."""
    slow, first_pages = [], []
    writes_logged, writes_seen = 0, {}
    for pid, name, method, worker_ms, cpu_ms, collector_ms in requests:
        if method == "PATCH":
            writes_logged += 1
            continue
        if name not in latencies:  # the writer's read of the trial it edits
            continue
        after_write = writes_logged > writes_seen.get(pid, writes_logged)
        writes_seen[pid] = writes_logged
        if after_write:
            first_pages.append(
                {"worker_ms": worker_ms, "cpu_ms": cpu_ms, "collector_ms": collector_ms}
            )
        client_ms = latencies[name] * 1000
        if client_ms > SLOW_FIRST_READ_MS:
            slow.append(
                {
                    "request": name,
                    "client_ms": round(client_ms, 1),
                    "worker_ms": round(worker_ms, 1),
                    "waited_ms": round(client_ms - worker_ms, 1),
                    "cpu_ms": cpu_ms,
                    "collector_ms": collector_ms,
                    "worker": pid,
                    "worker_first_page_after_write": after_write,
                }
            )
    return slow, first_pages


def measure(server, port, duration, rate, access_log, writer=None, reads=True) -> dict:
    log_offset = access_log.stat().st_size
    cpu_before = worker_cpu_seconds(server.pid)
    if writer:
        writer.start()
    if reads:
        read_latencies = read_for(port, duration, rate)
    else:
        read_latencies = {}
        time.sleep(duration)
    if writer:
        writer.stopping.set()
        writer.join()
    cpu = worker_cpu_seconds(server.pid) - cpu_before
    latencies = list(read_latencies.values())
    page_latencies = read_latencies | (writer.probe_latencies if writer else {})
    slow_pages, first_pages = attributed(logged_requests(access_log, log_offset), page_latencies)
    figures = {
        "reads": len(latencies),
        "read_throughput": len(latencies) / duration,
        "read_median_ms": statistics.median(latencies) * 1000 if latencies else None,
        "read_slowest_ms": max(latencies) * 1000 if latencies else None,
        "reads_over_100_ms": sum(latency * 1000 > SLOW_FIRST_READ_MS for latency in latencies),
        "cpu_seconds": cpu,
        "cpu_per_second": cpu / duration,
        "pages_over_100_ms": slow_pages,
    }
    if writer:
        figures |= {
            "writes": writer.writes,
            "write_errors": writer.errors,
            "first_read_after_write_ms": [value * 1000 for value in writer.first_reads],
            "writer_pages": writer.pages,
            "worker_first_pages_after_write": first_pages,
        }
    return figures


def spread(values) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run(options, database: str, url: str, folder: Path) -> dict:
    token = curator_token(url)
    port = free_port()
    access_log = folder / f"{database}-access.log"
    access_log.touch()
    server = start_nkkb(url, port, options.workers, "nkkb.settings", access_log)
    try:
        wait_for(port, READ_PATH, server)
        nct_ids = curated_trials(url)
        for _ in range(4 * options.workers):  # every worker reads its facet index once
            read_for(port, 0.5)
        rounds = []
        for number in range(options.rounds):
            first = number % len(ROUND_KINDS)
            kinds = ROUND_KINDS[first:] + ROUND_KINDS[:first]
            round_ = {}
            for kind in kinds:
                writer = None
                if kind != "reads":
                    writer = Writer(port, token, nct_ids, options.interval, options.workers)
                round_[kind] = measure(
                    server,
                    port,
                    options.duration,
                    options.read_rate,
                    access_log,
                    writer,
                    kind != "writes",
                )
            rounds.append(round_)
            print(f"{database}: round {number + 1} of {options.rounds} done", file=sys.stderr)
    finally:
        stop(server)
    return {"rounds": rounds, "summary": summarise(rounds)}


def summarise(rounds: list[dict]) -> dict:
    reads = [round_["reads"] for round_ in rounds]
    mixed = [round_["reads + writes"] for round_ in rounds]
    cpu_per_read = statistics.median(figures["cpu_seconds"] / figures["reads"] for figures in reads)
    per_write = [
        (figures["cpu_seconds"] - (figures["reads"] + figures["writer_pages"]) * cpu_per_read)
        / max(figures["writes"], 1)
        for figures in mixed
    ]
    alone = [
        figures["cpu_seconds"] / max(figures["writes"], 1)
        for figures in (round_["writes"] for round_ in rounds)
    ]
    first_reads = [value for figures in mixed for value in figures["first_read_after_write_ms"]]
    worker_first_pages = sorted(
        (
            page
            for round_ in rounds
            for figures in (round_["reads + writes"], round_["writes"])
            for page in figures["worker_first_pages_after_write"]
        ),
        key=lambda page: page["worker_ms"],
    )
    # (round, write of the round, ms) of each first page past the 100 ms.
    slow = [
        (number, write, round(value, 1))
        for number, figures in enumerate(mixed, start=1)
        for write, value in enumerate(figures["first_read_after_write_ms"], start=1)
        if value > SLOW_FIRST_READ_MS
    ]
    return {
        kind: {
            "read_throughput": spread([figures["read_throughput"] for figures in group]),
            "read_median_ms": spread([figures["read_median_ms"] for figures in group]),
            "read_slowest_ms": spread([figures["read_slowest_ms"] for figures in group]),
            "reads_over_100_ms": sum(figures["reads_over_100_ms"] for figures in group),
            "cpu_per_second": spread([figures["cpu_per_second"] for figures in group]),
        }
        for kind, group in (("reads", reads), ("reads + writes", mixed))
    } | {
        "pages_over_100_ms": [
            {"round": number, "kind": kind} | page
            for number, round_ in enumerate(rounds, start=1)
            for kind, figures in round_.items()
            for page in figures["pages_over_100_ms"]
        ],
        "worker_first_page_after_write_ms": spread(
            [page["worker_ms"] for page in worker_first_pages]
        ),
        "worker_first_pages": len(worker_first_pages),
        "worker_first_pages_over_100_ms": sum(
            page["worker_ms"] > SLOW_FIRST_READ_MS for page in worker_first_pages
        ),
        "worker_first_pages_slowest": worker_first_pages[-5:],
        "cpu_ms_per_write": spread([value * 1000 for value in per_write]),
        "cpu_ms_per_write_alone": spread([value * 1000 for value in alone]),
        "first_read_after_write_ms": spread(first_reads),
        "first_reads": len(first_reads),
        "first_reads_over_100_ms": slow,
        "writes": sum(figures["writes"] for figures in mixed),
        "write_errors": sum(figures["write_errors"] for figures in mixed),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path, help="a SQLite database file (a copy is written)")
    parser.add_argument("--postgres", help="a PostgreSQL URL (written to, titles put back)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=20, help="seconds per kind of round")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between writes")
    parser.add_argument(
        "--read-rate",
        type=float,
        default=100,
        help="list pages read a second (0: one after another, as fast as the servers answer)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args()
    report = {"cpus": os.cpu_count(), "load_before": os.getloadavg(), "databases": {}}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if options.sqlite:
            copy = folder / options.sqlite.name
            shutil.copyfile(options.sqlite, copy)
            report["databases"]["SQLite"] = run(options, "SQLite", f"sqlite:///{copy}", folder)
        if options.postgres:
            report["databases"]["PostgreSQL"] = run(options, "PostgreSQL", options.postgres, folder)
    report["load_after"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    if options.json:
        options.json.write_text(text)
    summaries = {name: figures["summary"] for name, figures in report["databases"].items()}
    print(json.dumps(summaries, indent=2))


if __name__ == "__main__":
    main()
