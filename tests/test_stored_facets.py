"""Stored facets (nkkb.core.stored_facets): which trials differ from their registry record and
which the compatibility rules warn about, kept in the database and mended after each write from
the trials it touched, equal to what deriving them afresh finds."""

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from agents.models import Agent
from nkkb.core.caching import data_version
from nkkb.core.models import StoredFacet, StoredFacetOption
from nkkb.core.stored_facets import DerivedFacet, forget_stored_at, refresh, refresh_every
from registry.choices import OverallStatus
from registry.models import RegistryRecord
from trials import best_known
from trials.best_known import NOT_STATED, NOT_STATED_LABEL, known_values
from trials.choices import Phase
from trials.discrepancies import DISCREPANCIES, discrepancies
from trials.models import WARNINGS, Trial, touched_trials
from trials.stored_facets import PHASES, STATUSES, STORED_FACETS

from .test_facet_index import WRITES, change_a_registry_record, change_phase

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def stored(facet: DerivedFacet) -> set[tuple[str, int]]:
    return set(
        StoredFacetOption.objects.filter(facet_id=facet.name).values_list("value", "result_id")
    )


class Derivations:
    """A stored facet that records which trials each derivation of its options read."""

    def __init__(self, facet: DerivedFacet):
        self.asked: list[list[int] | None] = []
        self.facet = DerivedFacet(f"test {facet.name}", self._rows, touched_trials)
        self._derived = facet.rows

    def _rows(self, trial_ids):
        self.asked.append(trial_ids)
        return self._derived(trial_ids)


def rename_a_listed_agent():
    """The registry lists monalizumab by that name for the trials linked to it: renamed, it no
    longer names their registry interventions."""
    agent = Agent.objects.get(slug="monalizumab")
    agent.name, agent.aliases = "Renamed agent", []
    agent.save()


def unlink_an_nk_product():
    trial = Trial.objects.filter(nk_products__isnull=False, agents__isnull=False).first()
    trial.nk_products.remove(*trial.nk_products.all())


def delete_a_registry_record():
    RegistryRecord.objects.get(nct_id="NCT04590963").delete()


def add_a_country():
    record = RegistryRecord.objects.get(nct_id="NCT04590963")
    record.countries = [*(record.countries or []), "Iceland"]
    record.save()


def change_an_enrollment():
    trial = Trial.objects.get(nct_id="NCT05221840")
    trial.enrollment = 999
    trial.save()


@pytest.mark.parametrize(
    "write",
    [
        *WRITES,
        rename_a_listed_agent,
        unlink_an_nk_product,
        delete_a_registry_record,
        add_a_country,
        change_an_enrollment,
    ],
    ids=lambda write: write.__name__,
)
@pytest.mark.parametrize("facet", STORED_FACETS.values(), ids=STORED_FACETS.keys())
def test_options_after_a_write_equal_a_fresh_derivation_mended_from_the_trials_it_touched(
    facet, write
):
    derivations = Derivations(facet)
    refresh(derivations.facet)
    assert derivations.asked == [None]
    assert stored(derivations.facet) == set(facet.rows(None))

    write()
    refresh(derivations.facet)

    assert stored(derivations.facet) == set(facet.rows(None))
    (mended,) = derivations.asked[1:]
    assert mended and len(mended) < Trial.objects.count()


def test_the_writes_change_what_is_stored():
    """The writes above are no idle checks: each facet's options move with some of them."""
    before = {facet.name: stored_now(facet) for facet in STORED_FACETS.values()}
    rename_a_listed_agent()
    change_an_enrollment()
    unlink_an_nk_product()
    add_a_country()
    change_phase()
    change_a_registry_record()
    assert all(stored_now(facet) != before[facet.name] for facet in STORED_FACETS.values())


def stored_now(facet):
    refresh(facet)
    return stored(facet)


def test_the_discrepancy_options_name_each_field_and_kind_of_every_trial():
    refresh(DISCREPANCIES)
    assert stored(DISCREPANCIES) == {
        (f"{found.field}:{found.kind}", Trial.objects.get(nct_id=found.nct_id).pk)
        for found in discrepancies()
    }
    assert ("status:backward", Trial.objects.get(nct_id="NCT04590963").pk) in stored(DISCREPANCIES)


def test_a_current_facet_costs_no_query_past_the_data_version_and_a_write_nothing_until_read(
    django_assert_num_queries, django_capture_on_commit_callbacks
):
    with django_assert_num_queries(2):  # the data version, the stored facet's
        refresh(DISCREPANCIES)
    with django_capture_on_commit_callbacks(execute=True):
        refresh(DISCREPANCIES)  # found stored, and committed: this process remembers it
    with django_assert_num_queries(1):  # the data version
        refresh(DISCREPANCIES)
    version = StoredFacet.objects.get(name=DISCREPANCIES.name).version
    change_an_enrollment()
    assert StoredFacet.objects.get(name=DISCREPANCIES.name).version == version
    refresh(DISCREPANCIES)
    assert StoredFacet.objects.get(name=DISCREPANCIES.name).version != version


def test_after_a_write_mended_elsewhere_one_query_finds_every_stored_facet_current(
    django_capture_on_commit_callbacks,
):
    """A worker that did not mend (another did) asks once, not once per stored facet."""
    refresh_every()
    change_an_enrollment()
    with django_capture_on_commit_callbacks(execute=True):
        refresh(DISCREPANCIES)  # the mend, as the writing request's
    forget_stored_at()  # as in a worker that did not mend
    with CaptureQueriesContext(connection) as queries:
        for facet in STORED_FACETS.values():
            with django_capture_on_commit_callbacks(execute=True):  # each a request's
                refresh(facet)
    table = connection.ops.quote_name(StoredFacet._meta.db_table)
    assert sum(table in query["sql"] for query in queries.captured_queries) == 1


def api_filter_queries(api, query: str, page_size: int) -> tuple[int, int, set[str]]:
    """(queries, count, NCT numbers of the first page) of the API's trial list filtered by
    `query` (each page size its own URL, so that the response cache does not answer)."""
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"{V1}/trials/?{query}&fields=nct_id&page_size={page_size}")
    assert response.status_code == 200
    found = response.json()
    return len(queries), found["count"], {trial["nct_id"] for trial in found["results"]}


@pytest.mark.parametrize(
    ("query", "facet"), [("has_discrepancy", DISCREPANCIES), ("has_warning", WARNINGS)]
)
def test_the_filters_run_as_many_queries_at_any_size_before_and_after_a_write(
    client, empty_knowledge_base, query, facet
):
    """Neither the steady answer nor the first after a write reads more as the knowledge base
    grows: the first reads the stored options, the second mends those of the trial written."""

    def measured():
        for value in ("true", "false"):
            api_filter_queries(client, f"{query}={value}", 99)  # the facet current
        steady = [
            api_filter_queries(client, f"{query}={value}", 100) for value in ("true", "false")
        ]
        change_an_enrollment_again()
        after_write = api_filter_queries(client, f"{query}=true", 98)[0]
        return [queries for queries, _, _ in steady], after_write, [found[1:] for found in steady]

    call_command("generate_synthetic", "--trials", 20, stdout=None)  # the seed, and 20
    small_steady, small_after_write, ((small_count, _), _) = measured()
    # Synthetic trials copy their templates' registry records (bench/synthetic.py).
    call_command("generate_synthetic", "--trials", 300, stdout=None)
    large_steady, large_after_write, ((count, page), (other_count, other_page)) = measured()

    assert (small_steady, small_after_write) == (large_steady, large_after_write)
    assert count and other_count and count + other_count == Trial.objects.count()
    stored_ncts = {Trial.objects.get(pk=pk).nct_id for _, pk in stored(facet)}
    assert len(stored_ncts) == count and page <= stored_ncts and not other_page & stored_ncts
    assert count > small_count


def change_an_enrollment_again():
    trial = Trial.objects.get(nct_id="NCT05221840")
    trial.enrollment = (trial.enrollment or 0) + 1
    trial.save()


def test_a_trial_deleted_leaves_no_option():
    refresh(DISCREPANCIES)
    trial = Trial.objects.get(nct_id="NCT04590963")
    trial.delete()
    refresh(DISCREPANCIES)
    assert trial.pk not in {pk for _, pk in stored(DISCREPANCIES)}


def test_the_command_derives_every_stored_facet_afresh():
    refresh(DISCREPANCIES)
    StoredFacetOption.objects.filter(facet_id=DISCREPANCIES.name).delete()
    call_command("refresh_stored_facets", stdout=None)
    for facet in STORED_FACETS.values():
        assert stored(facet) == set(facet.rows(None))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL statement timeout")
def test_deriving_every_facet_is_not_bound_by_the_requests_statement_timeout():
    """At registry scale a first derivation takes longer than a request may; here the timeout
    is a millisecond, which the derivation of the seed's facets outlasts."""
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 1")
    try:
        refresh_every(afresh=True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
    for facet in STORED_FACETS.values():
        assert stored(facet) == set(facet.rows(None))


def test_options_are_deleted_by_one_statement_without_reading_them(django_assert_num_queries):
    """No receiver of every model's deletes: Django's fast delete, whatever their number."""
    refresh(DISCREPANCIES)
    with django_assert_num_queries(1):
        StoredFacetOption.objects.filter(facet_id=DISCREPANCIES.name).delete()


def test_the_stored_phases_and_statuses_are_the_best_known_values_the_trial_pages_show(client):
    """Derived in SQL for the facets, in Python for the pages: the two agree, trial by trial,
    and `recruiting` finds the trials whose status shown is recruiting or by invitation."""
    labels = {
        PHASES: {**dict(Phase.choices), NOT_STATED: NOT_STATED_LABEL},
        STATUSES: {**dict(OverallStatus.choices), NOT_STATED: NOT_STATED_LABEL},
    }
    shown = {
        trial.pk: known_values(trial) for trial in Trial.objects.prefetch_related("registry_record")
    }
    for facet, field in ((PHASES, "phase"), (STATUSES, "status")):
        refresh(facet)
        assert {pk: labels[facet][value] for value, pk in stored(facet)} == {
            pk: known[field].label for pk, known in shown.items()
        }
    recruiting = {OverallStatus(status).label for status in best_known.RECRUITING_NOW}
    expected = {pk for pk, known in shown.items() if known["status"].label in recruiting}
    response = client.get(f"{V1}/trials/?recruiting=true&fields=nct_id&page_size=100")
    found = {trial["nct_id"] for trial in response.json()["results"]}
    assert expected and found == set(
        Trial.objects.filter(pk__in=expected).values_list("nct_id", flat=True)
    )


def test_a_write_is_mended_into_every_stored_facet_at_once():
    """What a write touched is read once, under one lock, for all the facets it made stale."""
    for facet in STORED_FACETS.values():
        refresh(facet)
    change_an_enrollment()
    add_a_country()

    refresh(PHASES)

    version = data_version()[0]
    for facet in STORED_FACETS.values():
        assert StoredFacet.objects.get(name=facet.name).version == version
        assert stored(facet) == set(facet.rows(None))


def test_deriving_every_facet_afresh_derives_each_once_and_mends_none():
    derivations = Derivations(DISCREPANCIES)
    refresh(derivations.facet)
    change_an_enrollment()  # every stored facet stale

    refresh_every(afresh=True)

    assert derivations.asked == [None, None]
    for facet in [*STORED_FACETS.values(), derivations.facet]:
        assert stored(facet) == set(facet.rows(None))


def test_deriving_afresh_derives_what_this_process_found_stored(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        refresh(DISCREPANCIES)  # found stored at this version, and remembered
    refresh_every(afresh=True)
    assert StoredFacet.objects.filter(name=DISCREPANCIES.name).exists()
    assert stored(DISCREPANCIES) == set(DISCREPANCIES.rows(None))


def test_options_stored_by_a_rolled_back_transaction_are_derived_again(
    django_capture_on_commit_callbacks,
):
    change_an_enrollment()  # every stored facet stale
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            refresh(DISCREPANCIES)
            transaction.set_rollback(True)
        refresh(DISCREPANCIES)
    assert StoredFacet.objects.get(name=DISCREPANCIES.name).version == data_version()[0]
