"""The site's error answers (handler400/403/404/500, CSRF failures): JSON with a `detail` under
/api/, as every other API answer is, and the error pages elsewhere."""

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import csrf, defaults

from .limits import is_api

SERVER_ERROR_MESSAGE = (
    "Something went wrong on our side. The error has been logged with reference {reference}; "
    "please try again later."
)


def _json(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def bad_request(request, exception=None):
    if is_api(request):
        return _json(400, "The request could not be understood.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return _json(403, "You do not have permission to do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if is_api(request):
        return _json(404, f"The API has no endpoint at {request.path}.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    """A 500: the traceback went to the log (django.request) under this request's id."""
    reference = getattr(request, "request_id", None) or "unknown"
    message = SERVER_ERROR_MESSAGE.format(reference=reference)
    if is_api(request):
        return _json(500, message)
    return HttpResponse(render_to_string("500.html", {"message": message}), status=500)


def csrf_failure(request, reason=""):
    if is_api(request):
        return _json(
            403,
            "CSRF check failed: a write with a session must send the CSRF token (X-CSRFToken); "
            "scripts should authenticate with a token instead.",
        )
    return csrf.csrf_failure(request, reason)
