"""HTTP caching: ETag/Last-Modified from the data version, 304s, and the response cache."""

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from nkkb.core import caching
from nkkb.core.accounts import curator_create
from nkkb.core.caching import KeptPerDataVersion, data_version, data_version_per_request
from nkkb.core.stored_facets import MendStoredFacetsMiddleware
from nkkb.core.throttling import Hit
from trials.models import Condition, Result, Trial

from .conftest import dotted_path, forget_responses

pytestmark = pytest.mark.django_db

NCT = "NCT02138734"
URLS = [
    "/",
    "/trials/?therapy_class=cytokine",
    f"/trials/{NCT}/",
    "/agents/n-803/",
    "/landscape/",
    "/api/v1/trials/?therapy_class=cytokine",
    f"/api/v1/trials/{NCT}/",
    "/api/v1/trials/?format=csv",
]


@pytest.fixture
def api():
    return APIClient()


def test_the_cache_answers_after_every_other_middleware_has_run(settings):
    """Innermost, so that an answer from the cache passes through the other middleware too;
    only the stored facets' mend after a write, which reads the request's data version, runs
    within it."""
    assert settings.MIDDLEWARE[-2:] == [
        dotted_path(caching.DataVersionCacheMiddleware),
        dotted_path(MendStoredFacetsMiddleware),
    ]


def curator_token_client() -> APIClient:
    curator = curator_create(username="carol", password="lantern-orbit-velvet-42")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=curator).key}")
    return client


@pytest.mark.parametrize("url", URLS)
def test_a_repeat_request_answers_304(client, url):
    first = client.get(url)
    assert first.status_code == 200
    assert first["ETag"].startswith('"') and first["Last-Modified"]
    assert "no-cache" in first["Cache-Control"]

    by_etag = client.get(url, headers={"If-None-Match": first["ETag"]})
    by_date = client.get(url, headers={"If-Modified-Since": first["Last-Modified"]})

    for repeat in (by_etag, by_date):
        assert repeat.status_code == 304
        assert repeat.content == b""
        assert repeat["ETag"] == first["ETag"]


def test_the_etag_depends_on_the_url_and_the_format(api):
    etags = {
        api.get(url, headers=headers)["ETag"]
        for url, headers in [
            ("/api/v1/trials/", {}),
            ("/api/v1/trials/?phase=2", {}),
            ("/api/v1/trials/", {"Accept": "text/csv"}),
        ]
    }
    assert len(etags) == 3


def test_a_write_through_the_api_retires_the_etag_and_the_cached_body(api):
    detail, listing = f"/api/v1/trials/{NCT}/", f"/api/v1/trials/?q={NCT}"
    old_detail, old_list = api.get(detail), api.get(listing)
    assert api.get(listing).json() == old_list.json()  # now served from the cache

    edit = {"title": "BCG plus N-803, edited", "version": old_detail.json()["version"]}
    response = curator_token_client().patch(detail, edit)
    assert response.status_code == 200

    new_detail = api.get(detail, headers={"If-None-Match": old_detail["ETag"]})
    assert new_detail.status_code == 200
    assert new_detail.json()["title"] == "BCG plus N-803, edited"
    assert new_detail["ETag"] != old_detail["ETag"]
    assert api.get(listing).json()["results"][0]["title"] == "BCG plus N-803, edited"


def test_a_delete_in_admin_retires_the_etag(api):
    url = f"/api/v1/trials/{NCT}/"
    before = api.get(url)
    result = Result.objects.filter(trial__nct_id=NCT).first()

    curator = Client()  # another browser: the reader stays anonymous
    curator.force_login(curator_create(username="carol", password="lantern-orbit-velvet-42"))
    admin_delete = f"/admin/trials/result/{result.pk}/delete/"
    assert curator.post(admin_delete, {"post": "yes"}).status_code == 302

    after = api.get(url, headers={"If-None-Match": before["ETag"]})
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert len(after.json()["results"]) == len(before.json()["results"]) - 1


def change_title():
    trial = Trial.objects.get(nct_id=NCT)
    trial.title = "edited"
    trial.save()


def link_condition():
    Trial.objects.get(nct_id=NCT).conditions.add(Condition.objects.exclude(trials__nct_id=NCT)[0])


def delete_result():
    Result.objects.filter(trial__nct_id=NCT).first().delete()


def bulk_insert_trial():
    # Bulk inserts, as the synthetic generator makes them, write no history.
    template = Trial.objects.get(nct_id=NCT)
    template.pk, template.nct_id = None, "NCT99999999"
    Trial.objects.bulk_create([template])


@pytest.mark.parametrize("write", [change_title, link_condition, delete_result, bulk_insert_trial])
def test_every_kind_of_write_changes_the_data_version(write):
    before, _ = data_version()
    write()
    assert data_version()[0] != before


def test_reads_leave_the_data_version_alone(client):
    before = data_version()
    client.get("/trials/")
    client.get("/api/v1/trials/")
    assert data_version() == before


def test_a_version_names_a_state_even_when_a_rolled_back_write_reused_its_ids():
    before, _ = data_version()
    with transaction.atomic():
        change_title()
        rolled_back, _ = data_version()
        transaction.set_rollback(True)
    assert data_version()[0] == before  # the same data as before, so the same version

    change_title()  # SQLite gives this write the ids the rolled-back one had
    assert data_version()[0] not in (before, rolled_back)


def test_a_value_read_within_a_rolled_back_write_is_not_kept_for_the_write_after():
    """A value kept until one of its models is written: a request that wrote and read it, then
    rolled back, leaves nothing that the next write (given the same ids on SQLite) would keep."""
    kept = KeptPerDataVersion()
    pk = Condition.objects.order_by("pk")[0].pk

    def rename(name):
        condition = Condition.objects.get(pk=pk)
        condition.name = name
        condition.save()

    def current_name():
        return Condition.objects.get(pk=pk).name

    with data_version_per_request(), transaction.atomic():
        rename("Rolled back")
        assert kept.get("name", current_name, models=(Condition,)) == "Rolled back"
        transaction.set_rollback(True)
    rename("Committed")
    with data_version_per_request():
        assert kept.get("name", current_name, models=(Condition,)) == "Committed"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's function")
def test_the_data_state_function_reads_what_its_statement_reads():
    def both():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {caching.DATA_STATE_FUNCTION}()")
            through_function = sorted(cursor.fetchall())
            cursor.execute(caching.newest_rows_statement(connection))
            return through_function, sorted(cursor.fetchall())

    through_function, through_statement = both()
    assert through_function == through_statement
    change_title()
    after_write, _ = both()
    assert after_write == both()[1] != through_function


def test_the_data_state_read_with_a_rate_limit_count_is_the_data_state():
    hit = Hit("anon:192.0.2.1", period=1, remaining=60.0)
    state, hits = caching.read_data_state_counting(hit)
    assert state == caching.read_data_state() and hits == 1
    change_title()
    after_write, hits = caching.read_data_state_counting(hit)
    assert after_write == caching.read_data_state() != state and hits == 2
    assert caching.read_data_state_counting(Hit("anon:192.0.2.2", 1, 60.0))[1] == 1
    assert caching.read_data_state_counting(Hit("anon:192.0.2.1", 2, 60.0))[1] == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's function")
def test_migrate_creates_the_data_state_function_again():
    before = caching.read_data_state()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION {caching.DATA_STATE_FUNCTION}()")
        cursor.execute(f"DROP FUNCTION {caching.DATA_STATE_COUNTING_FUNCTION}(text, bigint)")
    call_command("migrate", verbosity=0)
    assert caching.read_data_state() == before
    assert caching.read_data_state_counting(Hit("anon:192.0.2.1", 1, 60.0)) == (before, 1)


def test_a_cached_answer_reads_only_the_data_version_and_the_rate_limit(
    api, django_assert_num_queries
):
    for page_size in (10, 100):
        url = f"/api/v1/trials/?page_size={page_size}"
        first = api.get(url)
        # The data version, the rate limit's count: one statement on PostgreSQL.
        with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
            again = api.get(url)
        assert again.status_code == 200
        assert again.content == first.content
        assert again["Content-Type"] == first["Content-Type"]


def test_a_response_one_process_rendered_answers_in_another_process(client, settings):
    """The workers of a machine share the cached responses: after a write, the first to render
    a page serves the others, which would each have rendered it again."""
    page = client.get("/trials/?therapy_class=cytokine")
    assert page.status_code == 200
    another_process = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, django; django.setup()\n"
            "from nkkb.core.caching import _cached_answer\n"
            "answer = _cached_answer(sys.argv[1])\n"
            "sys.stdout.buffer.write(answer.content if answer is not None else b'missed')",
            page["ETag"],
        ],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "nkkb.settings"),
            "RESPONSE_CACHE_DIR": settings.CACHES[caching.SHARED_RESPONSE_CACHE]["LOCATION"],
        },
        cwd=settings.BASE_DIR,
        capture_output=True,
        check=True,
    )
    assert another_process.stdout == page.content


def claimed_by_another_worker(client, url: str) -> caching.RenderClaim:
    """The claim of `url`'s response at the current data version, taken as by a worker that
    has just started to render it (none stored yet)."""
    etag = client.get(url)["ETag"]
    forget_responses()
    claim = caching.RenderClaim(etag)
    assert claim.take()
    return claim


def test_a_worker_serves_the_page_another_worker_is_rendering(client):
    url = "/trials/?therapy_class=cytokine"
    claim = claimed_by_another_worker(client, url)

    def claimant_answers():
        time.sleep(0.05)
        caches[caching.SHARED_RESPONSE_CACHE].set(
            claim.etag, (b"the claimant's page", {"Content-Type": "text/html; charset=utf-8"})
        )
        claim.release()

    claimant = threading.Thread(target=claimant_answers)
    claimant.start()
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
    claimant.join()
    assert page.content == b"the claimant's page"
    assert len(queries) == 2  # the data version and the rate limit: no view ran


def test_a_worker_renders_the_page_itself_once_the_claimant_gives_up(client, monkeypatch):
    url = "/trials/?therapy_class=cytokine"
    claim = claimed_by_another_worker(client, url)
    polls = []

    def poll(seconds):
        polls.append(seconds)
        assert len(polls) < 10, "still waiting for a claim that was released"
        if len(polls) == 3:
            claim.release()  # its answer was not a 200, say: nothing stored

    monkeypatch.setattr(caching.time, "sleep", poll)
    monkeypatch.setattr(caching, "RENDER_WAIT_SECONDS", 3600)
    page = client.get(url)
    assert page.status_code == 200
    assert b"NCT" in page.content
    assert len(polls) == 3


def test_a_claim_older_than_the_wait_is_taken_over_and_cleared(client):
    url = "/trials/?therapy_class=cytokine"
    claim = claimed_by_another_worker(client, url)
    long_ago = time.time() - 10 * caching.RENDER_WAIT_SECONDS
    os.utime(claim.path, (long_ago, long_ago))  # its claimant died mid-render
    page = client.get(url)
    assert b"NCT" in page.content
    assert not claim.path.exists()


def test_an_unusable_shared_cache_directory_costs_renders_not_answers(client, settings, caplog):
    blocking_file = Path(settings.CACHES[caching.SHARED_RESPONSE_CACHE]["LOCATION"]) / "a-file"
    blocking_file.write_text("")
    settings.CACHES = {
        **settings.CACHES,
        caching.SHARED_RESPONSE_CACHE: {
            **settings.CACHES[caching.SHARED_RESPONSE_CACHE],
            "LOCATION": str(blocking_file / "responses"),
        },
    }
    page = client.get("/trials/?therapy_class=cytokine")
    assert page.status_code == 200
    assert "The shared response cache cannot be read" in caplog.text
    assert "The shared response cache cannot be written" in caplog.text
    with CaptureQueriesContext(connection) as queries:
        again = client.get("/trials/?therapy_class=cytokine")
    assert again.content == page.content
    assert len(queries) == 2  # the data version and the rate limit: this worker's copy


def test_a_cached_page_still_carries_the_security_headers(client):
    first = client.get("/trials/")
    again = client.get("/trials/")
    for header in ("Content-Security-Policy", "X-Frame-Options", "ETag"):
        assert again[header] == first[header]


def test_authenticated_and_anonymous_responses_never_share_a_cached_body(client, api):
    url = "/api/v1/trials/"
    anonymous = api.get(url)
    assert api.get(url).status_code == 200  # cached for anonymous readers

    # A cached anonymous copy must not answer for credentials: they are checked, and fail here.
    bogus = api.get(url, HTTP_AUTHORIZATION="Token not-a-token")
    assert bogus.status_code == 401

    reader = APIClient()
    reader.force_login(curator_create(username="reader", password="lantern-orbit-velvet-42"))
    signed_in = reader.get(url, headers={"If-None-Match": anonymous["ETag"]})
    assert signed_in.status_code == 200
    assert signed_in["ETag"] != anonymous["ETag"]
    assert "private" in signed_in["Cache-Control"]
    assert "Cookie" in signed_in["Vary"] and "Authorization" in signed_in["Vary"]
    assert reader.get(url, headers={"If-None-Match": signed_in["ETag"]}).status_code == 304
    assert api.get(url, headers={"If-None-Match": signed_in["ETag"]}).status_code == 200


def test_signed_in_requests_are_never_answered_from_the_cache():
    reader = APIClient()
    reader.force_login(curator_create(username="reader", password="lantern-orbit-velvet-42"))
    reader.get("/api/v1/trials/")
    with CaptureQueriesContext(connection) as queries:
        assert reader.get("/api/v1/trials/").status_code == 200
    assert len(queries) > 1 + 2  # the version and the session and user, then the view's own


def test_cached_answers_still_count_against_the_anonymous_rate_limit(api, one_rate_limit_period):
    allowed, _ = AnonRateThrottle().parse_rate(AnonRateThrottle().get_rate())
    statuses = [api.get("/api/v1/").status_code for _ in range(allowed + 1)]
    assert statuses == [200] * allowed + [429]


def test_errors_and_admin_pages_get_no_etag(client):
    assert "ETag" not in client.get("/trials/NCT00000000/")
    assert "ETag" not in client.get("/admin/login/")


def test_without_a_data_version_the_view_answers_as_usual(client, monkeypatch):
    def unreachable():
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(caching, "data_version", unreachable)
    response = client.get("/trials/")
    assert response.status_code == 200 and "ETag" not in response


def test_the_shared_directory_is_culled_on_one_store_in_so_many_and_stays_bounded(
    tmp_path, monkeypatch
):
    """A cull lists every file of the directory: one store in CULL_ONE_IN culls, and the
    directory still holds at most CULL_ONE_IN files past MAX_ENTRIES."""
    most = 3 * caching.CULL_ONE_IN
    cache = caching.SharedResponseCache(str(tmp_path), {"OPTIONS": {"MAX_ENTRIES": most}})
    draws = itertools.count()
    monkeypatch.setattr(caching.random, "randrange", lambda n: next(draws) % n)
    listings = []
    list_files = cache._list_cache_files
    monkeypatch.setattr(cache, "_list_cache_files", lambda: listings.append(1) or list_files())
    stores = 10 * caching.CULL_ONE_IN
    for number in range(stores):
        cache.set(f"response-{number}", (b"body", {}))
    assert len(listings) == stores // caching.CULL_ONE_IN
    assert most <= len(list(tmp_path.glob("*.djcache"))) <= most + caching.CULL_ONE_IN
    assert cache.get(f"response-{stores - 1}") == (b"body", {})
