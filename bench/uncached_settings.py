"""NKKB's settings with the response and facet caches off, so that every request is computed:
the benchmarks' worst case, a request nobody made before at this data version.

The facet index (nkkb/core/facets.py: which results have each option) is kept per data version like
a database index: each worker reads it on its first count after a write, which these settings
leave as it is; BENCHMARKS.md gives that first request's time apart."""

from nkkb.settings import *  # noqa: F403
from nkkb.settings import CACHES

_NO_CACHE = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
CACHES = {**CACHES, "responses": _NO_CACHE, "shared_responses": _NO_CACHE, "facets": _NO_CACHE}
