"""The OpenAPI schema: drf-spectacular's, plus who may call, what errors come back, the allowed
values of every filter and slug, and which docstrings describe code rather than the API."""

from drf_spectacular import openapi
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type, build_object_type, get_lib_doc_excludes
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import permissions, serializers

from .serializers import BriefSlugRelatedField, ModelCleanSerializer
from .viewsets import CuratedViewSetMixin, SparseFieldsMixin


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

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        # `fields` and `omit` may leave out any field of the records a sparse view answers with
        # (the component is shared by its reads and writes, so no field is required in either).
        sparse = isinstance(self.view, SparseFieldsMixin) and isinstance(
            serializer, self.view.get_serializer_class()
        )
        if direction == "response" and sparse:
            schema.pop("required", None)
        return schema

    def get_override_parameters(self):
        """A delete sends the `version` it is based on, as a change does in its body."""
        parameters = super().get_override_parameters()
        model = getattr(getattr(self.view, "queryset", None), "model", None)
        versioned = model is not None and any(
            field.name == "version" for field in model._meta.concrete_fields
        )
        if self.method == "DELETE" and versioned:
            parameters = [
                *parameters,
                OpenApiParameter(
                    "version",
                    OpenApiTypes.INT,
                    required=True,
                    description=(
                        "The version of the record you read: a record changed since is not "
                        "deleted (409)."
                    ),
                ),
            ]
        return parameters

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
            400: (
                "Invalid query parameters or body: an unknown parameter or value, or one past "
                "a limit (search words, value length, repeats, JSON depth, NUL characters)."
            ),
            401: "The credentials sent (a token or a session) are not valid.",
            404: "No such record, a page past the end, or an unknown `format`.",
            406: "The `Accept` header asks for no media type served here.",
            500: "A fault of the server, logged under the `X-Request-ID` header's reference.",
            503: (
                "The database cannot be reached, or the request needed more database time than "
                "a request may take; retry after `Retry-After` seconds."
            ),
        }
        if reads:
            errors[429] = "Too many anonymous requests; retry after `Retry-After` seconds."
        else:
            errors[401] = "Writing needs a curator's token or session; this request has neither."
            errors[403] = "The user lacks the model permission this change needs."
        if self.method in ("POST", "PUT", "PATCH"):
            errors[413] = "The body is larger than the API accepts."
            errors[415] = "The body is not JSON (`Content-Type: application/json`)."
        if self.method in ("PUT", "PATCH"):
            errors[409] = "The record changed after the `version` sent: read it again."
        if self.method == "DELETE":
            errors[409] = (
                "Other records still refer to this one (the message names them), or it changed "
                "after the `version` sent: read it again."
            )
        return dict(sorted(errors.items()))


class SlugRelatedFieldSchema(OpenApiSerializerFieldExtension):
    """A relation written as a slug takes the current records' slugs, listed as the filters list
    theirs (see FilterSetParameters); read back, a brief relation is its brief serializer."""

    target_class = serializers.SlugRelatedField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        if direction == "request" and field.queryset is not None:
            slugs = field.get_queryset().values_list(field.slug_field, flat=True)
            return {**build_basic_type(OpenApiTypes.STR), "enum": list(slugs)}
        if isinstance(field, BriefSlugRelatedField):
            return auto_schema.resolve_serializer(field.brief_serializer, direction).ref
        return auto_schema._map_serializer_field(field, direction, bypass_extensions=True)


def schema_doc_excludes() -> list[type]:
    """Base classes whose docstrings describe the code, not an endpoint or a schema."""
    return [*get_lib_doc_excludes(), CuratedViewSetMixin, ModelCleanSerializer]


class FilterSetParameters(DjangoFilterExtension):
    """Documents every filter with its allowed values, those read from the database included.

    drf-spectacular leaves out values that come from a query (agents, targets, platforms...);
    the schema is generated per request, so listing the current ones keeps it true.
    """

    priority = 1

    def _get_explicit_filter_choices(self, filter_field):
        queryset = getattr(filter_field, "queryset", None)
        if queryset is not None:
            field = filter_field.extra.get("to_field_name", "pk")
            return list(queryset.values_list(field, flat=True))
        choices = filter_field.extra.get("choices")
        if callable(choices):
            return [value for value, _ in choices()]
        return super()._get_explicit_filter_choices(filter_field)

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        if filter_field.method == "search":
            fields = ", ".join(field.replace("__", ".") for field in filterset_class.search_fields)
            for parameter in parameters:
                parameter["description"] = filterset_class.search_description.format(fields=fields)
        return parameters


# Operations on one record, in the order a client would follow them.
RECORD_OPERATIONS = ("get", "put", "patch", "delete")


def record_links(result, generator, request, public):
    """drf-spectacular postprocessing hook: OpenAPI links from every answer that carries a
    writable record (created, read or changed) to reading, changing and deleting that record.

    Each link passes the record's key from the answer, and, where the record is locked
    optimistically (its delete takes `version`), the answer's `version` that a change sends in
    its body and a delete in its query. Clients follow them instead of building URLs;
    tests/test_fuzz.py's stateful test follows them through create, read, change and delete.
    """
    paths = result["paths"]
    for path, record in paths.items():
        collection, brace, key = path.rstrip("/").rpartition("/{")
        targets = {method: record[method] for method in RECORD_OPERATIONS if method in record}
        if not brace or targets.keys() <= {"get"}:
            continue
        key = key.rstrip("}")
        versioned = any(
            parameter["in"] == "query" and parameter["name"] == "version"
            for parameter in targets.get("delete", {}).get("parameters", [])
        )
        sources = [(paths.get(f"{collection}/", {}).get("post"), "201")]
        sources += [(targets.get(method), "200") for method in ("get", "put", "patch")]
        for source, status in sources:
            if source is None or status not in source["responses"]:
                continue
            source["responses"][status]["links"] = {
                target["operationId"]: _record_link(method, target, key, versioned)
                for method, target in targets.items()
                if not (method == "get" and source is targets.get("get"))
            }
    return result


def _record_link(method: str, target: dict, key: str, versioned: bool) -> dict:
    link = {
        "operationId": target["operationId"],
        "parameters": {key: f"$response.body#/{key}"},
        "description": f"The record in this answer, by its `{key}`.",
    }
    if versioned and method == "delete":
        link["parameters"]["query.version"] = "$response.body#/version"
        link["description"] += " Deleting it sends the answer's `version`."
    elif versioned and method in ("put", "patch"):
        link["requestBody"] = {"version": "$response.body#/version"}
        link["description"] += " Changing it sends the answer's `version` in the body."
    return link
