import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from .deadlines import is_past_deadline

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "The database is unavailable right now. Please try again in a minute."


TOO_SLOW_MESSAGE = (
    "This request needed more than {seconds:g} seconds of database time and was stopped: "
    "narrow it (fewer words or filters, a smaller page) or try again later."
)
NOT_SET_UP_MESSAGE = "The database is not set up yet. Please try again in a minute."


class DatabaseUnavailableMiddleware:
    """Answer 503 with a clear message while the database cannot serve the request.

    Connection errors are a passing condition of the service, not a bug in the request, so they
    get a retryable 503 instead of a 500; Django reconnects by itself on the next request. So do
    a database without its tables (an SQLite file not migrated yet, or gone) and a request
    whose query ran past its time budget (nkkb.core.deadlines), which has been stopped.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_past_deadline(exception):
            message = TOO_SLOW_MESSAGE.format(seconds=settings.REQUEST_TIME_LIMIT)
            logger.warning("Request stopped at its time budget: %s", request.get_full_path())
        elif isinstance(exception, OperationalError | InterfaceError) and is_connection_error(
            exception
        ):
            message = UNAVAILABLE_MESSAGE
            logger.error("Database unavailable: %s", exception)
        elif isinstance(exception, DatabaseError) and is_missing_table(exception):
            message = NOT_SET_UP_MESSAGE
            logger.error("Database not set up: %s", exception)
        else:
            return None
        return unavailable_response(request, message)


def unavailable_response(request, message: str) -> HttpResponse:
    """503 with `message`: JSON under /api/, the 503 page elsewhere; retry in 30 seconds."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
    response["Retry-After"] = "30"
    return response


def is_missing_table(exception: DatabaseError) -> bool:
    text = str(exception).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def is_connection_error(exception: DatabaseError) -> bool:
    """Whether the error says the database cannot be reached, as opposed to a bad query."""
    text = str(exception).lower()
    return isinstance(exception, InterfaceError) or any(
        marker in text
        for marker in (
            "could not connect",
            "connection refused",
            "unable to open database",
            "server closed the connection",
            "connection already closed",
            "terminating connection",
            "no such host",
            "could not translate host",
        )
    )
