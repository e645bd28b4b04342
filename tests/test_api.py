"""The REST API read side: representations, filters, ordering, search, pages, CSV, schema, docs."""

import base64
import csv
import datetime
import hashlib
import io
import json
import re

import django_filters
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models.functions import Lower
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, set_script_prefix
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from agents.filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from agents.models import Agent, NKCellProduct, Target
from nkkb.core.accounts import curator_create
from nkkb.core.links import absolute_record_url, record_url
from trials.choices import TherapyClass
from trials.filtersets import ConditionFilterSet, TrialFilterSet
from trials.models import Condition, Trial

from .conftest import forget_derived_data, forget_responses

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
LISTS = {
    "trials": TrialFilterSet,
    "agents": AgentFilterSet,
    "nk-products": NKCellProductFilterSet,
    "targets": TargetFilterSet,
    "conditions": ConditionFilterSet,
}


@pytest.fixture
def api():
    return APIClient()


def keys(response, key: str) -> list[str]:
    assert response.status_code == 200, response.content
    return [record[key] for record in response.json()["results"]]


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_versioned_root_links_every_endpoint(api):
    root = api.get(f"{V1}/").json()
    # candidates and proposals: curators only
    assert set(root) == {*LISTS, "compatibility", "candidates", "proposals"}
    for name in LISTS:
        assert root[name] == f"http://testserver{V1}/{name}/"
        assert api.get(root[name]).status_code == 200


def test_a_trial_carries_what_it_tests_on_whom_its_results_and_provenance(api):
    trial = api.get(f"{V1}/trials/NCT03019640/").json()

    assert trial["url"] == f"http://testserver{V1}/trials/NCT03019640/"
    assert trial["html_url"] == "http://testserver/trials/NCT03019640/"
    assert trial["ctgov_url"] == "https://clinicaltrials.gov/study/NCT03019640"
    assert (trial["phase"], trial["status"], trial["enrollment"]) == (None, "COMPLETED", 22)
    assert trial["conditions"] == ["Recurrent or treatment-resistant B cell non-Hodgkin lymphoma"]
    assert trial["therapy_classes"] == ["tumor-targeting-mab", "nk-cell-product", "other"]
    rituximab = next(agent for agent in trial["agents"] if agent["slug"] == "rituximab")
    assert rituximab == {
        "name": "rituximab",
        "slug": "rituximab",
        "agent_class": "tumor-targeting-mab",
        "platform": "monoclonal antibody",
        "targets": ["cd20"],
        "role": "investigational",
        "detail": "CD20+ patients only, days 13 to 7 before transplant",
    }
    assert trial["nk_products"] == [
        {"name": "cord blood NK cells", "slug": "cord-blood-nk", "cd16_status": "unknown"}
    ]
    orr = trial["results"][0]
    assert (orr["metric"], orr["value"], orr["unit"]) == ("orr", 84, "percent")
    assert orr["population"] == "all enrolled B cell NHL patients (early results)"
    assert trial["provenance"]["section"] == "6.1" and trial["provenance"]["references"] == [117]
    assert trial["provenance"]["summary"].startswith("Completed study in 22 patients")
    assert [warning["code"] for warning in trial["compatibility_warnings"]] == ["adam17-shedding"]
    assert trial["last_updated"]


def test_times_are_written_in_utc_as_iso_8601(api):
    # The API's own DateTimeField names the site's time zone once (nkkb.core.api.serializers).
    moment = datetime.datetime(2024, 3, 31, 12, 5, 6, 789000, tzinfo=datetime.UTC)
    Trial.objects.filter(nct_id="NCT02138734").update(last_updated=moment)
    forget_responses()
    trial = api.get(f"{V1}/trials/NCT02138734/").json()
    assert trial["last_updated"] == "2024-03-31T12:05:06.789000Z"
    listed = api.get(f"{V1}/trials/?q=NCT02138734&fields=nct_id,last_updated").json()
    assert listed["results"] == [{"nct_id": "NCT02138734", "last_updated": trial["last_updated"]}]


def trials_at(api, record: dict) -> set[str]:
    """The trials a record's `trials_url` lists, checked against its `trial_count`."""
    response = api.get(f"{record['trials_url']}&page_size=100")
    listed = set(keys(response, "nct_id"))
    assert response.json()["count"] == record["trial_count"] == len(listed)
    return listed


def test_agents_products_targets_and_conditions_link_to_their_trials(api):
    agent = api.get(f"{V1}/agents/monalizumab/").json()
    nkg2a = {"name": "NKG2A", "slug": "nkg2a", "kind": "nk-inhibitory-receptor"}
    assert agent["targets"] == [nkg2a]
    assert agent["trials_url"] == f"http://testserver{V1}/trials/?agent=monalizumab"
    assert "NCT02643550" in trials_at(api, agent)

    product = api.get(f"{V1}/nk-products/nk-92/").json()
    assert product["cd16_status"] == "absent"
    assert product["html_url"] == "http://testserver/nk-products/nk-92/"
    assert trials_at(api, api.get(f"{V1}/nk-products/cynk-001/").json()) == {"NCT04310592"}

    target = api.get(f"{V1}/targets/cd33/").json()
    assert "trike-161533" in {agent["slug"] for agent in target["agents"]}
    assert "NCT03214666" in trials_at(api, target)

    condition = api.get(f"{V1}/conditions/mycosis-fungoides/").json()
    assert trials_at(api, condition) == {"NCT04185220", "NCT04101331"}
    assert condition["html_url"] == "http://testserver/trials/?condition=mycosis-fungoides"


def test_a_target_counts_the_trials_of_its_car_nk_products_too(api):
    target = api.get(f"{V1}/targets/bcma/").json()
    assert {product["slug"] for product in target["nk_products"]} >= {"ft576"}
    assert trials_at(api, target) == {"NCT05182073", "NCT05839626", "NCT04975399"}


@pytest.mark.parametrize("endpoint", ["agents", "nk-products", "targets", "conditions"])
def test_each_listed_record_counts_the_trials_its_link_lists(api, endpoint):
    records = api.get(f"{V1}/{endpoint}/", {"page_size": 100}).json()["results"]
    assert any(record["trial_count"] for record in records)
    for record in records:
        trials_at(api, record)


def test_search_matches_words_apart_where_q_needs_the_phrase(api):
    assert keys(api.get(f"{V1}/nk-products/?q=knockout CD38"), "slug") == []
    assert keys(api.get(f"{V1}/nk-products/?search=knockout CD38"), "slug") == ["ft576"]


def test_ordering_sorts_every_list_and_puts_empty_values_last(api):
    by_enrollment = keys(api.get(f"{V1}/trials/?ordering=-enrollment&page_size=3"), "nct_id")
    assert by_enrollment == ["NCT05221840", "NCT02643550", "NCT02321592"]
    ascending = keys(api.get(f"{V1}/trials/?ordering=enrollment&page_size=100"), "nct_id")
    assert Trial.objects.get(nct_id=ascending[-1]).enrollment is None
    for endpoint, model in [
        ("agents", Agent),
        ("nk-products", NKCellProduct),
        ("targets", Target),
        ("conditions", Condition),
    ]:
        listed = keys(api.get(f"{V1}/{endpoint}/?ordering=-name&page_size=100"), "slug")
        by_name = model.objects.order_by(Lower("name").desc())  # case-insensitive
        assert listed == list(by_name.values_list("slug", flat=True))


def test_pages_follow_each_other_and_the_page_size_is_capped(api):
    first = api.get(f"{V1}/trials/?page_size=10&ordering=nct_id").json()
    assert first["count"] == 58 and len(first["results"]) == 10 and first["previous"] is None
    assert "page=2" in first["next"] and "page_size=10" in first["next"]
    last = api.get(first["next"].replace("page=2", "page=6")).json()
    assert len(last["results"]) == 8 and last["next"] is None
    assert len(api.get(f"{V1}/trials/").json()["results"]) == 25

    Condition.objects.bulk_create(
        Condition(name=f"Condition {number}", slug=f"condition-{number}") for number in range(80)
    )
    assert len(api.get(f"{V1}/conditions/?page_size=100000").json()["results"]) == 100


@pytest.mark.parametrize(
    ("url", "status", "field", "message"),
    [
        (f"{V1}/trials/?phase=9z", 400, "phase", "9z is not one of the available choices"),
        (f"{V1}/trials/?agent=no-such-agent", 400, "agent", "no-such-agent"),
        (f"{V1}/trials/?therapy_class=vaccine", 400, "therapy_class", "vaccine"),
        (f"{V1}/trials/?ordering=bogus", 400, "ordering", "bogus"),
        (f"{V1}/targets/?kind=vaccine&format=csv", 400, "kind", "vaccine"),
        (f"{V1}/trials/NCT123/", 404, "detail", "'NCT123' is not an NCT number"),
        (f"{V1}/trials/nct02138734x/", 404, "detail", "is not an NCT number"),
        (f"{V1}/trials/NCT00000000/", 404, "detail", "NKKB has no trial 'NCT00000000'"),
        (f"{V1}/agents/nope/", 404, "detail", "NKKB has no agent 'nope'"),
        (f"{V1}/nk-products/nope/", 404, "detail", "NKKB has no NK cell product 'nope'"),
        (f"{V1}/trials/?page=7", 404, "detail", "Page 7 does not exist"),
        (f"{V1}/trials/?page=last-but-one", 404, "detail", "not an integer"),
        (f"{V1}/compatibility/?agent=nope&product=nk-92", 400, "agent", "slug=nope"),
        (f"{V1}/compatibility/?agent=rituximab", 400, "product", "required"),
        (f"{V1}/no-such-endpoint/", 404, "detail", "no endpoint at /api/v1/no-such-endpoint/"),
        (f"{V1}/nk-products/?search=CD16%00", 400, "search", "Null characters are not allowed"),
        (f"{V1}/trials/?fields=nct_id,bogus", 400, "fields", "Unknown field: bogus. Fields: url"),
        (f"{V1}/trials/NCT04074746/?omit=agents.name", 400, "omit", "Unknown field: agents.name"),
        (f"{V1}/trials/?fields=phase&omit=phase", 400, "fields", "Name at least one field"),
    ],
)
def test_bad_requests_get_a_json_message_not_a_server_error(api, url, status, field, message):
    response = api.get(url)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    detail = response.json()[field]
    assert message in (detail if isinstance(detail, str) else " ".join(detail))


def test_an_empty_ordering_keeps_the_default_order(api):
    default = keys(api.get(f"{V1}/conditions/?page_size=100"), "slug")
    assert keys(api.get(f"{V1}/conditions/?ordering=,&page_size=100"), "slug") == default


def tables_read(query: str) -> int:
    return len(TrialFilterSet(QueryDict(query), queryset=Trial.objects.all()).qs.query.alias_map)


def test_asking_for_more_therapy_classes_or_targets_joins_no_more_rows(api):
    """Joining a trial's agents once per class asked multiplied its rows by its agents per class:
    `therapy_class` given six times made PostgreSQL run out of memory."""
    twice = [*TherapyClass.values, *TherapyClass.values]
    many = "&".join([*(f"therapy_class={value}" for value in twice), "target=cd16&target=cd33"])
    assert tables_read(many) == tables_read("therapy_class=cytokine") == 1  # the trials alone

    combination = "therapy_class=cytokine&therapy_class=nk-cell-product"
    expected = keys(api.get(f"{V1}/trials/?{combination}&page_size=100"), "nct_id")
    assert expected
    repeated = keys(api.get(f"{V1}/trials/?{combination}&{combination}&page_size=100"), "nct_id")
    assert repeated == expected


def filtering_sql(query: str) -> str:
    return str(TrialFilterSet(QueryDict(query), queryset=Trial.objects.all()).qs.query)


def test_search_with_other_filters_finds_what_both_find_without_repeating_them(api):
    """DRF nested every other filter in the subquery of `search`, once more per row: a few of
    them took PostgreSQL minutes."""
    filters = "therapy_class=cytokine&therapy_class=nk-cell-product&phase=1&phase=1-2"
    filtered = set(keys(api.get(f"{V1}/trials/?{filters}&page_size=100"), "nct_id"))
    searched = set(keys(api.get(f"{V1}/trials/?search=IL-2 NK&page_size=100"), "nct_id"))
    both = set(keys(api.get(f"{V1}/trials/?{filters}&search=IL-2 NK&page_size=100"), "nct_id"))
    assert both and both == filtered & searched

    plain = filtering_sql(filters)
    with_search = filtering_sql(f"{filters}&search=IL-2 NK")
    assert with_search.count("agent_class") == plain.count("agent_class")


def test_a_version_the_database_cannot_hold_is_a_400(api):
    curator = curator_create(username="versions", password="a long curator passphrase")
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=curator).key}")
    url = f"{V1}/trials/NCT03019640/"
    title = Trial.objects.get(nct_id="NCT03019640").title
    for version in (2**63 - 1, 2**64):
        response = api.patch(url, {"title": "changed", "version": version}, format="json")
        assert response.status_code == 400 and "version" in response.json(), response.content
    assert Trial.objects.get(nct_id="NCT03019640").title == title


def test_the_pair_check_uses_the_pages_rules(api):
    checked = api.get(f"{V1}/compatibility/?agent=rituximab&product=nk-92").json()
    assert checked["agent"]["slug"] == "rituximab" and checked["product"]["cd16_status"] == "absent"
    assert [warning["code"] for warning in checked["warnings"]] == ["cd16-lacking"]
    assert checked["warnings"][0]["section"] == "8"
    assert api.get(f"{V1}/compatibility/?agent=n-803&product=nk-92").json()["warnings"] == []


@pytest.mark.parametrize("how", ["format", "accept"])
@pytest.mark.parametrize("endpoint", LISTS)
def test_every_list_exports_its_whole_filtered_selection_as_csv(api, endpoint, how):
    order, key = ("nct_id", "nct_id") if endpoint == "trials" else ("name", "slug")
    column = "NCT number" if endpoint == "trials" else key
    query = f"ordering=-{order}&page_size=5"
    if how == "format":
        response = api.get(f"{V1}/{endpoint}/?{query}&format=csv")
    else:
        response = api.get(f"{V1}/{endpoint}/?{query}", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    rows = csv_rows(response)
    model = LISTS[endpoint]._meta.model
    assert len(rows) == model.objects.count()
    descending = Lower(order).desc() if order == "name" else f"-{order}"
    assert rows[0][column] == getattr(model.objects.order_by(descending).first(), key)


def test_csv_flattens_nested_fields_into_aligned_columns(api):
    response = api.get(f"{V1}/agents/?q=rituximab&format=csv")
    [rituximab] = [row for row in csv_rows(response) if row["slug"] == "rituximab"]
    assert rituximab["targets.name"] == "CD20" and rituximab["targets.slug"] == "cd20"
    assert rituximab["provenance.section"] and rituximab["url"].startswith("http://testserver/")
    product = csv_rows(api.get(f"{V1}/nk-products/ft576/?format=csv"))[0]
    assert product["targets.slug"] == "bcma"


def test_trials_csv_is_the_pages_spreadsheet(api, client):
    """One set of columns for the page's Export CSV and the API's CSV: labels, links, targets,
    warnings, results; no internal field."""
    response = api.get(f"{V1}/trials/?therapy_class=engager&page_size=5&format=csv")
    rows = {row["NCT number"]: row for row in csv_rows(response)}
    assert len(rows) == 10
    afm13 = rows["NCT04074746"]
    assert afm13["Agents"] == "AFM13" and afm13["Targets"] == "CD16; CD30"
    assert afm13["NK cell products"] == "cord blood NK cells"
    assert afm13["Therapy classes"] == "NK cell engager; NK cell product"
    assert afm13["Compatibility warnings"].startswith("Caveat: AFM13 depends on CD16")
    assert afm13["NKKB page"] == "http://testserver/trials/NCT04074746/"
    assert "version" not in afm13 and "url" not in afm13
    page = client.get("/trials/?therapy_class=engager&export=csv")
    assert page.content == response.content

    trial = csv_rows(api.get(f"{V1}/trials/NCT03019640/?format=csv"))[0]
    assert trial["Results"].split("; ")[0].startswith("Overall response rate: 84")


def test_an_empty_csv_selection_still_names_its_columns(api):
    response = api.get(f"{V1}/trials/?q=no-such-thing&format=csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 1 and lines[0].startswith("NCT number,Title,NKKB page")


def test_a_csv_larger_than_the_export_limit_is_refused_with_a_message(api, monkeypatch):
    monkeypatch.setattr("nkkb.core.api.viewsets.MAX_EXPORT_ROWS", 57)
    response = api.get(f"{V1}/trials/?format=csv")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "CSV holds up to 57 rows and this selection has 58" in response.json()["format"][0]
    phase_two = TrialFilterSet({"phase": ["2"]}, Trial.objects.all()).qs.count()
    assert len(csv_rows(api.get(f"{V1}/trials/?format=csv&phase=2"))) == phase_two > 0


# Anonymous requests: no session or user query. One query counts the request against the rate
# limit (nkkb.core.throttling), one reads the data version (nkkb.core.caching; on PostgreSQL
# the same statement counts the request), one reads the page
# and then the relations the returned fields read (trials/api/reading.py: one query each, all in
# one on PostgreSQL); a filter whose values name records adds one to check them. A selection of
# facet filters is counted from the facet index (nkkb.core.facets) rather than in SQL; the first
# time after a write (as here: the index is cleared) reading the index costs one query per row
# source of each facet used (two for therapy classes: agents' and products'; the database's
# position comes with the data version). Records that count their trials read the same index
# (conditions: one per level of the condition tree, five in the seed).
def relation_reads(relations: int) -> int:
    return min(relations, 1) if connection.vendor == "postgresql" else relations


# (list, queries besides the relations', relations read)
LIST_READS = [
    ("trials/?", 4, 8),
    ("trials/?therapy_class=cytokine&agent=il-15&", 7, 8),
    ("trials/?fields=nct_id,title,phase&", 4, 0),
    # Discrepancies still read the agents and products that these fields would show.
    ("trials/?omit=agents,nk_products,therapy_classes,compatibility_warnings&", 4, 7),
    ("agents/?", 6, 0),
    ("nk-products/?", 6, 0),
    ("targets/?", 8, 0),
    ("conditions/?", 10, 0),
]
LIST_QUERIES = [
    (url, queries - (connection.vendor == "postgresql") + relation_reads(relations))
    for url, queries, relations in LIST_READS
]


@pytest.mark.parametrize(("url", "queries"), LIST_QUERIES)
def test_every_list_runs_a_constant_number_of_queries(api, django_assert_num_queries, url, queries):
    for page_size in (10, 100):
        forget_derived_data()
        with django_assert_num_queries(queries):
            assert api.get(f"{V1}/{url}page_size={page_size}").status_code == 200


# The trials' spreadsheet reads the targets' names once, for its Targets column (trials.exports).
CSV_QUERIES = [
    (url, queries + (url.startswith("trials/") and "agents" not in url and "fields" not in url))
    for url, queries in LIST_QUERIES
]


@pytest.mark.parametrize(("url", "queries"), CSV_QUERIES)
def test_csv_runs_a_constant_number_of_queries_too(api, django_assert_num_queries, url, queries):
    with django_assert_num_queries(queries):  # the count checks the export limit; no page
        assert api.get(f"{V1}/{url}format=csv").status_code == 200


def test_fields_and_omit_return_what_is_named_and_fetch_only_what_it_reads(api):
    with CaptureQueriesContext(connection) as queries:
        records = api.get(f"{V1}/trials/?fields=nct_id,phase&phase=2").json()["results"]
    assert records and all(set(record) == {"nct_id", "phase"} for record in records)
    prefetches = [q["sql"] for q in queries.captured_queries if '"trial_id" IN (' in q["sql"]]
    assert prefetches == []  # no relation is read for fields that need none
    full = api.get(f"{V1}/trials/NCT04074746/").json()
    trial = api.get(f"{V1}/trials/NCT04074746/?fields=nct_id,therapy_classes").json()
    assert trial == {"nct_id": "NCT04074746", "therapy_classes": full["therapy_classes"]}
    assert trial["therapy_classes"] == ["engager", "nk-cell-product"]
    lean = api.get(f"{V1}/trials/NCT04074746/?omit=results,provenance").json()
    assert lean == {k: v for k, v in full.items() if k not in {"results", "provenance"}}
    both = api.get(f"{V1}/trials/NCT04074746/?fields=nct_id,phase&omit=phase").json()
    assert both == {"nct_id": "NCT04074746"}
    repeated = api.get(f"{V1}/trials/NCT04074746/?fields=nct_id,title&fields=phase").json()
    assert list(repeated) == ["nct_id", "title", "phase"]
    rows = csv_rows(api.get(f"{V1}/trials/?format=csv&phase=2&fields=nct_id,title"))
    assert len(rows) == len(records) and all(list(row) == ["NCT number", "Title"] for row in rows)


def test_the_schema_names_the_fields_a_trial_request_may_select(api):
    schema = api.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"][f"{V1}/trials/"]["get"]["parameters"]}
    for name in ("fields", "omit"):
        assert "nct_id, title, phase" in parameters[name]["description"]


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "schema.yml")


def allowed_values(filter_field) -> set[str]:
    form_field = filter_field.field
    if hasattr(form_field, "queryset"):
        return {getattr(obj, form_field.to_field_name) for obj in form_field.queryset}
    return {str(value) for value, _ in form_field.choices if value != ""}


@pytest.mark.parametrize(("endpoint", "filterset_class"), LISTS.items())
def test_the_schema_documents_every_filter_with_its_allowed_values(api, endpoint, filterset_class):
    schema = api.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"][f"{V1}/{endpoint}/"]["get"]["parameters"]}
    assert {"search", "page", "page_size", "format"} <= set(parameters)
    assert parameters["page_size"]["schema"]["maximum"] == 100
    assert parameters["format"]["schema"]["enum"] == ["csv", "json"]
    for name, filter_field in filterset_class().filters.items():
        if isinstance(filter_field, django_filters.RangeFilter):
            for bound in (f"{name}_min", f"{name}_max"):
                assert parameters[bound]["schema"]["type"] == "integer", bound
            continue
        assert name in parameters, name
        assert parameters[name].get("description"), name
        schema_of = parameters[name]["schema"]
        enum = schema_of.get("enum") or schema_of.get("items", {}).get("enum")
        if hasattr(filter_field.field, "choices"):
            assert set(enum) == allowed_values(filter_field), name
        else:
            assert enum is None and schema_of["type"] in {"string", "boolean"}, name


def test_the_schema_documents_who_may_call_and_every_error(api):
    paths = api.get("/api/schema/?format=json").json()["paths"]
    trials, trial = paths[f"{V1}/trials/"], paths[f"{V1}/trials/{{nct_id}}/"]
    assert {} in trials["get"]["security"]  # anyone reads
    assert {} not in trials["post"]["security"] and {} not in trial["delete"]["security"]
    reads = {"200", "400", "401", "404", "406", "429", "500", "503"}
    assert set(trials["get"]["responses"]) == set(trial["get"]["responses"]) == reads
    assert {"400", "401", "403", "409", "415"} <= set(trial["patch"]["responses"])
    assert {"403", "409"} <= set(paths[f"{V1}/agents/{{slug}}/"]["delete"]["responses"])
    error = trial["get"]["responses"]["404"]["content"]
    assert list(error) == ["application/json"]  # errors are JSON, even for a CSV request


def test_the_schema_lists_the_slugs_a_request_may_name(api):
    schema = api.get("/api/schema/?format=json").json()
    parameters = schema["paths"][f"{V1}/compatibility/"]["get"]["parameters"]
    enums = {parameter["name"]: set(parameter["schema"]["enum"]) for parameter in parameters}
    assert enums == {
        "agent": set(Agent.objects.values_list("slug", flat=True)),
        "product": set(NKCellProduct.objects.values_list("slug", flat=True)),
    }


def test_the_docs_page_works_offline_under_the_sites_csp(api):
    response = api.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(asset.startswith("/") for asset in assets)  # nothing from a CDN
    for asset in assets:
        assert api.get(asset).status_code == 200, asset
    assert "<script>" not in page  # every script is a file: the CSP forbids inline ones
    style = re.search(r"<style>(.*?)</style>", page, re.S)[1]
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy  # its one inline style, and only that, is allowed
    assert json.loads(api.get("/api/schema/?format=json").content)["openapi"].startswith("3.")


def test_anonymous_requests_are_throttled_at_the_documented_rate(
    api, django_user_model, one_rate_limit_period
):
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["anon"]
    assert rate == "120/minute"  # the rate the README documents (API_ANON_THROTTLE_RATE unset)
    allowed, _ = AnonRateThrottle().parse_rate(rate)
    for _ in range(allowed):
        assert api.get(f"{V1}/").status_code == 200
    throttled = api.get(f"{V1}/")
    assert throttled.status_code == 429
    assert "throttled" in throttled.json()["detail"] and int(throttled["Retry-After"]) > 0

    user = django_user_model.objects.create_user("reader")
    api.force_authenticate(user)
    assert api.get(f"{V1}/").status_code == 200  # signed-in users are not throttled


def test_record_urls_follow_the_prefix_the_site_is_served_under(api):
    """Record URLs come from each view's pattern reversed once (nkkb.core.links), per prefix."""
    at_root = api.get(f"{V1}/trials/NCT02138734/").json()
    forget_responses()  # the request's own URL stays the same here
    set_script_prefix("/nkkb/")  # as the WSGI handler sets it from SCRIPT_NAME
    try:
        under_prefix = api.get(f"{V1}/trials/NCT02138734/").json()
    finally:
        set_script_prefix("/")
    assert at_root["url"] == "http://testserver/api/v1/trials/NCT02138734/"
    assert at_root["html_url"] == "http://testserver/trials/NCT02138734/"
    assert under_prefix["url"] == "http://testserver/nkkb/api/v1/trials/NCT02138734/"
    assert under_prefix["html_url"] == "http://testserver/nkkb/trials/NCT02138734/"
    forget_responses()
    assert api.get(f"{V1}/trials/NCT02138734/").json()["url"] == at_root["url"]


@pytest.mark.parametrize("key", ["NCT02138734", "il-15", "x~y_z", "a b", "café", "50%"])
def test_a_record_url_quotes_its_key_as_reverse_does(api, key):
    request = api.get(f"{V1}/").wsgi_request
    expected = reverse("api:agent-detail", args=[key])
    assert record_url("api:agent-detail", key) == expected
    assert absolute_record_url(request, "api:agent-detail", key) == f"http://testserver{expected}"


@pytest.mark.parametrize("endpoint", ["proposals", "candidates"])
def test_a_list_that_cannot_be_searched_says_so(api, endpoint):
    """The curators' lists have no search: `search` was a 500 there (no FilterSet to use)."""
    curator = curator_create(username="searcher", password="a long curator passphrase")
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=curator).key}")
    assert api.get(f"{V1}/{endpoint}/").status_code == 200
    response = api.get(f"{V1}/{endpoint}/?search=x")
    assert response.status_code == 400
    assert response.json() == {"search": ["This list cannot be searched."]}


def test_a_deletion_asked_for_as_csv_answers_204_without_a_body(api):
    curator = curator_create(username="deleter", password="a long curator passphrase")
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=curator).key}")
    trial = Trial.objects.get(nct_id="NCT03019640")
    response = api.delete(f"{V1}/trials/{trial.nct_id}/?version={trial.version}&format=csv")
    assert response.status_code == 204 and response.content == b""
    assert not Trial.objects.filter(nct_id=trial.nct_id).exists()
