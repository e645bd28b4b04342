import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "The database is unavailable right now. Please try again in a minute."


class DatabaseUnavailableMiddleware:
    """Answer 503 with a clear message while the database cannot be reached.

    Connection errors are a passing condition of the service, not a bug in the request, so they
    get a retryable 503 instead of a 500; Django reconnects by itself on the next request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError) or not is_connection_error(
            exception
        ):
            return None
        logger.error("Database unavailable: %s", exception)
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": UNAVAILABLE_MESSAGE}, status=503)
        else:
            response = HttpResponse(
                render_to_string("503.html", {"message": UNAVAILABLE_MESSAGE}), status=503
            )
        response["Retry-After"] = "30"
        return response


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
