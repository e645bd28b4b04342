"""Load test: many concurrent clients against gunicorn serving the seed, on loopback only.

It migrates and seeds a fresh SQLite file in a temporary folder, starts gunicorn on a free
loopback port with production settings (DEBUG off), lets `--clients` clients request a mix of
pages, API calls and CSV exports for `--duration` seconds, prints requests served, errors and
latency percentiles, stops gunicorn and removes the folder. It exits with status 1 if any
request failed: a status other than 2xx/3xx, a timeout or a refused connection.

    .venv/bin/python bench/load_test.py                  # 200 clients for 30 seconds
    .venv/bin/python bench/load_test.py --clients 50 --duration 10 --json results.json
    .venv/bin/python bench/load_test.py --cache-busting  # a random unread parameter per request
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"

# What visitors and scripts ask for, and how often (weights): filtered lists dominate, as
# researchers narrow the trials down, then open some of them.
TRIAL_FILTERS = [
    "",
    "therapy_class=engager&target=cd33",
    "therapy_class=cytokine&therapy_class=nk-cell-product",
    "phase=1-2&phase=2&status=RECRUITING",
    "agent=n-803",
    "cd16_status=high-affinity&ordering=-enrollment",
    "q=leukemia",
    "condition=acute-myeloid-leukemia&page_size=100",
]


def request_mix(nct_ids: list[str], agent_slugs: list[str]) -> list[tuple[str, int, object]]:
    """(kind, weight, a function that returns the next URL of that kind)."""
    return [
        ("home", 10, lambda: "/"),
        ("trial list", 20, lambda: f"/trials/?{random.choice(TRIAL_FILTERS)}"),
        ("trial page", 20, lambda: f"/trials/{random.choice(nct_ids)}/"),
        ("API list", 20, lambda: f"/api/v1/trials/?{random.choice(TRIAL_FILTERS)}"),
        ("API trial", 10, lambda: f"/api/v1/trials/{random.choice(nct_ids)}/"),
        ("API agent", 5, lambda: f"/api/v1/agents/{random.choice(agent_slugs)}/"),
        ("CSV", 10, lambda: f"/api/v1/trials/?format=csv&{random.choice(TRIAL_FILTERS)}"),
        ("landscape", 5, lambda: "/landscape/"),
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn_serving_the_seed(workers: int, rate_limited: bool = True):
    """gunicorn on a fresh, seeded SQLite file; yields its base URL and its log file."""
    folder = Path(tempfile.mkdtemp(prefix="nkkb-load-"))
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'nkkb.sqlite3'}",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        # The load comes from one address; the anonymous rate limit would answer it 429. Counted
        # all the same (a write per request), unless --no-rate-limit turns the limits off.
        "API_ANON_THROTTLE_RATE": "1000000/second" if rate_limited else "",
        "PAGES_ANON_THROTTLE_RATE": "1000000/second" if rate_limited else "",
    }
    log = folder / "gunicorn.log"
    server = None
    try:
        for command in (["migrate", "--no-input", "--verbosity", "0"], ["load_seed"]):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=environment, check=True)
        with log.open("w") as log_file:
            server = subprocess.Popen(
                [
                    GUNICORN,
                    "nkkb.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(workers),
                    "--access-logfile",
                    str(folder / "access.log"),
                ],
                cwd=ROOT,
                env=environment,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        base_url = f"http://127.0.0.1:{port}"
        wait_until_serving(base_url, server)
        yield base_url, log
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def wait_until_serving(base_url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            if httpx.get(f"{base_url}/", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout} seconds")


def seed_keys(base_url: str) -> tuple[list[str], list[str]]:
    """The seed's NCT numbers and agent slugs, read from the API before the load starts."""

    def slugs(endpoint, key):
        response = httpx.get(f"{base_url}/api/v1/{endpoint}/?page_size=100", timeout=30)
        response.raise_for_status()
        return [record[key] for record in response.json()["results"]]

    return slugs("trials", "nct_id"), slugs("agents", "slug")


def busting(url: str) -> str:
    """`url` with a parameter no view reads and a random value, as a cache-busting client sends
    (the pages ignore it; the API refuses it with a 400, which counts as an error here)."""
    return f"{url}{'&' if '?' in url else '?'}cb={secrets.token_hex(8)}"


async def client(http, mix, deadline, results, errors, refused, cache_busting=False):
    kinds, weights, urls = zip(*mix, strict=True)
    while time.monotonic() < deadline:
        index = random.choices(range(len(kinds)), weights)[0]
        url = urls[index]()
        if cache_busting:
            url = busting(url)
        started = time.monotonic()
        try:
            response = await http.get(url)
            failure = None if response.status_code < 400 else f"HTTP {response.status_code}"
            if cache_busting and response.status_code == 400 and url.startswith("/api/"):
                failure = None  # the API's answer to a parameter it does not read
                refused[kinds[index]] += 1
        except httpx.HTTPError as error:
            failure = type(error).__name__
        results[kinds[index]].append(time.monotonic() - started)
        if failure:
            errors[(kinds[index], failure)] += 1


async def run_load(
    base_url, mix, *, clients: int, duration: float, timeout: float, cache_busting: bool = False
):
    results, errors, refused = defaultdict(list), Counter(), Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as http:
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(
            *(
                client(http, mix, deadline, results, errors, refused, cache_busting)
                for _ in range(clients)
            )
        )
        elapsed = time.monotonic() - started
    return results, errors, refused, elapsed


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        **{
            f"p{round(fraction * 100)}_ms": round(percentile(ordered, fraction) * 1000, 1)
            for fraction in (0.5, 0.95, 0.99)
        },
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def report(results, errors, refused, elapsed, arguments) -> dict:
    everything = [latency for latencies in results.values() for latency in latencies]
    return {
        "clients": arguments.clients,
        "cache_busting": arguments.cache_busting,
        "rate_limited": not arguments.no_rate_limit,
        "duration_s": round(elapsed, 1),
        "workers": arguments.workers,
        # The load generator shares the machine with gunicorn: what it took is not served.
        "load_generator_cpu_s": round(time.process_time(), 1),
        "machine": {"cpus": os.cpu_count(), "memory_gib": memory_gib()},
        "total": {
            **summary(everything),
            "errors": sum(errors.values()),
            "requests_per_s": round(len(everything) / elapsed, 1),
        },
        "by_kind": {kind: summary(latencies) for kind, latencies in sorted(results.items())},
        "errors": {f"{kind}: {failure}": count for (kind, failure), count in errors.items()},
        # API requests refused (400) for their unread parameter, in --cache-busting mode.
        "refused_400": dict(refused),
    }


def memory_gib() -> float | None:
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None
    return round(pages * page_size / 2**30, 1)


def print_report(figures: dict) -> None:
    total = figures["total"]
    print(
        f"{figures['clients']} clients for {figures['duration_s']} s against gunicorn with "
        f"{figures['workers']} workers ({figures['machine']['cpus']} CPUs, "
        f"{figures['machine']['memory_gib']} GiB)"
        + (", a random unread parameter on every request" if figures["cache_busting"] else "")
    )
    print(
        f"requests {total['requests']}, errors {total['errors']}, "
        f"{total['requests_per_s']} requests/s"
    )
    print(f"{'':12} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind, row in [("all", total), *figures["by_kind"].items()]:
        print(
            f"{kind:12} {row['requests']:>9} {row['p50_ms']:>8} {row['p95_ms']:>8} "
            f"{row['p99_ms']:>8} {row['max_ms']:>8}"
        )
    for error, count in figures["errors"].items():
        print(f"error: {error} x {count}")
    for kind, count in figures["refused_400"].items():
        print(f"refused (400, unread parameter): {kind} x {count}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=30, help="seconds of load")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn worker processes (default: 2 x CPUs + 1, gunicorn's advice)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30, help="seconds a client waits for an answer"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the request mix")
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="turn the anonymous rate limits off"
    )
    parser.add_argument(
        "--cache-busting",
        action="store_true",
        help="add a random unread parameter to every page request (API requests: see busting())",
    )
    arguments = parser.parse_args()
    random.seed(arguments.seed)

    with gunicorn_serving_the_seed(arguments.workers, not arguments.no_rate_limit) as (
        base_url,
        log,
    ):
        mix = request_mix(*seed_keys(base_url))
        results, errors, refused, elapsed = asyncio.run(
            run_load(
                base_url,
                mix,
                clients=arguments.clients,
                duration=arguments.duration,
                timeout=arguments.timeout,
                cache_busting=arguments.cache_busting,
            )
        )
        figures = report(results, errors, refused, elapsed, arguments)
        print_report(figures)
        if errors:
            print(f"--- end of {log.name} ---\n{log.read_text()[-3000:]}")
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if figures["total"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
