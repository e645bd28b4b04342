"""Errors of the API: Django's validation errors and conflicts as DRF answers them."""

from concurrency.exceptions import RecordModifiedError
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import exceptions, status, views
from rest_framework.settings import api_settings


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Other records still refer to this one."
    default_code = "conflict"


def api_errors(error: DjangoValidationError, api_names: dict | None = None) -> dict:
    """Django's validation messages keyed as DRF keys them, under the API's field names.

    `api_names` maps a model field to its path in the API, e.g. `("provenance", "section")`.
    """
    if not hasattr(error, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    paths = {NON_FIELD_ERRORS: (api_settings.NON_FIELD_ERRORS_KEY,), **(api_names or {})}
    errors = {}
    for model_field, messages in error.message_dict.items():
        path = paths.get(model_field, (model_field,))
        target = errors
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target.setdefault(path[-1], []).extend(messages)
    return errors


def exception_handler(exc, context):
    """DRF's handler, plus: Django's validation errors are a 400, protected deletes and edits
    of a version that is no longer current a 409."""
    if isinstance(exc, RecordModifiedError):
        exc = Conflict(
            "Someone changed this record after you read it: read it again, reapply your change "
            "and send the new `version`."
        )
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(api_errors(exc))
    elif isinstance(exc, ProtectedError | RestrictedError):
        # PROTECT and RESTRICT (a condition group with conditions below it) alike.
        referring = (
            exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        )
        referrers = sorted(str(obj) for obj in referring)
        exc = Conflict(
            f"It cannot be deleted while these records refer to it: {'; '.join(referrers)}."
        )
    return views.exception_handler(exc, context)
