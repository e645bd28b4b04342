"""Links between pages: a record's URL, and a list filtered to some records.

A record's URL comes from its view's pattern reversed once: reverse() per record, through
Django's request-local URL state, was a large share of an API page's serialization
(BENCHMARKS.md, "Figures behind the code").
"""

import re
from functools import lru_cache
from urllib.parse import quote

from django.urls import get_script_prefix, reverse
from django.utils.http import urlencode

# Accepted by every record URL's converter (str, slug, and DRF's default lookup).
PLACEHOLDER = "0record0"


@lru_cache(maxsize=64)
def _pattern(view_name: str, script_prefix: str) -> str:
    return reverse(view_name, args=[PLACEHOLDER])


def record_url(view_name: str, key: str) -> str:
    """`reverse(view_name, args=[key])` for a view whose one argument is a record's key."""
    return _pattern(view_name, get_script_prefix()).replace(PLACEHOLDER, _quoted(key), 1)


def absolute_record_url(request, view_name: str, key: str) -> str:
    """`absolute_url(request, record_url(view_name, key))`, the site and the view's pattern read
    once per request: the script prefix, read for each record, cost more than the rest of its
    URL on a page of records."""
    patterns = getattr(request, "_record_url_patterns", None)
    if patterns is None:
        patterns = request._record_url_patterns = {}
    around = patterns.get(view_name)
    if around is None:
        url = absolute_url(request, record_url(view_name, PLACEHOLDER))
        around = patterns[view_name] = url.split(PLACEHOLDER, 1)
    return around[0] + _quoted(key) + around[1]


# What `quote(key, safe="")` leaves as it is.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(key: str) -> str:
    return key if _UNRESERVED.fullmatch(key) else quote(key, safe="")


def absolute_url(request, path: str) -> str:
    """`request.build_absolute_uri(path)` for a path this site built (reversed, so already
    quoted): the scheme and host read once per request, not once per link of a page."""
    site = getattr(request, "_site_url", None)
    if site is None:
        site = request._site_url = request.build_absolute_uri("/").removesuffix("/")
    return site + path


def filtered_list_url(view_name: str, **filters) -> str:
    """The list at `view_name` filtered by `filters` (`?agent=il-2&phase=2`): the one way pages,
    charts, the API and templates (the `filtered_list_url` tag) link to a selection. Filters whose
    value is None are left out; a list or tuple value repeats its parameter."""
    query = urlencode({name: value for name, value in filters.items() if value is not None}, True)
    url = _list_path(view_name, get_script_prefix())
    return f"{url}?{query}" if query else url


@lru_cache(maxsize=64)
def _list_path(view_name: str, script_prefix: str) -> str:
    return reverse(view_name)
