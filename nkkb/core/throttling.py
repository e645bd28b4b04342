"""Rate limits of anonymous clients, on the API and the HTML pages alike.

Counts live in the database (RateLimitHits), which every gunicorn worker and every machine
already shares: a per-process cache would let N workers allow N times the rate, and Redis or
memcached would be one more server to run. Each anonymous request costs one statement, an
atomic upsert that counts the hit and returns the count (a read-then-write, as DRF's throttles
do in a cache, would cost several queries and undercount concurrent requests).
"""

import random
import time

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


def count_hit(client: str, period_seconds: int) -> tuple[int, float]:
    """Counts a hit of `client` in the current period; returns the period's hits so far and the
    seconds until the next period."""
    now = time.time()
    period = int(now // period_seconds)
    table = connection.ops.quote_name(RateLimitHits._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (client, period, hits) VALUES (%s, %s, 1) "
            "ON CONFLICT (client) DO UPDATE SET "
            f"hits = CASE WHEN {table}.period = excluded.period THEN {table}.hits + 1 ELSE 1 END, "
            "period = excluded.period RETURNING hits",
            [client, period],
        )
        hits = cursor.fetchone()[0]
    if random.randrange(CLEANUP_ONE_IN) == 0:
        RateLimitHits.objects.filter(period__lt=period - 1).delete()
    return hits, (period + 1) * period_seconds - now


class AnonRateThrottle(BaseThrottle):
    """DRF's anonymous rate limit (`scope` names its rate in DEFAULT_THROTTLE_RATES), counted in
    the shared table. Signed-in users are not limited."""

    scope = "anon"

    def allow_request(self, request, view):
        self.seconds_to_wait = None
        rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)
        if rate is None or request.user.is_authenticated:
            return True
        allowed, period = SimpleRateThrottle.parse_rate(self, rate)
        hits, remaining = count_hit(f"{self.scope}:{self.get_ident(request)}", period)
        if hits <= allowed:
            return True
        self.seconds_to_wait = remaining
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
