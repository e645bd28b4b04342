"""Bounds on the work one request may ask for, checked before any query runs.

A request's cost grows with its search words, its repeated filter values and its body; a few
kilobytes of words once kept a worker busy until gunicorn killed it. So each is bounded here,
and a request past a bound is a 400 that says which bound (JSON under /api/, a page elsewhere).

Parameters no view reads are refused on the API (a typo is told, not ignored) and dropped on the
pages (links from elsewhere may carry tracking parameters): either way no unread parameter
reaches a view or the response cache's key, so `?cb=<random>` cannot bypass the cache.
"""

import re

from django.conf import settings
from django.http import HttpResponse, JsonResponse, QueryDict
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve

MAX_QUERY_STRING = 2048
MAX_VALUE_LENGTH = 200
MAX_REPEATS = 50
MAX_SEARCH_WORDS = 10
SEARCH_PARAMETERS = ("q", "search")
POSITIVE_INTEGER_PARAMETERS = ("page_size",)
POSITIVE_INTEGER = re.compile(r"^[1-9][0-9]{0,8}$")
MAX_JSON_DEPTH = 32
MAX_JSON_LIST_ITEMS = 1000
NUL_MESSAGE = "Null characters are not allowed."
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def error_response(request, status: int, errors: dict) -> HttpResponse:
    """`errors` ({parameter: [messages]} or {"detail": message}) as JSON under /api/, else as
    the 400 page listing them."""
    if is_api(request):
        return JsonResponse(errors, status=status)
    messages = [
        f"{name}: {message}" if name != "detail" else message
        for name, value in errors.items()
        for message in ([value] if isinstance(value, str) else value)
    ]
    return HttpResponse(
        render_to_string("400.html", {"problems": messages}, request=request), status=status
    )


def query_problems(query: QueryDict) -> dict[str, list[str]]:
    """{parameter: [what is wrong]} for every query parameter past a bound."""
    problems = {}
    for name, values in query.lists():
        messages = []
        if "\x00" in name or any("\x00" in value for value in values):
            messages.append(NUL_MESSAGE)
        if len(values) > MAX_REPEATS:
            messages.append(f"At most {MAX_REPEATS} values, not {len(values)}.")
        if any(len(value) > MAX_VALUE_LENGTH for value in values):
            messages.append(f"At most {MAX_VALUE_LENGTH} characters.")
        if name in SEARCH_PARAMETERS and any(
            len(value.split()) > MAX_SEARCH_WORDS for value in values
        ):
            messages.append(f"At most {MAX_SEARCH_WORDS} words: narrow the search with filters.")
        if name in POSITIVE_INTEGER_PARAMETERS and not all(
            POSITIVE_INTEGER.match(value) for value in values
        ):
            messages.append("A positive whole number.")
        if messages:
            problems[name] = messages
    return problems


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON `text` (strings skipped): counted without
    parsing, as Python's parser recurses once per level and fails on deep documents."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", re.sub(r'"(?:[^"\\]|\\.)*"', "", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _values(data):
    """Every value in a parsed JSON document, keys included, without recursion."""
    stack = [data]
    while stack:
        value = stack.pop()
        yield value
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def contains_nul(data) -> bool:
    return any(isinstance(value, str) and "\x00" in value for value in _values(data))


def json_problems(data) -> list[str]:
    """What is wrong with a parsed JSON document: NUL characters anywhere, overlong lists."""
    problems = set()
    for value in _values(data):
        if isinstance(value, str) and "\x00" in value:
            problems.add(NUL_MESSAGE)
        elif isinstance(value, list) and len(value) > MAX_JSON_LIST_ITEMS:
            problems.add(f"A list may hold at most {MAX_JSON_LIST_ITEMS} items.")
    return sorted(problems)


def parameters_read(request) -> frozenset[str] | None:
    """The query parameters the view of `request` reads, or None when it does not say.

    A view says by `query_parameters`: a list of names, or a classmethod that returns one.
    DRF's views also read `format`.
    """
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    declared = getattr(view_class, "query_parameters", None)
    if declared is None:
        return None
    names = frozenset(declared() if callable(declared) else declared)
    return names | {"format"} if hasattr(match.func, "cls") else names


class RequestLimitsMiddleware:
    """Refuses requests past a bound (400, or 413 for a body) and unknown API parameters;
    drops the parameters a page does not read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING:
            return error_response(
                request, 400, {"detail": f"The query may be at most {MAX_QUERY_STRING} bytes."}
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return error_response(
                request, 413, {"detail": f"The body may be at most {limit} bytes."}
            )
        problems = query_problems(request.GET)
        if request.method == "POST" and request.content_type in FORM_CONTENT_TYPES:
            problems |= {
                name: [NUL_MESSAGE]
                for name, values in request.POST.lists()
                if any("\x00" in value for value in values)
            }
        if problems:
            return error_response(request, 400, problems)
        # Without parameters there is nothing to check: the URL is not resolved twice.
        read = parameters_read(request) if request.GET else None
        unread = [name for name in request.GET if read is not None and name not in read]
        if unread and is_api(request):
            known = ", ".join(sorted(read))
            return error_response(
                request,
                400,
                {name: [f"Unknown parameter. This endpoint reads: {known}."] for name in unread},
            )
        if unread:
            kept = QueryDict(mutable=True)
            for name, values in request.GET.lists():
                if name in read:
                    kept.setlist(name, values)
            kept._mutable = False
            request.GET = kept
        return self.get_response(request)
