"""The trial API's read path from plain rows (trials/api/reading.py) gives, byte for byte, what
TrialSerializer gives from model instances; the API's JSON writer writes the bytes DRF's would;
and a request reads the data version once."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from agents.choices import CD16Status
from agents.compatibility import UNRECORDED
from agents.models import Agent, NKCellProduct
from nkkb.core import facets
from nkkb.core.api import renderers
from nkkb.core.api.filters import selected_fields
from nkkb.core.caching import (
    DATA_STATE_COUNTING_FUNCTION,
    DATA_STATE_FUNCTION,
    data_version,
    data_version_per_request,
    newest_rows_statement,
)
from trials.api.reading import trial_records, trial_rows
from trials.api.serializers import TrialSerializer
from trials.api.views import TrialCSVRenderer, TrialViewSet
from trials.discrepancies import trial_discrepancies
from trials.filtersets import TrialFilterSet
from trials.models import Condition, Result, Trial

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
SELECTIONS = [
    "",
    "fields=nct_id,title,phase",
    "fields=url,html_url,ctgov_url,conditions,provenance,last_updated,version",
    "fields=agents,therapy_classes",
    "fields=nk_products,compatibility_warnings,caveats",
    "fields=registry,discrepancies",
    "omit=results,provenance",
    "omit=agents,nk_products,therapy_classes,compatibility_warnings",
]


@pytest.fixture
def api():
    return APIClient()


def serializer_data(url: str, trials, *, many: bool, view=None):
    """What TrialSerializer makes of `trials` (model instances) for a request to `url`."""
    request = view.request if view else Request(APIRequestFactory().get(url))
    selected = selected_fields(request, TrialSerializer)
    serializer = TrialSerializer(
        trials,
        many=many,
        context={"request": request, "format": None, "view": view},
        **({"fields": selected} if selected is not None else {}),
    )
    return serializer.data


def serialized(url: str, trials, *, many: bool) -> bytes:
    return JSONRenderer().render(serializer_data(url, trials, many=many))


def instances(query: str = ""):
    """The trials (model instances) that the first page of the list for `query` holds."""
    filterset = TrialFilterSet(QueryDict(query), queryset=Trial.objects.all())
    return list(filterset.qs.with_related()[:100])


def assert_list_reads_as_serialized(api, query: str) -> list[Trial]:
    url = f"{V1}/trials/?{query}&page_size=100"
    response = api.get(url)
    assert response.status_code == 200, response.content
    results = response.data["results"]
    trials = instances(query)
    assert len(results) == len(trials) > 0
    assert JSONRenderer().render(results) == serialized(url, trials, many=True)
    return trials


@pytest.mark.parametrize("selection", SELECTIONS)
def test_the_seed_trials_read_as_the_serializer_gives_them(api, selection):
    assert len(assert_list_reads_as_serialized(api, selection)) == 58


@pytest.mark.parametrize("selection", ["", "fields=nct_id,registry,discrepancies"])
def test_each_seed_trials_record_reads_as_the_serializer_gives_it(api, selection):
    trials = instances()
    # The seed holds what the fields show at their fullest: registry records that differ from
    # the curated trial, caveats that name an agent, caveats and open checks of the rules.
    assert any(trial_discrepancies(trial, trial.registry_record) for trial in trials)
    assert any(caveat.agent for trial in trials for caveat in trial.caveats.all())
    assert {w.severity for t in trials for w in t.compatibility_warnings} >= {"caveat", UNRECORDED}
    for trial in trials:
        url = f"{V1}/trials/{trial.nct_id}/?{selection}"
        assert api.get(url).content == serialized(url, trial, many=False), trial.nct_id


@pytest.mark.parametrize("selection", SELECTIONS)
def test_a_page_of_synthetic_trials_reads_as_the_serializer_gives_it(
    api, empty_knowledge_base, selection
):
    call_command("generate_synthetic", "--trials", 150, stdout=None)
    trials = assert_list_reads_as_serialized(api, f"q=synthetic&{selection}")
    assert len(trials) == 100 and all(trial.nct_id.startswith("NCT9") for trial in trials)


@pytest.mark.parametrize(
    "selection", ["therapy_class=cytokine", "agent=il-15&fields=agents,therapy_classes", "q=NK"]
)
def test_a_walked_page_reads_as_the_serializer_gives_it(api, monkeypatch, selection):
    """A selection's page found by walking the default ordering (nkkb.core.facets): on
    PostgreSQL taken as its ids, its rows read with its relations."""
    monkeypatch.setattr(facets, "MIN_WALKED_IDS", 0)
    assert_list_reads_as_serialized(api, selection)


def test_a_walked_page_reads_its_rows_in_its_relations_statement_on_postgresql(api, monkeypatch):
    monkeypatch.setattr(facets, "MIN_WALKED_IDS", 0)
    url = f"{V1}/trials/?therapy_class=cytokine&page_size=5"
    assert api.get(url).json()["count"] > 10  # reads the facet index
    with CaptureQueriesContext(connection) as queries:
        assert api.get(f"{V1}/trials/?therapy_class=cytokine&page_size=5&page=2").json()["results"]
    statements = [query["sql"] for query in queries]
    if connection.vendor == "postgresql":
        # The data version, then the page's rows with their relations.
        assert len(statements) == 2 and "nkkb_trial_relations(" in statements[1], statements
    else:
        # The rate limit, the data version, the rows, then each relation.
        assert len(statements) == 3 + 8, statements


def test_trials_read_by_their_ids_are_the_trials_read_from_their_rows():
    rows = list(trial_rows(Trial.objects.all()))[::-1]
    ids = [row["id"] for row in rows]
    fields = TrialSerializer.Meta.fields
    from_rows = trial_records(rows, fields)
    assert len(from_rows) == 58 and [trial.id for trial in from_rows] == ids
    assert trial_records(ids, fields) == from_rows
    # A trial deleted since its id was read is left out.
    assert trial_records([*ids, max(ids) + 1], fields) == from_rows


def test_values_the_seed_lacks_read_the_same_both_ways(api):
    """A product whose CD16 is low (a warning proper) with a CD16-dependent agent whose
    platform is not recorded."""
    NKCellProduct.objects.filter(slug="cord-blood-nk").update(cd16_status=CD16Status.LOW)
    Agent.objects.filter(slug="rituximab").update(platform=None)
    trials = assert_list_reads_as_serialized(api, "agent=rituximab")
    codes = {warning.code for trial in trials for warning in trial.compatibility_warnings}
    assert "cd16-lacking" in codes


@pytest.mark.parametrize("selection", ["", "fields=nct_id,agents", "omit=compatibility_warnings"])
def test_the_csv_is_the_spreadsheet_of_the_serializers_representation(api, selection):
    url = f"{V1}/trials/?format=csv&{selection}"
    response = api.get(url)
    assert response.status_code == 200
    request = Request(APIRequestFactory().get(url))
    view = TrialViewSet(request=request, format_kwarg=None, action="list", kwargs={})
    data = serializer_data(url, instances(), many=True, view=view)
    assert response.content == TrialCSVRenderer().render(data, renderer_context={"view": view})


def test_a_record_is_still_found_through_the_lists_filters(api):
    assert api.get(f"{V1}/trials/NCT03019640/?status=COMPLETED").status_code == 200
    for missing in ("NCT00000000/", "NCT03019640/?status=RECRUITING"):
        response = api.get(f"{V1}/trials/{missing}")
        assert response.status_code == 404
        assert response.json()["detail"].startswith("NKKB has no trial 'NCT")
    assert api.get(f"{V1}/trials/nct123/").status_code == 404
    invalid = api.get(f"{V1}/trials/NCT03019640/?phase=9z")
    assert invalid.status_code == 400 and "phase" in invalid.json()


def test_a_record_read_by_its_key_alone_is_the_record_the_filters_find(api):
    """Without a filter a record's row is read by a statement compiled once
    (PlainReadsMixin.get_object); with one, through the filters, as DRF finds it."""
    for nct_id in Trial.objects.values_list("nct_id", flat=True):
        alone = api.get(f"{V1}/trials/{nct_id}/")
        through_filters = api.get(f"{V1}/trials/{nct_id}/?ordering=nct_id")
        assert alone.status_code == through_filters.status_code == 200
        assert alone.content == through_filters.content, nct_id


def test_a_trial_record_reads_each_relation_once(api, django_assert_num_queries):
    # The rate limit's count, the data version, the trial, then its conditions, agent links,
    # their agents, the agents' targets, NK cell products, results, caveats and registry record:
    # on PostgreSQL the first two in one statement (nkkb.core.caching) and the trial with its
    # eight relations in another (nkkb.core.queries.IdsQueries.record).
    postgresql = connection.vendor == "postgresql"
    own = 2 if postgresql else 3
    with django_assert_num_queries(2 if postgresql else own + 8):
        assert api.get(f"{V1}/trials/NCT03019640/").status_code == 200
    # Its own columns only: no relation.
    with django_assert_num_queries(own):
        assert api.get(f"{V1}/trials/NCT03019640/?fields=nct_id,title").status_code == 200


def version_reads(queries) -> int:
    reads = {newest_rows_statement(connection), f"SELECT * FROM {DATA_STATE_FUNCTION}()"}
    return sum(
        q["sql"] in reads or q["sql"].startswith(f"SELECT * FROM {DATA_STATE_COUNTING_FUNCTION}(")
        for q in queries
    )


# The middleware reads the version for the ETag; the facet counts (an agent's trial count, the
# list page's filter options) read it again.
@pytest.mark.parametrize("url", [f"{V1}/agents/", "/trials/?therapy_class=cytokine"])
def test_a_request_reads_the_data_version_once(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert version_reads(queries.captured_queries) == 1


def change_title():
    trial = Trial.objects.get(nct_id="NCT03019640")
    trial.title = "edited within the request"
    trial.save()


def delete_result():
    Result.objects.filter(trial__nct_id="NCT03019640").first().delete()


def link_condition():
    trial = Trial.objects.get(nct_id="NCT03019640")
    trial.conditions.add(Condition.objects.exclude(trials=trial).first())


@pytest.mark.parametrize("write", [change_title, delete_result, link_condition])
def test_within_a_request_a_write_is_seen_by_the_next_version_read(write):
    with data_version_per_request():
        before = data_version()
        with CaptureQueriesContext(connection) as queries:
            assert data_version() == before
        assert version_reads(queries.captured_queries) == 0  # remembered
        write()
        after = data_version()
        assert after != before
    assert data_version() == after  # the same state, read afresh outside any request


def test_every_api_answer_is_the_json_drf_writes(api):
    """The API writes its JSON with orjson (nkkb.core.api.renderers): the bytes are those DRF's
    own renderer writes for the same data, on every list and record of the seed, and in errors."""
    lists = api.get(f"{V1}/").json()
    assert len(lists) >= 5
    records = {}
    for url in [*lists.values(), f"{V1}/trials/?page_size=100", f"{V1}/trials/?phase=none"]:
        response = api.get(url)
        assert response.content == JSONRenderer().render(response.data), url
        links = [each["url"] for each in response.data.get("results", []) if "url" in each]
        records.update(dict.fromkeys(link for link in links[:5] if "/api/" in link))
    assert len(records) >= 25
    for url in records:
        response = api.get(url)
        assert response.content == JSONRenderer().render(response.data), url


def test_the_api_json_writer_writes_what_drf_writes_of_any_value():
    """Values orjson would write its own way (times, decimals, lazy text, keys that are not
    strings, line separators JavaScript refuses) come out as DRF writes them; a value DRF cannot
    write is an error, not a null."""
    utc = datetime.UTC
    data = {
        "at": datetime.datetime(2026, 11, 30, 4, 5, 6, 789123, tzinfo=utc),
        "day": datetime.date(2026, 11, 30),
        "time": datetime.time(4, 5, 6, 789000),
        "ratio": Decimal("0.725"),
        "label": gettext_lazy("Trial"),
        "counts": {2024: 3, None: 1, True: 2},
        "text": "a\u2028b\u2029c é",
        "nested": [(1, 2.5, None, False)],
    }
    assert renderers.JSONRenderer().render(data) == JSONRenderer().render(data)
    with pytest.raises(TypeError):
        renderers.JSONRenderer().render({"set": object()})
