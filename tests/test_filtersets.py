"""Each model's FilterSet: what every filter selects, written once, and the same on the list page
and in the API, which both run that FilterSet."""

import re

import pytest
from django.http import QueryDict
from rest_framework.test import APIClient

from agents.filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from agents.models import Agent
from trials.filtersets import ConditionFilterSet, TrialFilterSet
from trials.models import Condition

pytestmark = pytest.mark.django_db

# {list: (FilterSet, the record's key field, its page's path or None, its API path)}
LISTS = {
    "trials": (TrialFilterSet, "nct_id", "/trials/", "/api/v1/trials/"),
    "agents": (AgentFilterSet, "slug", "/agents/", "/api/v1/agents/"),
    "nk-products": (NKCellProductFilterSet, "slug", "/nk-products/", "/api/v1/nk-products/"),
    "targets": (TargetFilterSet, "slug", "/targets/", "/api/v1/targets/"),
    "conditions": (ConditionFilterSet, "slug", None, "/api/v1/conditions/"),
}

# (list, query, the records it selects): the seed as the review describes it.
CASES = [
    ("trials", "agent=il-15&therapy_class=nk-cell-product", {"NCT04623944", "NCT05020678"}),
    ("trials", "therapy_class=engager&therapy_class=nk-cell-product", {"NCT04074746"}),
    ("trials", "therapy_class=engager&target=cd33", {"NCT03214666", "NCT04789655"}),
    (
        "trials",
        "agent=monalizumab",
        {"NCT02643550", "NCT04590963", "NCT04307329", "NCT05221840", "NCT05903092", "NCT02671435"},
    ),
    ("trials", "platform=ROCK", {"NCT02321592", "NCT04101331", "NCT04074746"}),
    ("trials", "nk_product=cynk-001", {"NCT04310592"}),
    ("trials", "cd16_status=high-affinity-non-cleavable", {"NCT05182073"}),
    ("trials", "cd16_status=high-affinity", {"NCT04390399", "NCT05618925"}),
    # Phase and status are best-known: the review's, else the registry snapshot's.
    ("trials", "phase=2-3", {"NCT03022825", "NCT05096663"}),
    ("trials", "phase=3&phase=2-3", {"NCT03022825", "NCT04590963", "NCT05096663", "NCT05221840"}),
    ("trials", "status=TERMINATED", {"NCT04590963", "NCT03214666"}),
    ("trials", "condition=mycosis-fungoides", {"NCT04185220", "NCT04101331"}),
    # A group takes in every condition below it.
    ("trials", "condition=myeloid-neoplasms", {"NCT04310592", "NCT03214666"}),
    (
        "trials",
        "condition=t-and-nk-cell-lymphoma",
        {"NCT05475925", "NCT04185220", "NCT04101331"},
    ),
    # NCT03019640's phase is the registry's: the review does not give it.
    ("trials", "condition=lymphoma&phase=2", {"NCT02321592", "NCT04101331", "NCT03019640"}),
    ("trials", "target=bcma", {"NCT05182073", "NCT05839626", "NCT04975399"}),
    ("trials", "q=NCT05207722", {"NCT05207722"}),
    ("trials", "q=MEDI4736", {"NCT05221840", "NCT05903092", "NCT02671435"}),
    ("trials", "q=bladder", {"NCT02138734", "NCT03022825"}),
    ("trials", "q=cynk", {"NCT04310592", "NCT05207722"}),
    ("trials", "q=no-such-thing", set()),
    # What only the registry snapshot says.
    ("trials", "sponsor=ImmunityBio, Inc.", {"NCT02138734", "NCT04390399"}),
    ("trials", "country=Germany", {"NCT02321592", "NCT04101331"}),
    (
        "trials",
        "enrollment_min=100&enrollment_max=200",
        {"NCT05020678", "NCT05086692", "NCT05182073", "NCT05221840"},
    ),
    ("agents", "agent_class=engager&platform=ANKET", {"iph6501", "sar445514", "sar443579"}),
    ("agents", "target=nkg2a", {"monalizumab"}),
    ("agents", "target=pd-l1", {"avelumab", "durvalumab"}),
    ("agents", "acts_through_cd16=false", {"pertuzumab"}),
    ("agents", "approval_status=under-review", {"n-803"}),
    ("agents", "q=MEDI4736", {"durvalumab"}),
    ("nk-products", "cd16_status=absent", {"nk-92"}),
    ("nk-products", "source=cord-blood", {"cord-blood-nk"}),
    ("nk-products", "donor=haploidentical", {"haploidentical-nk", "haploidentical-il15-nk"}),
    ("nk-products", "target=pd-l1", {"pd-l1-t-hank"}),
    ("nk-products", "q=CD38 knockout", {"ft576"}),
    ("targets", "kind=cytokine-receptor", {"il-2ra", "il-2rb", "common-gamma-chain", "il-15ra"}),
    ("targets", "q=CD122", {"il-2rb"}),
    ("conditions", "q=mycosis", {"mycosis-fungoides"}),
    ("conditions", "parent=melanoma", {"advanced-melanoma", "relapsed-or-metastatic-melanoma"}),
    (
        "conditions",
        "ancestor=head-and-neck-cancer",
        {
            "squamous-cell-carcinoma-of-head-and-neck",
            "recurrent-or-metastatic-squamous-cell-carcinoma-of-head-and-neck",
        },
    ),
]
CASE_IDS = [f"{name}?{query}" for name, query, _ in CASES]

# Model fields no filter offers, each with its reason; every other field has a filter.
UNFILTERED_FIELDS = {
    # Identity, free text and bookkeeping: found through `q` (or by URL), not offered as options.
    "id": "the URL names the record",
    "nct_id": "searched with q",
    "name": "searched with q",
    "slug": "the URL names the record",
    "aliases": "searched with q",
    "title": "searched with q",
    "description": "searched with q",
    "mechanism": "searched with q",
    "engineering": "searched with q",
    "expansion": "searched with q",
    "approval_note": "free text",
    "status_note": "free text: the review's wording of the status",
    "source_section": "provenance, shown on each record",
    "source_references": "provenance, shown on each record",
    "source_quote": "provenance, shown on each record",
    "source_summary": "provenance, shown on each record",
    "placement_basis": "provenance, shown on each record",
    "classification": "provenance, shown on each record",
    "created": "bookkeeping",
    "last_updated": "bookkeeping",
    "version": "optimistic locking",
    # Numbers that are sorted rather than filtered (the trial list orders by enrollment).
    "enrollment": "sorted by ordering=enrollment",
    "start_year": "known for one trial only",
}
# Fields a filter of another name selects by: the relation a slug filter reads, and so on.
FILTER_FIELD_NAMES = {
    "targets": "target",
    "agents": "agent",
    "nk_products": "nk_product",
    "conditions": "condition",
}


def filtered_keys(name: str, query: str) -> set[str]:
    filterset_class, key, _, _ = LISTS[name]
    model = filterset_class._meta.model
    filterset = filterset_class(QueryDict(query), queryset=model.objects.all())
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs.values_list(key, flat=True))


def page_keys(client, name: str, query: str) -> set[str]:
    _, key, page, _ = LISTS[name]
    response = client.get(f"{page}?{query}&page_size=100")
    assert response.status_code == 200
    link = r"(NCT\d{8})/\">NCT" if key == "nct_id" else r"([\w-]+)/\">"
    return set(re.findall(rf'<a href="{page}{link}', response.content.decode()))


def api_keys(name: str, query: str) -> set[str]:
    _, key, _, endpoint = LISTS[name]
    response = APIClient().get(f"{endpoint}?{query}&page_size=100")
    assert response.status_code == 200, response.content
    return {record[key] for record in response.json()["results"]}


@pytest.mark.parametrize(("name", "query", "expected"), CASES, ids=CASE_IDS)
def test_each_filter_selects_what_the_review_describes(name, query, expected):
    assert filtered_keys(name, query) == expected


@pytest.mark.parametrize(("name", "query", "expected"), CASES, ids=CASE_IDS)
def test_the_page_and_the_api_list_the_same_records(client, name, query, expected):
    assert api_keys(name, query) == expected
    if LISTS[name][2] is not None:
        assert page_keys(client, name, query) == expected


@pytest.mark.parametrize(
    ("name", "query", "expected"),
    [
        ("trials", "search=MEDI4736", {"NCT05221840", "NCT05903092", "NCT02671435"}),
        ("nk-products", "search=knockout CD38", {"ft576"}),
    ],
)
def test_the_apis_search_takes_words_apart_as_q_takes_them(name, query, expected):
    assert api_keys(name, query) == expected


@pytest.mark.parametrize("name", LISTS)
def test_every_field_has_a_filter_or_a_reason_for_none(name):
    filterset_class = LISTS[name][0]
    model = filterset_class._meta.model
    fields = {field.name for field in [*model._meta.concrete_fields, *model._meta.many_to_many]}
    filters = set(filterset_class.base_filters)
    without_filter = {
        field
        for field in fields
        if field not in filters and FILTER_FIELD_NAMES.get(field) not in filters
    }
    assert without_filter <= set(UNFILTERED_FIELDS), without_filter - set(UNFILTERED_FIELDS)


def test_choices_read_from_the_database_follow_it_after_the_form_was_first_built():
    # Each FilterSet class builds its form once; options that come from the records must not
    # be frozen in it.
    assert not TrialFilterSet(QueryDict("condition=newly-curated")).is_valid()
    Condition.objects.create(name="Newly curated", slug="newly-curated")
    filterset = TrialFilterSet(QueryDict("condition=newly-curated"))
    assert filterset.is_valid(), filterset.errors
    assert "Newly curated" in dict(filterset.form.fields["condition"].choices)["newly-curated"]


def test_each_filterset_filters_with_filters_of_its_own():
    # FilterSets share what their filters were declared with, not the filters.
    first = TrialFilterSet(QueryDict("q=haploidentical"))
    second = TrialFilterSet(QueryDict("q=ipilimumab"))
    for filterset in (first, second):
        for name, filter_ in filterset.filters.items():
            assert filter_ is not TrialFilterSet.base_filters[name]
            assert filter_.parent is filterset
        # A method filter (`q`) calls the method of its own FilterSet.
        assert filterset.filters["q"].filter.method.__self__ is filterset
    # What one FilterSet sets on a filter, no other sees.
    first.filters["agent"].extra["queryset"] = Agent.objects.none()
    assert second.filters["agent"].extra["queryset"].exists()
    assert TrialFilterSet.base_filters["agent"].extra["queryset"].exists()
