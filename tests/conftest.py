import copy
import os
import time
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from nkkb.core import throttling
from nkkb.core.caching import (
    RESPONSE_CACHE,
    SHARED_RESPONSE_CACHE,
    forget_kept_per_data_version,
)
from nkkb.core.changes import forget_touched
from nkkb.core.facets import clear_facet_indexes
from nkkb.core.knowledge_base import knowledge_base_models
from nkkb.core.record_order import forget_record_orders
from nkkb.core.review import Review
from nkkb.core.stored_facets import forget_stored_at
from nkkb.core.tables import forget_kept_cells
from trials.services.seed import seed_load


def dotted_path(cls: type) -> str:
    """The path by which settings name `cls` (MIDDLEWARE, for one)."""
    return f"{cls.__module__}.{cls.__qualname__}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test database starts as `make run` leaves it: migrated and seeded."""
    with django_db_blocker.unblock():
        seed_load(directory=settings.NKKB_FIXTURES_DIR)


@pytest.fixture(scope="session", autouse=True)
def response_cache_of_this_run(tmp_path_factory):
    """This run's cached responses in a directory of its own: another run at the same moment
    (CI's SQLite and PostgreSQL runs, a developer's) may reach the same data version with other
    data."""
    caches_setting = copy.deepcopy(settings.CACHES)
    directory = str(tmp_path_factory.mktemp("responses"))
    caches_setting[SHARED_RESPONSE_CACHE]["LOCATION"] = directory
    with override_settings(CACHES=caches_setting):
        yield


def forget_responses():
    """As if no worker had rendered anything: neither this one nor the machine's others."""
    caches[RESPONSE_CACHE].clear()
    caches[SHARED_RESPONSE_CACHE].clear()


def forget_derived_data():
    """As on the first visit after a write: no facet counts, facet indexes, record orders,
    table cells, search catalogue, facet options or stored facets' versions kept from an
    earlier request."""
    caches["facets"].clear()
    clear_facet_indexes()
    forget_record_orders()
    forget_kept_cells()
    forget_kept_per_data_version()
    forget_touched()
    forget_stored_at()


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test starts without the rate-limit counts, responses, facet counts or search
    catalogue of another."""
    for alias in settings.CACHES:
        caches[alias].clear()
    forget_derived_data()


@pytest.fixture(autouse=True)
def no_chance_cleanup(monkeypatch):
    """Query counts are exact: the rate limit's cleanup of long-gone periods, which one request
    in CLEANUP_ONE_IN also runs, would add a query by chance (tests/test_abuse.py tests it)."""
    monkeypatch.setattr(throttling, "CLEANUP_ONE_IN", 10**18)


@pytest.fixture
def one_rate_limit_period(monkeypatch):
    """The rate limit's clock stopped: a period (minute) that ended during a test's requests
    would start the count afresh."""
    now = time.time()
    monkeypatch.setattr(throttling, "time", SimpleNamespace(time=lambda: now))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Production's deliberately slow hasher would make each account cost a third of a second.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def review() -> Review:
    path = settings.NKKB_REVIEW_PATH
    if not path.exists():
        message = f"The review is not at {path}; set NKKB_REVIEW_PATH to check provenance."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return Review.from_path(path)


@pytest.fixture
def empty_knowledge_base(db):
    """The knowledge base emptied inside the test's transaction (rolled back afterwards)."""
    for model in reversed(knowledge_base_models()):
        model.objects.all().delete()


@pytest.fixture
def list_queries_by_page_size(client):
    """The SQL queries a list URL (ending in `?` or `&`) runs at page sizes 10 and 100, each
    with facet counts computed afresh, as on the first visit after a write."""

    def count(url: str) -> list[int]:
        counts = []
        for page_size in (10, 100):
            forget_derived_data()
            with CaptureQueriesContext(connection) as queries:
                assert client.get(f"{url}page_size={page_size}").status_code == 200
            counts.append(len(queries))
        return counts

    return count
