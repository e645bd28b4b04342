"""The REST API write side: who may do what, validation as admin does it, and the edit trail."""

import json
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from agents.models import Agent, NKCellProduct, Target
from nkkb.core.accounts import PermissionsBackend, account_create
from nkkb.core.api.exceptions import exception_handler
from nkkb.core.caching import data_version
from nkkb.core.models import StoredFacet, StoredFacetOption
from nkkb.core.stored_facets import MendStoredFacetsMiddleware, refresh_every
from trials.api.reading import TRIAL_RELATIONS
from trials.api.serializers import TrialSerializer
from trials.models import Condition, Trial, TrialAgent
from trials.stored_facets import STORED_FACETS

from .conftest import dotted_path

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
PROVENANCE = {
    "section": "8",
    "references": [180],
    "quote": "a short verbatim fragment",
    "summary": "What the review says, in the curator's words.",
}


MEND_MIDDLEWARE = dotted_path(MendStoredFacetsMiddleware)


@dataclass(frozen=True)
class Endpoint:
    """One writable endpoint, filled with a valid new record and a change to it."""

    name: str
    model: type
    lookup: str
    create: dict
    change: dict = field(default_factory=dict)

    def detail(self, key: str) -> str:
        return f"{V1}/{self.name}/{key}/"

    @property
    def key(self) -> str:
        return self.create[self.lookup]


ENDPOINTS = [
    Endpoint(
        "trials",
        Trial,
        "nct_id",
        create={
            "nct_id": "NCT09999991",
            "title": "IL-15 superagonist with NK-92 cells",
            "phase": "2",
            "status": "RECRUITING",
            "enrollment": 40,
            "conditions": ["mycosis-fungoides"],
            "agents": [{"agent": "n-803", "role": "investigational"}],
            "nk_products": ["nk-92"],
            "provenance": PROVENANCE,
        },
        change={"title": "IL-15 superagonist with NK-92 cells, edited"},
    ),
    Endpoint(
        "agents",
        Agent,
        "slug",
        create={
            "slug": "new-cytokine",
            "name": "New cytokine",
            "agent_class": "cytokine",
            "targets": ["il-2rb"],
            "provenance": PROVENANCE,
        },
        change={"mechanism": "Binds IL-2Rb."},
    ),
    Endpoint(
        "nk-products",
        NKCellProduct,
        "slug",
        create={
            "slug": "new-nk",
            "name": "New NK cells",
            "source": "cord-blood",
            "cd16_status": "native",
            "targets": ["cd19"],
            "provenance": PROVENANCE,
        },
        change={"donor": "allogeneic"},
    ),
    Endpoint(
        "targets",
        Target,
        "slug",
        create={
            "slug": "new-antigen",
            "name": "New antigen",
            "kind": "tumor-antigen",
            "provenance": PROVENANCE,
        },
        change={"description": "Found on tumor cells."},
    ),
    Endpoint(
        "conditions",
        Condition,
        "slug",
        create={"slug": "new-condition", "name": "New condition"},
        change={"name": "New condition, renamed"},
    ),
]
ENDPOINT_IDS = [endpoint.name for endpoint in ENDPOINTS]
TRIALS = ENDPOINTS[0]


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def grant_all(user, model):
    content_type = ContentType.objects.get_for_model(model)
    codenames = [f"{action}_{model._meta.model_name}" for action in ("add", "change", "delete")]
    user.user_permissions.add(
        *Permission.objects.filter(content_type=content_type, codename__in=codenames)
    )


@pytest.fixture
def curator(django_user_model):
    """A user holding every API model's add, change and delete permission, and nothing more."""
    user = django_user_model.objects.create_user("curator")
    for endpoint in ENDPOINTS:
        grant_all(user, endpoint.model)
    return user


@pytest.fixture
def clients(django_user_model, curator):
    return {
        "anonymous": APIClient(),
        "reader": token_client(django_user_model.objects.create_user("reader")),
        "curator": token_client(curator),
    }


@pytest.fixture
def as_curator(clients):
    return clients["curator"]


def create(endpoint: Endpoint, client) -> None:
    response = client.post(f"{V1}/{endpoint.name}/", endpoint.create, format="json")
    assert response.status_code == 201, response.content


DENIED = {"anonymous": 401, "reader": 403}
ROLES = ["anonymous", "reader", "curator"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_everyone_reads(clients, endpoint, role):
    create(endpoint, clients["curator"])
    assert clients[role].get(f"{V1}/{endpoint.name}/").status_code == 200
    assert clients[role].get(endpoint.detail(endpoint.key)).status_code == 200


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_only_curators_create(clients, endpoint, role):
    response = clients[role].post(f"{V1}/{endpoint.name}/", endpoint.create, format="json")
    exists = endpoint.model.objects.filter(**{endpoint.lookup: endpoint.key}).exists()
    if role == "curator":
        assert response.status_code == 201, response.content
        assert response.json()[endpoint.lookup] == endpoint.key and exists
    else:
        assert response.status_code == DENIED[role] and not exists


def read_version(client, url: str) -> dict:
    """The `version` a client sends with a change: the one it last read (if the record has one)."""
    record = client.get(url).json()
    return {"version": record["version"]} if "version" in record else {}


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_only_curators_change(clients, endpoint, role, method):
    create(endpoint, clients["curator"])
    payload = {**endpoint.create, **endpoint.change} if method == "put" else endpoint.change
    payload = {**payload, **read_version(clients["curator"], endpoint.detail(endpoint.key))}
    response = getattr(clients[role], method)(endpoint.detail(endpoint.key), payload, format="json")
    record = endpoint.model.objects.get(**{endpoint.lookup: endpoint.key})
    changed = all(getattr(record, name) == value for name, value in endpoint.change.items())
    if role == "curator":
        assert response.status_code == 200, response.content
        assert changed and response.json().items() >= endpoint.change.items()
    else:
        assert response.status_code == DENIED[role] and not changed


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_only_curators_delete(clients, endpoint, role):
    create(endpoint, clients["curator"])
    version = endpoint.model.objects.get(**{endpoint.lookup: endpoint.key}).version
    response = clients[role].delete(f"{endpoint.detail(endpoint.key)}?version={version}")
    exists = endpoint.model.objects.filter(**{endpoint.lookup: endpoint.key}).exists()
    if role == "curator":
        assert response.status_code == 204 and not exists
        assert clients[role].get(endpoint.detail(endpoint.key)).status_code == 404
    else:
        assert response.status_code == DENIED[role] and exists


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("role", ROLES)
def test_the_pair_check_only_reads(clients, role, method):
    url = f"{V1}/compatibility/?agent=rituximab&product=nk-92"
    assert clients[role].get(url).status_code == 200
    assert getattr(clients[role], method)(url, {}, format="json").status_code == 405


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_methods_a_url_does_not_take_are_405_even_for_curators(as_curator, endpoint):
    create(endpoint, as_curator)
    for method in ("put", "patch", "delete"):
        assert getattr(as_curator, method)(f"{V1}/{endpoint.name}/").status_code == 405
    assert as_curator.post(endpoint.detail(endpoint.key), {}, format="json").status_code == 405


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_options_describe_the_writable_fields_to_curators_only(clients, endpoint):
    described = clients["curator"].options(f"{V1}/{endpoint.name}/").json()
    assert set(endpoint.create) <= set(described["actions"]["POST"])
    assert "actions" not in clients["reader"].options(f"{V1}/{endpoint.name}/").json()


def test_a_permission_for_one_model_does_not_open_another(django_user_model):
    user = django_user_model.objects.create_user("condition-curator")
    grant_all(user, Condition)
    client = token_client(user)
    assert client.post(f"{V1}/conditions/", ENDPOINTS[4].create, format="json").status_code == 201
    assert client.post(f"{V1}/targets/", ENDPOINTS[3].create, format="json").status_code == 403


def test_a_users_permissions_are_those_djangos_model_backend_reads(django_user_model, curator):
    contributor = account_create(
        username="contributor", password="a long passphrase", role="contributor"
    )
    both = account_create(username="both", password="a long passphrase", role="curator")
    grant_all(both, Condition)
    both.groups.add(Group.objects.get(name="contributors"))
    inactive = account_create(username="gone", password="a long passphrase", role="curator")
    inactive.is_active = False
    inactive.save()
    admin = django_user_model.objects.create_superuser("admin")
    nobody = django_user_model.objects.create_user("nobody")
    for user in (curator, contributor, both, inactive, admin, nobody):
        read = PermissionsBackend().get_all_permissions(django_user_model.objects.get(pk=user.pk))
        assert read == ModelBackend().get_all_permissions(django_user_model.objects.get(pk=user.pk))
    assert "trials.change_trial" in PermissionsBackend().get_all_permissions(both)


def test_a_withdrawn_permission_refuses_the_next_write(curator):
    client = token_client(curator)
    create(ENDPOINTS[4], client)
    curator.user_permissions.remove(*Permission.objects.filter(codename="add_condition"))
    payload = {**ENDPOINTS[4].create, "slug": "another", "name": "Another"}
    assert client.post(f"{V1}/conditions/", payload, format="json").status_code == 403


def test_a_bad_token_is_refused_with_its_scheme(clients):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(f"{V1}/trials/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert clients["anonymous"].post(f"{V1}/trials/", {})["WWW-Authenticate"] == "Token"


def test_a_session_write_needs_the_csrf_token(curator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(curator)
    url = f"{V1}/conditions/"
    refused = client.post(url, ENDPOINTS[4].create, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]

    client.get("/api/docs/?script=")  # a page that hands out the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(url, ENDPOINTS[4].create, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201


def test_a_trial_is_written_with_its_agents_products_and_conditions(as_curator):
    payload = {
        **TRIALS.create,
        "agents": [
            {"agent": "n-803", "role": "investigational"},
            {"agent": "rituximab", "role": "combination", "detail": "weekly"},
        ],
    }
    trial = as_curator.post(f"{V1}/trials/", payload, format="json").json()

    assert trial["therapy_classes"] == ["cytokine", "tumor-targeting-mab", "nk-cell-product"]
    assert [(a["slug"], a["role"], a["detail"]) for a in trial["agents"]] == [
        ("n-803", "investigational", None),
        ("rituximab", "combination", "weekly"),
    ]
    assert trial["nk_products"][0]["slug"] == "nk-92"
    assert trial["conditions"] == ["Mycosis fungoides"]
    assert {w["code"] for w in trial["compatibility_warnings"]} == {"cd16-lacking"}
    assert trial["provenance"] == PROVENANCE
    assert as_curator.get(trial["url"]).json() == trial


def test_replacing_a_trials_agents_keeps_the_links_that_stay(as_curator):
    create(TRIALS, as_curator)
    kept = TrialAgent.objects.get(trial__nct_id=TRIALS.key, agent__slug="n-803")
    agents = [{"agent": "n-803", "role": "combination"}, {"agent": "il-2", "role": "combination"}]

    url = TRIALS.detail(TRIALS.key)
    response = as_curator.patch(
        url, {"agents": agents, **read_version(as_curator, url)}, format="json"
    )

    assert response.status_code == 200
    links = TrialAgent.objects.filter(trial__nct_id=TRIALS.key)
    assert {(link.agent.slug, link.role) for link in links} == {
        ("n-803", "combination"),
        ("il-2", "combination"),
    }
    assert links.get(agent__slug="n-803").pk == kept.pk
    as_curator.patch(url, {"title": "Retitled", **read_version(as_curator, url)}, format="json")
    assert links.count() == 2  # a write that leaves `agents` out leaves them alone


def test_every_api_edit_is_recorded_with_its_author(as_curator, curator):
    create(TRIALS, as_curator)
    url = TRIALS.detail(TRIALS.key)
    as_curator.patch(url, {**TRIALS.change, **read_version(as_curator, url)}, format="json")
    trial = Trial.objects.get(nct_id=TRIALS.key)
    records = list(trial.history.all())  # newest first; setting related records adds some
    assert records[-1].history_type == "+" and records[0].history_type == "~"
    assert records[0].title == TRIALS.change["title"]
    assert {record.history_user for record in records} == {curator}
    link = TrialAgent.objects.get(trial=trial)
    assert link.history.get().history_user == curator


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"nct_id": "NCT123"}, {"nct_id"}),
        ({"nct_id": "NCT03019640"}, {"nct_id"}),  # taken
        ({"enrollment": -1}, {"enrollment"}),
        ({"phase": "II"}, {"phase"}),
        ({"conditions": ["no-such-condition"]}, {"conditions"}),
        ({"nk_products": ["no-such-product"]}, {"nk_products"}),
        ({"agents": [{"agent": "no-such-agent"}]}, {"agents"}),
        ({"agents": [{"agent": "n-803", "role": "sponsor"}]}, {"agents"}),
        ({"agents": [{"agent": "n-803"}, {"agent": "n-803"}]}, {"agents"}),
        ({"provenance": {**PROVENANCE, "section": "10"}}, {"provenance"}),
        ({"provenance": {**PROVENANCE, "references": [0]}}, {"provenance"}),
        ({"provenance": {**PROVENANCE, "quote": "x" * 201}}, {"provenance"}),
        ({"provenance": None}, {"provenance"}),
    ],
)
def test_an_invalid_trial_is_refused_field_by_field_and_nothing_is_written(
    as_curator, changes, errors
):
    count = Trial.objects.count()
    response = as_curator.post(f"{V1}/trials/", {**TRIALS.create, **changes}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == errors
    assert Trial.objects.count() == count and not TrialAgent.objects.filter(trial=None).exists()


@pytest.mark.parametrize(
    "changes",
    [{"nct_id": "NCT123"}, {"nct_id": "NCT03019640"}, {"enrollment": -1}, {"phase": "II"}],
    ids=["malformed", "taken", "negative", "unknown"],
)
def test_a_patch_is_refused_for_what_it_sends_and_changes_nothing(as_curator, changes):
    url = f"{V1}/trials/NCT02138734/"
    before = as_curator.get(url).json()
    response = as_curator.patch(url, {**changes, **read_version(as_curator, url)}, format="json")
    assert response.status_code == 400 and set(response.json()) == set(changes)
    assert as_curator.get(url).json() == before


def test_a_patch_checks_every_constraint_that_reads_a_field_it_sends(as_curator):
    """A condition placed under another must say what the placement rests on: a PATCH that sends
    the parent alone is checked against the basis it did not send (a 400, not the database's
    error)."""
    conditions = ENDPOINTS[4]
    create(conditions, as_curator)
    url = conditions.detail(conditions.key)
    assert as_curator.get(url).json()["provenance"]["basis"] is None
    change = {"parent": "hematologic-malignancies", **read_version(as_curator, url)}
    response = as_curator.patch(url, change, format="json")
    assert response.status_code == 400
    assert "rests on" in json.dumps(response.json())
    assert Condition.objects.get(slug=conditions.key).parent is None


@pytest.mark.parametrize(
    ("change", "checked"),
    [
        ({"title": "Edited title"}, set()),
        ({"enrollment": 12}, {"check"}),
        ({"nct_id": "NCT09999992"}, {"check", "unique"}),
    ],
    ids=["title", "enrollment", "nct_id"],
)
def test_a_patch_checks_the_constraints_of_what_it_sends_alone(as_curator, change, checked):
    """Each constraint check is a query: a PATCH of a trial's title leaves its NCT number's
    uniqueness and format, phase, status and enrollment, which the database accepted, alone;
    a PATCH that sends one of them checks it."""
    url = f"{V1}/trials/NCT02138734/"
    with CaptureQueriesContext(connection) as queries:
        response = as_curator.patch(url, {**change, **read_version(as_curator, url)}, format="json")
    assert response.status_code == 200, response.content
    statements = {
        "check": '"_check"',  # a check constraint, tested by the database
        "unique": 'FROM "trials_trial" WHERE ("trials_trial"."nct_id" =',
    }
    ran = {kind for kind, sql in statements.items() if any(sql in q["sql"] for q in queries)}
    assert ran == checked


def test_a_check_only_the_model_knows_is_a_field_message_not_a_server_error(as_curator):
    """An empty phase passes DRF's field, but not the database's vocabulary constraint:
    the model's full_clean, run as admin runs it, turns that into a 400."""
    response = as_curator.post(f"{V1}/trials/", {**TRIALS.create, "phase": ""}, format="json")
    assert response.status_code == 400
    assert "phase must be one of" in " ".join(response.json()["non_field_errors"])
    assert not Trial.objects.filter(nct_id=TRIALS.key).exists()


def test_provenance_errors_carry_the_api_field_names(as_curator):
    payload = {**ENDPOINTS[1].create, "provenance": {**PROVENANCE, "references": [True]}}
    response = as_curator.post(f"{V1}/agents/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["provenance"]) == {"references"}

    payload = {**ENDPOINTS[1].create, "aliases": ["", "N803"]}
    assert set(as_curator.post(f"{V1}/agents/", payload, format="json").json()) == {"aliases"}


def test_a_patch_is_validated_against_the_whole_record(as_curator):
    response = as_curator.patch(f"{V1}/targets/cd33/", {"name": "CD19"}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"name"}
    assert Target.objects.get(slug="cd33").name == "CD33"


def test_deleting_an_agent_that_trials_use_is_a_conflict_that_names_them(as_curator):
    version = Agent.objects.get(slug="rituximab").version
    response = as_curator.delete(f"{V1}/agents/rituximab/?version={version}")
    assert response.status_code == 409
    assert "rituximab in NCT03019640" in response.json()["detail"]
    assert Agent.objects.filter(slug="rituximab").exists()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("slug=x&name=X", "application/x-www-form-urlencoded", 415),
    ],
)
def test_a_body_that_is_not_json_is_refused(as_curator, body, content_type, status):
    response = as_curator.post(f"{V1}/conditions/", body, content_type=content_type)
    assert response.status_code == status and response.json()["detail"]


def test_the_exception_handler_turns_a_django_validation_error_into_a_400():
    """For errors raised by model code outside a serializer's own validation."""
    error = DjangoValidationError({"name": ["Too short."], NON_FIELD_ERRORS: ["Inconsistent."]})
    response = exception_handler(error, {})
    assert response.status_code == 400
    assert response.data == {"name": ["Too short."], "non_field_errors": ["Inconsistent."]}
    assert exception_handler(DjangoValidationError("Wrong."), {}).data == {
        "non_field_errors": ["Wrong."]
    }


def test_two_curators_editing_one_trial_do_not_lose_an_edit(as_curator):
    url = f"{V1}/trials/NCT02138734/"
    first_read = read_version(as_curator, url)
    second_read = read_version(as_curator, url)

    first = as_curator.patch(url, {"enrollment": 10, **first_read}, format="json")
    second = as_curator.patch(url, {"status_note": "second curator", **second_read}, format="json")

    assert first.status_code == 200
    assert second.status_code == 409 and "read it again" in second.json()["detail"]
    trial = Trial.objects.get(nct_id="NCT02138734")
    assert (trial.enrollment, trial.status_note) == (10, None)
    retried = as_curator.patch(
        url, {"status_note": "second curator", **read_version(as_curator, url)}, format="json"
    )
    assert retried.status_code == 200
    trial.refresh_from_db()
    assert (trial.enrollment, trial.status_note) == (10, "second curator")


def test_a_change_without_the_version_it_is_based_on_is_refused(as_curator):
    response = as_curator.patch(f"{V1}/agents/n-803/", {"mechanism": "x"}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"version"}
    assert Agent.objects.get(slug="n-803").mechanism != "x"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
def test_a_new_record_starts_at_its_first_version_whatever_the_client_sends(as_curator, endpoint):
    """A version near the column's maximum, taken as sent, left the record no next version: its
    first edit answered a version past the schema's maximum, and no edit could follow."""
    payload = {**endpoint.create, "version": 2**63 - 2}
    created = as_curator.post(f"{V1}/{endpoint.name}/", payload, format="json")
    assert created.status_code == 201, created.content
    url = f"{V1}/{endpoint.name}/{created.json()[endpoint.lookup]}/"
    version = created.json()["version"]
    assert version < 2**62  # the versions django-concurrency makes, not the one sent
    for _ in range(2):
        changed = as_curator.patch(url, {**endpoint.change, "version": version}, format="json")
        assert changed.status_code == 200, changed.content
        version = changed.json()["version"]


def serializer_representation(nct_id: str) -> dict:
    """What TrialSerializer makes of the trial as the database holds it."""
    request = Request(APIRequestFactory().get(f"{V1}/trials/{nct_id}/"))
    trial = Trial.objects.with_related().get(nct_id=nct_id)
    return json.loads(
        JSONRenderer().render(TrialSerializer(trial, context={"request": request}).data)
    )


def test_a_write_answers_with_the_trial_as_the_serializer_gives_it(as_curator):
    created = as_curator.post(f"{V1}/trials/?fields=nct_id", TRIALS.create, format="json")
    assert created.status_code == 201
    assert created.json() == serializer_representation(TRIALS.key)
    assert created["Location"] == created.json()["url"]
    version = created.json()["version"]
    changed = {"title": "Changed", "agents": [{"agent": "il-2", "role": "combination"}]}
    patched = as_curator.patch(TRIALS.detail(TRIALS.key), {**changed, "version": version})
    assert patched.status_code == 200
    assert patched.json() == serializer_representation(TRIALS.key)
    assert patched.json()["title"] == "Changed" and patched.json()["agents"][0]["slug"] == "il-2"


def test_a_change_to_a_trials_title_reads_its_relations_once_for_the_answer(as_curator, settings):
    """The record changed is read without its relations (the serializer reads those it
    changes); the answer reads each once. (The stored facets' mend after the write, which reads
    relations of its own, is tested apart.)"""
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != MEND_MIDDLEWARE]
    version = as_curator.get(f"{V1}/trials/NCT03019640/").json()["version"]
    with CaptureQueriesContext(connection) as queries:
        response = as_curator.patch(
            f"{V1}/trials/NCT03019640/", {"title": "Changed", "version": version}, format="json"
        )
    assert response.status_code == 200 and response.json()["title"] == "Changed"
    # On PostgreSQL the relations are read together, by a function (trials/api/reading.py).
    relation_reads = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT")
        and ('"trials_result"' in query["sql"] or TRIAL_RELATIONS.function in query["sql"])
    ]
    assert len(relation_reads) == 1


def test_a_write_mends_the_stored_facets_before_it_is_answered(as_curator):
    """So that the first list page read after it need not (a reader's mend costs queries)."""
    refresh_every()
    url = f"{V1}/trials/NCT03019640/"
    change = {"phase": "3", **read_version(as_curator, url)}
    assert as_curator.patch(url, change, format="json").status_code == 200
    version, _ = data_version()
    assert set(StoredFacet.objects.values_list("version", flat=True)) == {version}
    for facet in STORED_FACETS.values():
        assert set(
            StoredFacetOption.objects.filter(facet_id=facet.name).values_list("value", "result_id")
        ) == set(facet.rows(None))
