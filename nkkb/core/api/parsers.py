"""The API's one parser: JSON, bounded in size and depth, without NUL characters."""

from django.conf import settings
from rest_framework import exceptions, parsers, status
from rest_framework.utils import json

from ..limits import MAX_JSON_DEPTH, json_depth, json_problems


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing what would cost a worker more than a write is worth: a body
    over DATA_UPLOAD_MAX_MEMORY_SIZE (413; a body sent without Content-Length included), nesting
    deeper than MAX_JSON_DEPTH (Python's parser would recurse until it fails), lists longer than
    the limit, and NUL characters, which PostgreSQL cannot store in text."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLarge(f"The body may be at most {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None
        if json_depth(text) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON may nest at most {MAX_JSON_DEPTH} levels deep.")
        try:
            data = json.loads(text)  # DRF's: NaN and Infinity refused
        except ValueError as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None
        problems = json_problems(data)
        if problems:
            raise exceptions.ParseError(" ".join(problems))
        return data
