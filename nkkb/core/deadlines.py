"""A time budget per request: no query outlives it (settings.REQUEST_TIME_LIMIT).

On SQLite a progress handler, installed on each new connection, interrupts a statement once the
current request's deadline has passed; on PostgreSQL the server stops any statement past
`statement_timeout` (a connection option, nkkb/settings.py). Either way the request ends in a
503 that says why (nkkb.core.middleware) instead of running until gunicorn kills the worker.
Outside requests (management commands) there is no deadline.
"""

import time
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, connection

deadline: ContextVar[float | None] = ContextVar("nkkb_deadline", default=None)

# SQLite virtual machine instructions between two looks at the clock: a look costs far less
# than the instructions it follows.
PROGRESS_INTERVAL = 10_000
POSTGRES_QUERY_CANCELED = "57014"


def _past_deadline() -> int:
    limit = deadline.get()
    return int(limit is not None and time.monotonic() > limit)


def install_progress_handler(sender, connection, **kwargs):
    """connection_created receiver: SQLite connections stop statements past the deadline."""
    if connection.vendor == "sqlite":
        connection.connection.set_progress_handler(_past_deadline, PROGRESS_INTERVAL)


def is_past_deadline(exception: BaseException) -> bool:
    """Whether `exception` is a statement stopped because the request ran out of time."""
    if not isinstance(exception, DatabaseError):
        return False
    cause = exception.__cause__
    if getattr(cause, "pgcode", None) == POSTGRES_QUERY_CANCELED:
        return True
    return str(exception) == "interrupted" and bool(_past_deadline())


class RequestDeadlineMiddleware:
    """Sets the deadline of each request's queries."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = deadline.set(time.monotonic() + settings.REQUEST_TIME_LIMIT)
        if connection.vendor == "sqlite" and connection.connection is not None:
            # A connection opened before the receiver was connected (tests) gets it too.
            install_progress_handler(None, connection)
        try:
            return self.get_response(request)
        finally:
            deadline.reset(token)
