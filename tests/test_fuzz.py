"""The API fuzzed against its own OpenAPI schema (schemathesis): whatever a client sends, it gets
no server error, and every answer is one the schema documents (status, content type, body).

Each operation of `/api/schema/` gets requests generated from the schema, valid ones and invalid
ones: anonymous reads, and a curator's writes (whose checks also send each write without the
token and expect a refusal). Requests go in-process through the WSGI application, as gunicorn
serves it, against the seeded test database. Every example runs in a savepoint rolled back after
it, so each starts from the seed and the database stays as it was.

A curator also follows the schema's links (nkkb.core.api.schema.record_links) in
schemathesis's stateful test: scenarios that create a record, read it, change it with the
`version` read, delete it, in any order the links allow, each in a savepoint rolled back after
it. Besides the checks above, a record just created must be readable and one just deleted gone.

The run is bounded and repeatable: NKKB_FUZZ_EXAMPLES examples per operation and mode (15 unless
set; `NKKB_FUZZ_EXAMPLES=150` for a deeper run), three times as many scenarios of at most
STATEFUL_STEPS steps, about a minute in all, with a fixed seed.
"""

import os

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from drf_spectacular.generators import EndpointEnumerator
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from nkkb.core.accounts import curator_create
from nkkb.wsgi import application

EXAMPLES = int(os.environ.get("NKKB_FUZZ_EXAMPLES", "15"))
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
# schemathesis's WSGI client names its host `localhost`.
HOST = "localhost"
# Every check but two that ask more of the input than a schema can say: that each schema-valid
# request is accepted (a slug already taken, or a change without the `version` it is based on,
# is refused) and each invalid one refused (DRF reads a number sent for a text field as text,
# and a `page_size` over 100 is lowered to 100, as documented).
NOT_CHECKED = [positive_data_acceptance, negative_data_rejection]
# Room for create, read, change, change again, delete, and reads between.
STATEFUL_STEPS = 8
# Scenarios: most stop early (a generated record is refused, a link is not followed), so it takes
# this many for each kind of record to go through create, change and delete.
SCENARIOS = 3 * EXAMPLES

# Every operation the schema documents, with the view that serves it.
OPERATIONS = [
    pytest.param(method, path, callback.cls, id=f"{method} {path}")
    for path, _, method, callback in EndpointEnumerator().get_api_endpoints()
    if path.startswith(django_settings.SPECTACULAR_SETTINGS["SCHEMA_PATH_PREFIX"])
]
READS = [operation for operation in OPERATIONS if operation.values[0] == "GET"]
WRITES = [operation for operation in OPERATIONS if operation.values[0] != "GET"]


@pytest.fixture(scope="module")
def api_schema(django_db_setup, django_db_blocker):
    """The schema as the API serves it, read once: it lists the seed's slugs as filter values."""
    with django_db_blocker.unblock(), override_settings(ALLOWED_HOSTS=[HOST]):
        return schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def served(db, settings):
    """The WSGI application serves requests inside the test's transaction.

    At the end of each request Django closes the database connection, which would end that
    transaction (and, on PostgreSQL, lose the connection); Django's own test client does the same.
    """
    settings.ALLOWED_HOSTS = [HOST]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def curator_token() -> str:
    curator = curator_create(username="fuzz-curator", password="a long fuzzing passphrase")
    return Token.objects.create(user=curator).key


def existing_record(view) -> dict[str, str]:
    """The path parameter of a seeded record: random keys would only ever find nothing."""
    record = view.queryset.model.objects.order_by("pk").first()
    return {view.lookup_field: getattr(record, view.lookup_field)}


def fuzz(operation, mode, *, path_parameters=None, headers=None):
    @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def each_request(case):
        cache.clear()  # else the anonymous rate limit would answer most of them 429
        with transaction.atomic():
            case.call_and_validate(headers=headers, excluded_checks=NOT_CHECKED)
            transaction.set_rollback(True)

    each_request()


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize(("method", "path", "view"), READS)
def test_anyone_reading_gets_a_documented_answer(api_schema, served, method, path, view, mode):
    fuzz(api_schema[path][method], mode)


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize(("method", "path", "view"), WRITES)
def test_a_curator_writing_gets_a_documented_answer(
    api_schema, served, curator_token, method, path, view, mode
):
    keyed = "{" in path
    fuzz(
        api_schema[path][method],
        mode,
        path_parameters=existing_record(view) if keyed else None,
        headers={"Authorization": f"Token {curator_token}"},
    )


@pytest.fixture
def stateful_schema(django_db_setup, django_db_blocker):
    """The schema with the links it documents only: schemathesis would add links it infers
    (lists to records, one record to another), which take the scenarios from the chains that a
    client follows, and without the `version` a change needs."""
    only_documented_links = SchemathesisConfig.from_dict(
        {"phases": {"stateful": {"inference": {"algorithms": []}}}}
    )
    with django_db_blocker.unblock(), override_settings(ALLOWED_HOSTS=[HOST]):
        return schemathesis.openapi.from_wsgi(
            "/api/schema/?format=json", application, config=only_documented_links
        )


def test_a_curator_following_the_links_gets_documented_answers(
    stateful_schema, served, curator_token
):
    class CuratorWorkflow(stateful_schema.as_state_machine()):
        def setup(self):
            self.scenario = transaction.atomic()
            self.scenario.__enter__()

        def teardown(self):
            transaction.set_rollback(True)
            self.scenario.__exit__(None, None, None)

        def get_call_kwargs(self, case):
            # JSON answers: a CSV one carries nothing a link can follow (`format` is fuzzed
            # by the tests above).
            return {
                "headers": {"Authorization": f"Token {curator_token}"},
                "params": {"format": "json"},
            }

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # As call_and_validate does: the checks then know the token was sent on purpose.
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=NOT_CHECKED,
                headers=kwargs["headers"],
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

    CuratorWorkflow.run(
        settings=hypothesis_settings(
            max_examples=SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
    )
