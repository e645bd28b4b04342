"""Abuse: what an outsider's hostile or careless requests do (issue 15), each a test that failed
before its fix. Where the fault is about servers (one request starving the others, concurrent
writers, rate limits across workers) the requests go to gunicorn, started here on a free port
with two workers on a database of its own: an SQLite file, or a new database on the PostgreSQL
server when DATABASE_URL names one. The rest go through the test client.
"""

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from nkkb.core import throttling
from nkkb.core.limits import MAX_SEARCH_WORDS, NUL_MESSAGE
from nkkb.core.models import RateLimitHits
from trials.models import Condition, Trial
from trials.services.validation import kb_validate

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
V1 = "/api/v1"
HOSTILE_QUERY = " ".join(["a"] * 2000)
PROVENANCE = {
    "section": "8",
    "references": [180],
    "quote": "a short verbatim fragment",
    "summary": "What the review says, in the curator's words.",
}
CREATE_CURATORS = """
import django
django.setup()
from rest_framework.authtoken.models import Token
from nkkb.core.accounts import curator_create
for name in ("alice", "bob"):
    user = curator_create(username=name, password="a long curator passphrase")
    print(Token.objects.create(user=user).key)
"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server_database(folder: Path):
    """A DATABASE_URL of a new, empty database: an SQLite file in `folder`, or a database of its
    own on the PostgreSQL server that DATABASE_URL names (dropped afterwards)."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{folder / 'nkkb.sqlite3'}"
        return
    import psycopg2

    name = f"nkkb_abuse_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(configured)
    admin = urlunsplit(parts._replace(path="/postgres", query=""))
    # CREATE DATABASE runs outside a transaction: a connection of its own, in autocommit.
    db = psycopg2.connect(admin)
    db.autocommit = True
    db.cursor().execute(f'CREATE DATABASE "{name}"')
    db.close()
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        db = psycopg2.connect(admin)
        db.autocommit = True
        db.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.close()


@contextmanager
def gunicorn(environment: dict, folder: Path, workers: int = 2):
    port = free_port()
    log = folder / f"gunicorn-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                *[GUNICORN, "nkkb.wsgi", "--config", ROOT / "gunicorn.conf.py"],
                *["--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            ],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base_url}/api/v1/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
            time.sleep(0.2)
        yield base_url, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """gunicorn (two workers) on a migrated, seeded database of its own, with two curators."""
    folder = tmp_path_factory.mktemp("abuse")
    with server_database(folder) as database_url:
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            # Every request here comes from one address; the rate limit has a test of its own.
            "API_ANON_THROTTLE_RATE": "1000000/minute",
            "PAGES_ANON_THROTTLE_RATE": "1000000/minute",
        }
        manage = [sys.executable, "manage.py"]
        run = {"cwd": ROOT, "env": environment, "check": True}
        subprocess.run([*manage, "migrate", "--no-input", "--verbosity", "0"], **run)
        subprocess.run([*manage, "load_seed"], **run, stdout=subprocess.DEVNULL)
        tokens = subprocess.run(
            [sys.executable, "-c", CREATE_CURATORS], **run, capture_output=True, text=True
        ).stdout.split()
        with gunicorn(environment, folder) as (base_url, log):
            yield {
                "url": base_url,
                "log": log,
                "tokens": tokens,
                "environment": environment,
                "folder": folder,
            }


def statuses(responses) -> Counter:
    return Counter(response.status_code for response in responses)


def test_each_worker_warms_up_before_its_first_request(served):
    """gunicorn.conf.py's warm-up, in production settings that serve one host, fails nowhere:
    it logs any failure, and a worker that logged none read its facet indexes and pages."""
    assert "not warmed up" not in served["log"].read_text()


def test_two_hostile_searches_leave_the_site_serving_others(served):
    """~2,000 words once kept a worker busy for 30 s each; two took the site offline."""
    base = served["url"]
    hostile = [f"{base}/trials/", f"{base}/api/v1/trials/"]
    with ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        attacks = [
            pool.submit(httpx.get, url, params={"q": HOSTILE_QUERY}, timeout=60) for url in hostile
        ]
        time.sleep(0.05)
        normal_started = time.monotonic()
        normal = httpx.get(f"{base}/api/v1/trials/?q=leukemia&page_size=5", timeout=60)
        normal_latency = time.monotonic() - normal_started
        answers = [attack.result() for attack in attacks]
        hostile_latency = time.monotonic() - started

    assert normal.status_code == 200 and normal_latency < 2, normal_latency
    assert [answer.status_code for answer in answers] == [400, 400]
    assert hostile_latency < 2
    assert "The query may be at most" in answers[1].json()["detail"]
    assert "The query may be at most" in answers[0].text


def test_two_curators_patching_one_trial_get_200_and_409_never_500(served):
    base, tokens = served["url"], served["tokens"]
    url = f"{base}{V1}/trials/NCT02138734/"
    outcomes = Counter()
    with ThreadPoolExecutor(2) as pool:
        for round_ in range(30):
            version = httpx.get(url, timeout=30).json()["version"]
            barrier = threading.Barrier(2)

            def patch(token, title, barrier=barrier, version=version):
                barrier.wait()
                return httpx.patch(
                    url,
                    json={"title": title, "version": version},
                    headers={"Authorization": f"Token {token}"},
                    timeout=30,
                )

            answers = list(
                pool.map(patch, tokens, [f"Round {round_} by {who}" for who in ("a", "b")])
            )
            outcomes[tuple(sorted(statuses(answers).elements()))] += 1
    assert set(outcomes) <= {(200, 409), (200, 200)}, outcomes
    # Both may win only if the second read the first's version after it was saved: never here,
    # as both sent the version read before either wrote.
    assert outcomes[(200, 409)] == 30, outcomes


def test_eight_parallel_creators_lose_no_write_to_a_server_error(served):
    base, token = served["url"], served["tokens"][0]
    headers = {"Authorization": f"Token {token}"}

    def create(number):
        body = {
            "nct_id": f"NCT09{number:06d}",
            "title": f"Parallel trial {number}",
            "phase": "2",
            "status": "RECRUITING",
            "conditions": ["mycosis-fungoides"],
            "agents": [{"agent": "n-803", "role": "investigational"}],
            "provenance": PROVENANCE,
        }
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            return client.post(f"{V1}/trials/", json=body)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(300)))
    assert statuses(answers) == Counter({201: 300}), [
        a.text for a in answers if a.status_code != 201
    ][:3]


def test_an_unread_parameter_does_not_bypass_the_cache(served):
    """`?cb=<random>` made every request miss the cache: throughput fell from 151 to 18/s."""
    base = served["url"]
    plain = httpx.get(f"{base}/trials/?phase=2", timeout=30)
    busted = httpx.get(f"{base}/trials/?phase=2&cb={uuid.uuid4().hex}", timeout=30)
    assert plain.status_code == busted.status_code == 200
    assert busted.headers["ETag"] == plain.headers["ETag"]  # the same cache entry
    assert "cb=" not in busted.text  # the page does not echo what it did not read

    api = httpx.get(f"{base}{V1}/trials/?phase=2&cb={uuid.uuid4().hex}", timeout=30)
    assert api.status_code == 400
    assert "Unknown parameter" in api.json()["cb"][0]


def test_hostile_bodies_and_non_endpoints_get_json_errors(served):
    base, token = served["url"], served["tokens"][0]
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    nested = httpx.post(f"{base}{V1}/trials/", content="[" * 100_000, headers=headers, timeout=30)
    assert nested.status_code == 400 and "nest" in nested.json()["detail"]

    too_large = httpx.post(
        f"{base}{V1}/trials/", content=b" " * (2 * 1024 * 1024), headers=headers, timeout=30
    )
    assert too_large.status_code == 413 and too_large.json()["detail"]

    nul = httpx.post(
        f"{base}{V1}/conditions/",
        json={"name": "Bad\u0000name", "slug": "bad-name"},
        headers=headers,
        timeout=30,
    )
    assert nul.status_code == 400 and "Null characters" in nul.json()["detail"]

    csrf = httpx.post(f"{base}/api/v1/nowhere/", timeout=30)
    assert csrf.status_code == 403 and "CSRF" in csrf.json()["detail"]
    assert httpx.get(f"{base}/api/nowhere", timeout=30, follow_redirects=True).json()["detail"]


def test_the_page_rate_limit_holds_across_workers(served):
    """Counted per worker, two workers would allow twice the rate."""
    environment = {**served["environment"], "PAGES_ANON_THROTTLE_RATE": "20/minute"}
    with gunicorn(environment, served["folder"]) as (base_url, _):
        with httpx.Client(base_url=base_url, timeout=30) as client:
            # The requests take a second or two: within one minute, so one count holds them all.
            if 60 - time.time() % 60 < 10:
                time.sleep(60 - time.time() % 60)
            answers = [client.get("/landscape/") for _ in range(30)]
    counts = statuses(answers)
    assert set(counts) == {200, 429} and counts[200] <= 20, counts
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert int(refused.headers["Retry-After"]) > 0 and "Too many requests" in refused.text


def test_each_request_is_logged_as_a_json_line_with_its_request_id(served):
    with httpx.Client(base_url=served["url"], timeout=30) as client:
        answer = client.get("/trials/", headers={"X-Request-ID": "abuse-test-42"})
    assert answer.headers["X-Request-ID"] == "abuse-test-42"
    lines = [
        json.loads(line) for line in served["log"].read_text().splitlines() if line.startswith("{")
    ]
    assert any(
        line.get("request_id") == "abuse-test-42" and line["status"] == 200 for line in lines
    )


def test_no_answer_names_the_server_software(served):
    """gunicorn sent `Server: gunicorn` with every answer, pages, API, static files and errors."""
    with httpx.Client(base_url=served["url"], timeout=30) as client:
        answers = [
            client.get(path)
            for path in ("/trials/", f"{V1}/trials/?page_size=1", "/static/nkkb.css", "/nowhere/")
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 404]
    for answer in answers:
        assert answer.headers.get("Server") == "nkkb", answer.url


# In-process: each through the test client against the seeded test database.


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        (f"{V1}/trials/?page_size=-1", "page_size"),
        (f"{V1}/trials/?page_size=ten", "page_size"),
        (f"{V1}/agents/?acts_through_cd16=maybe", "acts_through_cd16"),
        (f"{V1}/trials/?fields=", "fields"),
        (f"{V1}/trials/?omit=", "omit"),
        (f"{V1}/trials/?phase=2&" + "&".join(["phase=2"] * 60), "phase"),
        (f"{V1}/trials/?title=" + "x" * 300, "title"),
        (f"{V1}/trials/?q=a%00b", "q"),
        (f"{V1}/agents/?search=" + "+".join(["cd16"] * 12), "search"),
        (f"{V1}/agents/?search=" + "+".join(["cd16"] * 800), "detail"),
        (f"{V1}/trials/NCT02138734/?cb=1", "cb"),
    ],
)
def test_unknown_or_invalid_parameters_are_a_400_that_names_them(client, url, parameter):
    response = client.get(url)
    assert response.status_code == 400, response.content
    assert parameter in response.json()


@pytest.mark.django_db
def test_the_pages_refuse_the_same_with_a_page_that_says_why(client):
    words = " ".join(["nk"] * (MAX_SEARCH_WORDS + 1))
    page = client.get("/trials/", {"q": words})
    assert page.status_code == 400 and f"At most {MAX_SEARCH_WORDS} words" in page.content.decode()
    api = client.get(f"{V1}/trials/", {"q": words})
    assert f"At most {MAX_SEARCH_WORDS} words" in api.json()["q"][0]
    agents = client.get("/agents/", {"acts_through_cd16": "maybe"})
    assert "maybe is not one of the available choices" in agents.content.decode()


@pytest.mark.django_db
def test_a_quote_alone_finds_no_trial(client):
    """`q="` matched the 29 trials whose agents have aliases (stored as JSON text)."""
    assert client.get(f"{V1}/trials/", {"q": '"'}).json()["count"] == 0
    assert client.get(f"{V1}/trials/", {"q": "leukemia"}).json()["count"] > 0


@pytest.mark.django_db
def test_search_costs_one_query_per_distinct_word(client):
    def queries(words: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{V1}/trials/", {"q": words, "fields": "nct_id"}).status_code == 200
        return len(captured)

    # Words that every trial matches (its NCT number starts with each), so none ends it early.
    queries("nc")  # the names searched are read once per data version
    one, three = queries("nct"), queries("nct nct0 nc")
    assert three - one == 2
    # A word that names agents finds their trials in the facet index, read once per data version.
    queries("nct monalizumab")
    assert queries("nct durvalumab") - one == 1
    # One that also names conditions (`n`: non-Hodgkin lymphoma, ...) costs a second query
    # (once the facets of the products and targets it names are read).
    queries("n nct")
    assert queries("nct n") - one == 2
    assert queries("nct NCT nct nct") == one


def slow_statement(execute, sql, params, many, context):
    if connection.vendor == "postgresql":
        # On a cursor of its own: the statement may be a server-side cursor's (iterator()).
        database = context["connection"]
        with database.wrap_database_errors, database.connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 50")
            try:
                cursor.execute("SELECT pg_sleep(2)")
            finally:
                cursor.execute("RESET statement_timeout")
    else:
        execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
            "SELECT count(*) FROM (SELECT i FROM n LIMIT 100000000)",
            (),
            False,
            context,
        )
    return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)
def test_a_query_past_the_request_budget_is_stopped_with_a_503(client, settings):
    settings.REQUEST_TIME_LIMIT = 0.2
    started = time.monotonic()
    with connection.execute_wrapper(slow_statement):
        response = client.get(f"{V1}/conditions/")
    assert time.monotonic() - started < 3
    assert response.status_code == 503 and "seconds of database time" in response.json()["detail"]
    assert response["Retry-After"]


@pytest.mark.django_db
def test_a_database_without_tables_answers_503(client):
    def no_such_table(execute, sql, params, many, context):
        raise OperationalError("no such table: trials_trial")

    with connection.execute_wrapper(no_such_table):
        page, api = client.get("/trials/"), client.get(f"{V1}/trials/")
    assert page.status_code == api.status_code == 503
    assert "not set up" in api.json()["detail"]


@pytest.mark.django_db
def test_a_server_error_under_the_api_is_json_and_logged_with_a_traceback(client, caplog):
    def broken(execute, sql, params, many, context):
        raise ZeroDivisionError("planted")

    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, "django.request"), connection.execute_wrapper(broken):
        api = client.get(f"{V1}/trials/", HTTP_X_REQUEST_ID="r-500")
        page = client.get("/trials/")
    assert api.status_code == 500 and "r-500" in api.json()["detail"]
    assert page.status_code == 500 and "logged with reference" in page.content.decode()
    assert any(
        record.exc_info and record.exc_info[0] is ZeroDivisionError for record in caplog.records
    )


@pytest.mark.django_db
def test_conditions_are_locked_optimistically_and_deletes_send_their_version(admin_client):
    condition = Condition.objects.create(name="Abuse test condition", slug="abuse-test")
    url = f"{V1}/conditions/abuse-test/"
    read = admin_client.get(url).json()["version"]
    first = admin_client.patch(
        url, {"name": "Edited once", "version": read}, content_type="application/json"
    )
    second = admin_client.patch(
        url, {"name": "Edited twice", "version": read}, content_type="application/json"
    )
    assert (first.status_code, second.status_code) == (200, 409)

    assert admin_client.delete(url).status_code == 400
    assert admin_client.delete(f"{url}?version={read}").status_code == 409
    current = Condition.objects.get(pk=condition.pk).version
    assert admin_client.delete(f"{url}?version={current}").status_code == 204
    trial = Trial.objects.get(nct_id="NCT02138734")
    stale = admin_client.delete(f"{V1}/trials/NCT02138734/?version={trial.version + 1}")
    assert stale.status_code == 409 and Trial.objects.filter(pk=trial.pk).exists()


@pytest.mark.django_db
def test_admin_login_is_locked_after_repeated_failures(client, django_user_model):
    django_user_model.objects.create_user("curator", password="the right passphrase", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "curator", "password": "wrong"})
    locked = client.post(
        "/admin/login/", {"username": "curator", "password": "the right passphrase"}
    )
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.skipif(
    connection.vendor == "postgresql", reason="PostgreSQL itself refuses NUL in text"
)
def test_validate_kb_reports_nul_characters():
    Trial.objects.filter(nct_id="NCT02138734").update(title="Bad\x00title")
    assert ("Trial", "NCT02138734", "title", NUL_MESSAGE) in [
        (p.model, p.key, p.field, p.message) for p in kb_validate()
    ]


@pytest.mark.django_db
def test_the_rate_limit_forgets_periods_long_gone(monkeypatch):
    """Now and then a hit also deletes the counts of periods before the last: the table holds
    the clients of the last two periods, not every client ever seen."""
    RateLimitHits.objects.create(client="anon:old", period=1, hits=5)
    monkeypatch.setattr(throttling, "CLEANUP_ONE_IN", 1)
    hits = throttling.count_hit(throttling.Hit.now("anon:now", 60))
    clients = set(RateLimitHits.objects.values_list("client", flat=True))
    assert hits == 1 and "anon:now" in clients and "anon:old" not in clients
