"""Production logs: one JSON line per record on stdout, each carrying its request's id.

Every request gets an id (the client's or proxy's `X-Request-ID` when it is a plain token, else a
new one), sent back in `X-Request-ID` and shown on the 500 page, so that a user's report leads to
the log lines of that request, its traceback included.
"""

import json
import logging
import re
import time
import traceback
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

request_id: ContextVar[str | None] = ContextVar("nkkb_request_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept only if it cannot forge log lines or headers.
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The LogRecord attributes every record has; anything else was passed in `extra` and is logged.
STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
# Objects Django passes in `extra` that are not data.
UNLOGGED_EXTRAS = {"request", "status_code", "server_time"}

logger = logging.getLogger("nkkb.request")


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to every record (None outside requests)."""

    def filter(self, record):
        record.request_id = request_id.get()
        return True


class JSONFormatter(logging.Formatter):
    """A record as one line of JSON: time, level, logger, message, request id, the fields given
    in `extra`, and the traceback of an exception, if any."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRIBUTES and key not in UNLOGGED_EXTRAS:
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class RequestLogMiddleware:
    """Gives each request its id and logs one line per request: method, path, status, time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        current = given if VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        # Not reset when the response leaves: Django logs a 4xx after the last middleware.
        request_id.set(current)
        request.request_id = current
        started = time.monotonic()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = current
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response
