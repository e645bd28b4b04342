"""The API's OpenAPI schema class: drf-spectacular's, plus who may call and what errors come back.

Its own module, not nkkb/api.py: drf-spectacular's AutoSchema imports DRF's generic views, which
import nkkb/api.py (named in the REST_FRAMEWORK setting) while they are being defined.
"""

from drf_spectacular import openapi
from drf_spectacular.plumbing import build_object_type
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, and what to do about it.")


FIELD_ERRORS = build_object_type(
    description=(
        "Messages keyed by the query parameter or body field at fault (nested as the body "
        "nests; `non_field_errors` for the record as a whole), or a `detail` message for a "
        "body that is not JSON."
    ),
    additionalProperties={},
)


class AutoSchema(openapi.AutoSchema):
    """Also documents that anyone may read, and every error a request can get, with its body.

    Clients rely on the schema to handle answers other than success; tests/test_fuzz.py checks
    every answer against it.
    """

    def get_auth(self):
        auths = super().get_auth()
        anonymous_reads = any(
            isinstance(permission, permissions.DjangoModelPermissionsOrAnonReadOnly)
            for permission in self.view.get_permissions()
        )
        if anonymous_reads and self.method in permissions.SAFE_METHODS and {} not in auths:
            auths.append({})
        return auths

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self.error_responses().items():
            body = FIELD_ERRORS if code == 400 else ErrorSerializer
            responses.setdefault(
                str(code),
                self._get_response_for_code(
                    OpenApiResponse(body, description), str(code), ["application/json"], direction
                ),
            )
        return responses

    def error_responses(self) -> dict[int, str]:
        """{status code: when} for every error this operation can answer."""
        reads = self.method in permissions.SAFE_METHODS
        errors = {
            401: "The credentials sent (a token or a session) are not valid.",
            404: "No such record, a page past the end, or an unknown `format`.",
            406: "The `Accept` header asks for no media type served here.",
            503: "The database cannot be reached; retry after `Retry-After` seconds.",
        }
        # A request that sends nothing but a record's key has nothing else to get wrong.
        if not (self.method in ("GET", "DELETE") and "{" in self.path):
            errors[400] = "Invalid query parameters or body."
        if reads:
            errors[429] = "Too many anonymous requests; retry after `Retry-After` seconds."
        else:
            errors[401] = "Writing needs a curator's token or session; this request has neither."
            errors[403] = "The user lacks the model permission this change needs."
        if self.method in ("POST", "PUT", "PATCH"):
            errors[415] = "The body is not JSON (`Content-Type: application/json`)."
        if self.method in ("PUT", "PATCH"):
            errors[409] = "The record changed after the `version` sent: read it again."
        if self.method == "DELETE":
            errors[409] = "Other records still refer to this one; the message names them."
        return dict(sorted(errors.items()))
