"""HTTP caching from a data version: repeat reads answer 304 or come from the cache.

The data version is read from the database itself rather than kept in a counter that writes
bump: every write through the ORM (admin, API, imports, the seed) adds a row to a history table
(simple_history records saves, deletes and many-to-many changes alike), and bulk inserts that
skip history still add rows to the curated tables. So the newest row of each of those tables,
by primary key, changes with every write, whichever process or server made it, with no signal
handler to forget and no shared cache to set up. Reading it costs one query of index lookups.
"""

import functools
import hashlib
import logging
import os
import random
import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.filebased import FileBasedCache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.models import Model
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.dateparse import parse_datetime
from django.utils.http import http_date
from rest_framework.settings import api_settings

from .changes import Position, timestamp_column, versioned_models, written_models
from .throttling import AnonRateThrottle, Hit, count_hit, counted, hit_statement, remember_count

logger = logging.getLogger(__name__)

# Responses this worker served, and those every worker of the machine rendered (settings.CACHES).
RESPONSE_CACHE = "responses"
SHARED_RESPONSE_CACHE = "shared_responses"
# How long a worker waits for the response another worker is rendering (RenderClaim), and how
# often it looks.
RENDER_WAIT_SECONDS = 0.5
RENDER_POLL_SECONDS = 0.002
# Larger bodies (a whole selection as CSV) would crowd everything else out of the cache.
MAX_CACHED_BODY = 256 * 1024
# The shared directory is culled on one store in this many (SharedResponseCache).
CULL_ONE_IN = 20
# Open proposals change without a write to the knowledge base, so no data version covers them.
UNCACHED_PATH_PREFIXES = ("/admin/", "/static/", "/feeds/proposals/")
# A client's copy must be revalidated on every use: a curator may change the data at any time.
VARY_HEADERS = ("Accept", "Authorization", "Cookie")


@functools.cache
def _versioned_tables() -> list[tuple[str, str, str]]:
    """(table, primary key column, timestamp column) of every table a write adds a row to."""
    return [
        (model._meta.db_table, model._meta.pk.column, timestamp_column(model))
        for model in versioned_models()
    ]


def _as_utc(value) -> datetime | None:
    if isinstance(value, str):  # SQLite returns raw query timestamps as text, in UTC
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class DataState:
    """What one read of the newest rows of the versioned tables gives (read_data_state)."""

    version: str
    last_modified: datetime | None
    position: Position


class _RequestVersion:
    """The data version and position as a request first read them, until the request writes."""

    def __init__(self):
        self.state: DataState | None = None
        self.written = False


_request_version: ContextVar[_RequestVersion | None] = ContextVar(
    "request_data_version", default=None
)


@contextmanager
def data_version_per_request():
    """Within the block (a request: DataVersionCacheMiddleware), data_version() reads the
    database once, so the ETag and the facet counts of one request cost one query and agree.
    After a write in the block, every read is fresh again: the write may change the version
    (once committed, or at once within its transaction) and may be rolled back."""
    token = _request_version.set(_RequestVersion())
    try:
        yield
    finally:
        _request_version.reset(token)


@receiver(post_save)
def _request_wrote(**kwargs):
    # Every write to the knowledge base saves a history row (simple_history: saves, deletes and
    # many-to-many changes alike), so post_save sees them all; a post_delete receiver for every
    # model would also turn off Django's fast deletes. (Bulk inserts and raw SQL send no signal:
    # they are the synthetic generator's and the rate limit's, and neither writes the knowledge
    # base within a request.)
    memo = _request_version.get()
    if memo is not None:
        memo.written = True


def data_version() -> tuple[str, datetime | None]:
    """A token that changes with every write to the knowledge base, and the time of the last.

    Read once per request (data_version_per_request) until the request writes.
    """
    state = _request_data_state()
    return state.version, state.last_modified


def data_position() -> Position:
    """The moment of the knowledge base the data version stands for (nkkb.core.changes), read
    with it: what a process mends its derived data up to is then at most as new as any row it
    reads afterwards."""
    return _request_data_state().position


def request_has_written() -> bool:
    """Whether the request in progress wrote to the knowledge base."""
    memo = _request_version.get()
    return memo is not None and memo.written


def _request_data_state() -> DataState:
    memo = _request_version.get()
    if memo is None or memo.written:
        return read_data_state()
    if memo.state is None:
        memo.state = read_data_state()
    return memo.state


def read_data_state() -> DataState:
    """The data version, the time of the last write and the position, as the database holds
    them now (data_version and data_position read them once a request): from the newest row of
    each versioned table.

    The newest row's id alone could repeat after a rolled-back write on SQLite, which reuses
    ids; with its timestamp it cannot.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT * FROM {DATA_STATE_FUNCTION}()")
        else:
            cursor.execute(newest_rows_statement(connection))
        return _data_state(cursor.fetchall())


def read_data_state_counting(hit: Hit) -> tuple[DataState, int]:
    """read_data_state's state, and `hit` counted against its client's rate (what
    throttling.count_hit returns): on PostgreSQL in one statement, which costs one round trip
    where the two cost two."""
    if connection.vendor != "postgresql":
        return read_data_state(), count_hit(hit)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {DATA_STATE_COUNTING_FUNCTION}(%s, %s)", [hit.client, hit.period]
        )
        rows = cursor.fetchall()
    # A row without a table's number: no versioned table has a row yet.
    state = _data_state([row[:3] for row in rows if row[0] is not None])
    return state, counted(hit, rows[0][3])


def _data_state(rows: list[tuple]) -> DataState:
    tables = _versioned_tables()
    rows = sorted(rows)
    timestamps = [stamp for stamp in (_as_utc(row[2]) for row in rows) if stamp is not None]
    token = hashlib.sha256(repr([[str(value) for value in row] for row in rows]).encode())
    position = dict.fromkeys((table for table, _, _ in tables), 0)
    position.update((tables[number][0], pk) for number, pk, _ in rows)
    return DataState(token.hexdigest(), max(timestamps, default=None), position)


def newest_rows_statement(database) -> str:
    """(number of the table in _versioned_tables, primary key, timestamp) of the newest row of
    each versioned table that has any (numbered, so that an empty table cannot be mistaken for
    another). PostgreSQL plans one small query per table faster than two scalar subqueries per
    table (BENCHMARKS.md, "Issue 17, sixth round")."""
    quote = database.ops.quote_name
    return " UNION ALL ".join(
        f"SELECT * FROM (SELECT {number}, {quote(pk)}, {quote(timestamp)} FROM {quote(table)} "
        f"ORDER BY {quote(pk)} DESC LIMIT 1) AS newest_{number}"
        for number, (table, pk, timestamp) in enumerate(_versioned_tables())
    )


# On PostgreSQL the newest rows are read through a PL/pgSQL function: it plans its query once
# per connection, where planning the statement on every request cost more than running it
# (BENCHMARKS.md, "Issue 17, eighth round"). Unlike a prepared statement, it survives a
# connection pooler that hands each transaction another server connection. The second function
# also counts a hit against a client's rate limit.
DATA_STATE_FUNCTION = "nkkb_data_state"
DATA_STATE_COUNTING_FUNCTION = "nkkb_data_state_counting"


def create_data_state_function(using=DEFAULT_DB_ALIAS, **kwargs):
    """(Re)create DATA_STATE_FUNCTION after each migrate (post_migrate): the versioned tables
    change only with migrations."""
    database = connections[using]
    if database.vendor != "postgresql":
        return
    newest_rows = f"({newest_rows_statement(database)}) AS rows(number, newest, stamp)"
    columns = "rows.number::integer, rows.newest::bigint, rows.stamp::timestamptz"
    with database.cursor() as cursor:
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {DATA_STATE_FUNCTION}() "
            "RETURNS TABLE(number integer, newest bigint, stamp timestamptz) "
            "LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN QUERY "
            f"SELECT {columns} FROM {newest_rows}; END $$"
        )
        # Its arguments are the client and the period (throttling.Hit); each row also holds
        # the client's hits, and one row holds only them while no versioned table has a row.
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {DATA_STATE_COUNTING_FUNCTION}(text, bigint) "
            "RETURNS TABLE(table_number integer, newest_id bigint, newest_stamp timestamptz, "
            "client_hits integer) LANGUAGE plpgsql VOLATILE AS $$ "
            "DECLARE counted integer; BEGIN "
            f"{hit_statement('$1', '$2')} INTO counted; "
            f"RETURN QUERY SELECT {columns}, counted FROM (SELECT) AS hit "
            f"LEFT JOIN {newest_rows} ON true; END $$"
        )


class KeptPerDataVersion:
    """Values derived from the knowledge base, kept in this process by key for the data version
    they were derived at: derived again on the first use after any write, by any process, or,
    for a value read from a few models, after a write to one of them."""

    def __init__(self):
        self._kept: dict = {}
        _kept_per_data_version.append(self)

    def get(self, key, derive, models: tuple[type[Model], ...] = ()):
        """The value kept for `key` at the current data version, else `derive()`. Where `models`
        names every model `derive` reads, the value stands until a write to one of them."""
        if models and request_has_written():
            # Its writes may yet be rolled back, and SQLite gives their ids out again.
            return derive()
        state = _request_data_state()
        if models:
            version = tuple(
                state.position.get(written._meta.db_table)
                for model in models
                for written in written_models(model)
            )
        else:
            version = state.version
        found = self._kept.get(key)
        if found is None or found[0] != version:
            found = self._kept[key] = (version, derive())
        return found[1]


_kept_per_data_version: list[KeptPerDataVersion] = []


def forget_kept_per_data_version() -> None:
    """Derive every kept value again on its next use (tests, whose rolled-back data may come
    back under an old version)."""
    for kept in _kept_per_data_version:
        kept._kept.clear()


def _credentials(request) -> str:
    """Who is asking, as far as a response can depend on it: nobody, a session user, a token."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    authorization = request.headers.get("Authorization")
    if authorization:
        return "authorization:" + hashlib.sha256(authorization.encode()).hexdigest()
    return ""


def _read_data_state_counting(request) -> None:
    """Reads the request's data state and counts it against the API's rate limit together
    (read_data_state_counting); its throttle then finds it counted."""
    if AnonRateThrottle not in api_settings.DEFAULT_THROTTLE_CLASSES:
        return
    hit = AnonRateThrottle().hit(request)
    if hit is not None:
        _request_version.get().state, hits = read_data_state_counting(hit)
        remember_count(request, hit, hits)


def _throttles_allow(request) -> bool:
    """Whether the API's rate limits let this request through (and count it, if so).

    An answer from the cache still counts against the anonymous rate limit, as the view would.
    """
    return all(
        throttle_class().allow_request(request, None)
        for throttle_class in api_settings.DEFAULT_THROTTLE_CLASSES
    )


class RenderClaim:
    """Which worker of a machine renders a response the others are about to ask for.

    After a write, every worker's next request for a page misses the cache at once, before any
    has stored its answer, and each would render the page. The first takes the claim (a file
    made exclusively beside the shared responses); the others wait for its answer, and render
    it themselves if it is not stored within RENDER_WAIT_SECONDS (the claimant failed, answered
    something not stored, or is slow). Without a directory of shared responses (the
    benchmarks' uncached settings) every worker renders."""

    def __init__(self, etag: str):
        self.etag = etag
        self.path = None
        try:
            shared = caches[SHARED_RESPONSE_CACHE]
        except OSError:
            return  # its directory unusable: every worker renders
        if isinstance(shared, FileBasedCache):
            directory = Path(settings.CACHES[SHARED_RESPONSE_CACHE]["LOCATION"])
            digest = etag.strip('"')  # the ETag is already a digest of the request
            self.path = directory / f"{digest}.rendering"

    def take(self) -> bool:
        """Whether this worker renders: it took the claim, or no other worker holds a live one."""
        if self.path is None:
            return True
        try:
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return self._stale()
        except OSError:
            pass  # no directory to share: this worker renders, as without one
        return True

    def wait_for(self, cached: Callable[[str], HttpResponse | None]) -> HttpResponse | None:
        """The claimant's answer once stored; None if it is not stored in time."""
        deadline = time.monotonic() + RENDER_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(RENDER_POLL_SECONDS)
            answer = cached(self.etag)
            if answer is not None or not self.path.exists():
                return answer
        return None

    def release(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)

    def _stale(self) -> bool:
        """Whether the claim outlived the wait (its claimant died or hangs): not waited for."""
        try:
            return time.time() - self.path.stat().st_mtime > RENDER_WAIT_SECONDS
        except FileNotFoundError:
            return True  # released meanwhile, its answer not stored


class SharedResponseCache(FileBasedCache):
    """Django's file-based cache, its directory culled on one store in CULL_ONE_IN rather than
    on every one: a cull lists every file of the directory, which cost more than storing the
    answer itself (BENCHMARKS.md, "Issue 17, fifteenth round"). Between culls the directory
    may hold a few more files than MAX_ENTRIES."""

    def _cull(self):
        if random.randrange(CULL_ONE_IN) == 0:
            super()._cull()


def _etag(request, version: str, credentials: str) -> str:
    """The ETag of the answer to `request` at data `version`, also its key in the caches."""
    key = "\n".join(
        (
            version,
            # The parameters the view reads (nkkb.core.limits drops the others), so that an
            # unread parameter such as `?cb=<random>` finds the same cached answer.
            f"{request.build_absolute_uri(request.path)}?{request.GET.urlencode()}",
            request.headers.get("Accept", ""),
            credentials,
        )
    )
    return f'"{hashlib.sha256(key.encode()).hexdigest()}"'


def anonymous_answer_at(request, version: str) -> HttpResponse | None:
    """The answer to anonymous `request` rendered at an earlier data `version`, where a cache
    still holds it: a view that can show the writes since left it as it was answers with it."""
    if _credentials(request):
        return None
    return _cached_answer(_etag(request, version, ""))


def _cached_answer(etag: str) -> HttpResponse | None:
    """The answer this worker or another of the machine stored under `etag`, if any."""
    cached = caches[RESPONSE_CACHE].get(etag)
    if cached is None:
        try:
            cached = caches[SHARED_RESPONSE_CACHE].get(etag)
        except OSError:
            # The directory unreadable: the view answers, as on a miss.
            logger.warning("The shared response cache cannot be read", exc_info=True)
        if cached is None:
            return None
        caches[RESPONSE_CACHE].set(etag, cached)
    content, headers = cached
    return HttpResponse(content, headers=headers)


class DataVersionCacheMiddleware:
    """ETag and Last-Modified on every public page and API read, from the data version.

    A request whose If-None-Match or If-Modified-Since still holds gets a 304 without running
    the view; an anonymous request for something already rendered at this data version is
    answered from the cache. A write changes the version, so neither outlives it. Authenticated
    responses get their own ETag and are never stored, so no two users share a body.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with data_version_per_request():
            return self._respond(request)

    def _respond(self, request):
        if request.method not in ("GET", "HEAD") or request.path.startswith(UNCACHED_PATH_PREFIXES):
            return self.get_response(request)
        credentials = _credentials(request)
        is_api = request.path.startswith("/api/")
        try:
            if is_api and not credentials:
                _read_data_state_counting(request)
            version, last_modified = data_version()
        except DatabaseError:
            # The view meets the same error and reports it (503 while the database is down).
            return self.get_response(request)
        etag = _etag(request, version, credentials)
        timestamp = int(last_modified.timestamp()) if last_modified else None

        answer = get_conditional_response(request, etag=etag, last_modified=timestamp)
        claim = None
        if answer is None and not credentials:
            answer = _cached_answer(etag)
            if answer is None and request.method == "GET":
                claim = RenderClaim(etag)
                if not claim.take():
                    answer = claim.wait_for(_cached_answer)
                    claim = None
        # Past the rate limit, the view answers (429) as it would without a cache.
        if answer is not None and (credentials or not is_api or _throttles_allow(request)):
            self._describe(answer, etag, timestamp, credentials)
            return answer

        try:
            response = self.get_response(request)
            if response.status_code != 200:
                return response
            if not credentials and request.method == "GET":
                self._store(request, response, etag)
        finally:
            if claim is not None:
                claim.release()
        self._describe(response, etag, timestamp, credentials)
        return response

    @staticmethod
    def _describe(response, etag, timestamp, credentials):
        response.headers["ETag"] = etag
        if timestamp is not None:
            response.headers["Last-Modified"] = http_date(timestamp)
        patch_vary_headers(response, VARY_HEADERS)
        patch_cache_control(response, no_cache=True, **({"private": True} if credentials else {}))

    @staticmethod
    def _store(request, response, etag):
        # A body that carries a CSRF token or comes with cookies belongs to one client only.
        if (
            response.streaming
            or response.cookies
            or request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
            or len(response.content) > MAX_CACHED_BODY
        ):
            return
        cached = (response.content, dict(response.items()))
        caches[RESPONSE_CACHE].set(etag, cached)
        try:
            caches[SHARED_RESPONSE_CACHE].set(etag, cached)
        except OSError:
            # A full disk or an unwritable directory costs the other workers a render, not
            # this one its answer.
            logger.warning("The shared response cache cannot be written", exc_info=True)
