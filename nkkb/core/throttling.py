"""Rate limits of anonymous clients, on the API and the HTML pages alike.

Counts live in the database (RateLimitHits), which every gunicorn worker and every machine
already shares: a per-process cache would let N workers allow N times the rate, and Redis or
memcached would be one more server to run. Each anonymous request costs one statement, an
atomic upsert that counts the hit and returns the count (a read-then-write, as DRF's throttles
do in a cache, would cost several queries and undercount concurrent requests). On PostgreSQL an
anonymous API read counts it in the statement that reads the data version (nkkb.core.caching).
"""

import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.template.loader import render_to_string
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from .models import RateLimitHits

UNTHROTTLED_PATH_PREFIXES = ("/api/", "/static/", "/admin/jsi18n/")
# One hit in this many also deletes the rows of periods long gone.
CLEANUP_ONE_IN = 1000


def client_address(request) -> str:
    """The client's address, as the rate limits tell clients apart (API_NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


@dataclass(frozen=True)
class Hit:
    """A request to count against a client's rate: who, in which period, the seconds left
    until the next one, and the hits a period allows."""

    client: str
    period: int
    remaining: float
    allowed: int = 0

    @classmethod
    def now(cls, client: str, period_seconds: int, allowed: int = 0) -> "Hit":
        now = time.time()
        period = int(now // period_seconds)
        return cls(client, period, (period + 1) * period_seconds - now, allowed)


def hit_statement(client: str = "%s", period: str = "%s") -> str:
    """The upsert that counts a hit of `client` in `period` (SQL expressions, by default
    placeholders) and returns the period's hits so far."""
    table = connection.ops.quote_name(RateLimitHits._meta.db_table)
    return (
        f"INSERT INTO {table} (client, period, hits) VALUES ({client}, {period}, 1) "
        "ON CONFLICT (client) DO UPDATE SET "
        f"hits = CASE WHEN {table}.period = excluded.period THEN {table}.hits + 1 ELSE 1 END, "
        "period = excluded.period RETURNING hits"
    )


def count_hit(hit: Hit) -> int:
    """Counts `hit`; returns its client's hits in its period so far."""
    with connection.cursor() as cursor:
        cursor.execute(hit_statement(), [hit.client, hit.period])
        return counted(hit, cursor.fetchone()[0])


def counted(hit: Hit, hits: int) -> int:
    """`hits`, as counting `hit` returned them; one count in CLEANUP_ONE_IN also deletes the
    rows of periods long gone."""
    if random.randrange(CLEANUP_ONE_IN) == 0:
        RateLimitHits.objects.filter(period__lt=hit.period - 1).delete()
    return hits


def remember_count(request, hit: Hit, hits: int) -> None:
    """Keeps `hits`, counted for `hit` before the view ran (nkkb.core.caching reads the data
    version and counts the hit in one statement), for the request's throttle to use."""
    request.counted_hits = {hit.client: hits}


class AnonRateThrottle(BaseThrottle):
    """DRF's anonymous rate limit (`scope` names its rate in DEFAULT_THROTTLE_RATES), counted in
    the shared table. Signed-in users are not limited."""

    scope = "anon"

    def hit(self, request) -> Hit | None:
        """What `request` counts against its client's rate; None where no rate applies."""
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)
        if rate is None or request.user.is_authenticated:
            return None
        allowed, period_seconds = SimpleRateThrottle.parse_rate(self, rate)
        return Hit.now(f"{self.scope}:{self.get_ident(request)}", period_seconds, allowed)

    def allow_request(self, request, view):
        self.seconds_to_wait = None
        hit = self.hit(request)
        if hit is None:
            return True
        # Counted once: where the count came with the data version, the first check takes it.
        hits = getattr(request, "counted_hits", {}).pop(hit.client, None)
        if hits is None:
            hits = count_hit(hit)
        if hits <= hit.allowed:
            return True
        self.seconds_to_wait = hit.remaining
        return False

    def wait(self):
        return self.seconds_to_wait


class PageRateThrottle(AnonRateThrottle):
    scope = "pages"


class PageRateLimitMiddleware:
    """Answers 429 with Retry-After to an anonymous client past its rate on the pages (the API
    throttles in its views)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(UNTHROTTLED_PATH_PREFIXES):
            return self.get_response(request)
        throttle = PageRateThrottle()
        try:
            allowed = throttle.allow_request(request, None)
        except DatabaseError:
            # The view meets the same error and reports it (503 while the database is down).
            allowed = True
        if allowed:
            return self.get_response(request)
        wait = max(1, round(throttle.wait()))
        message = f"Too many requests from your address: try again in {wait} seconds."
        response = HttpResponse(render_to_string("429.html", {"message": message}), status=429)
        response["Retry-After"] = str(wait)
        return response
