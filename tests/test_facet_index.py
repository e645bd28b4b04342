"""The facet index after writes: mended from the rows a write touched, never read again, and
equal to a fresh recount; selections of facet filters read from it equal the list's."""

import gc
import logging
import re
import runpy
import threading
from array import array
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from agents.filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from agents.models import Agent, Target
from nkkb.core import facets, queries, record_order
from nkkb.core.caching import data_version
from nkkb.core.changes import results_to_mend
from nkkb.core.facets import (
    NOT_INDEXED,
    SelectedQuerySet,
    facet_counts,
    indexed_selection,
)
from nkkb.core.models import StoredFacet
from nkkb.core.queries import IdsQuery
from nkkb.core.stored_facets import mend_stored
from nkkb.core.views import render_list_pages
from registry.models import RegistryRecord
from trials import best_known
from trials.api.reading import TRIAL_COLUMNS
from trials.filtersets import TrialFilterSet, sponsor_rows
from trials.models import (
    Condition,
    PlacementBasis,
    Trial,
    TrialAgent,
    condition_lineages,
    subtree_ids,
)

from .conftest import forget_derived_data

SELECTIONS = [
    "",
    "therapy_class=engager",
    "therapy_class=cytokine&therapy_class=nk-cell-product",
    "phase=1&phase=2&status=COMPLETED",
    "target=cd16&nk_product=cord-blood-nk",
    "agent=n-803&agent=il-2&phase=not-stated",
    "sponsor=ImmunityBio, Inc.&sponsor=University of Cologne",
    "cd16_status=high-affinity-non-cleavable&cd16_status=absent",
]


def counts_of_every_selection() -> list[dict]:
    return [
        facet_counts(TrialFilterSet(QueryDict(selection), queryset=Trial.objects.all()))
        for selection in SELECTIONS
    ]


def recounted() -> list[dict]:
    """The counts from indexes read afresh, the stored facets among them derived afresh."""
    forget_derived_data()
    StoredFacet.objects.all().delete()
    return counts_of_every_selection()


def trial(nct_id="NCT03019640") -> Trial:
    return Trial.objects.get(nct_id=nct_id)


def change_phase():
    record = trial()
    record.phase = "3"
    record.save()


def link_an_engager():
    TrialAgent.objects.create(trial=trial(), agent=Agent.objects.get(slug="afm13"))


def unlink_every_agent():
    for link in trial().trial_agents.all():
        link.delete()


def reclassify_an_agent():
    agent = Agent.objects.get(slug="il-2")
    agent.agent_class = "engager"
    agent.save()


def retarget_an_agent():
    Agent.objects.get(slug="il-2").targets.add(Target.objects.get(slug="nkg2a"))


def change_a_registry_record():
    record = RegistryRecord.objects.exclude(overall_status=None).first()
    record.overall_status = "WITHDRAWN"
    record.lead_sponsor = "A sponsor nobody else has"
    record.save()


def delete_a_trial():
    trial().delete()


def add_a_condition():
    trial().conditions.add(Condition.objects.exclude(trials__nct_id="NCT03019640").first())


def bulk_insert_trials(nct_ids: list[str], **fields) -> list[Trial]:
    """A bulk insert writes no history: the new rows of the trial table are the change."""
    template = trial()
    return Trial.objects.bulk_create(
        Trial(
            nct_id=nct_id,
            title=f"Bulk {nct_id}",
            source_section=template.source_section,
            source_quote=template.source_quote,
            source_summary=template.source_summary,
            **fields,
        )
        for nct_id in nct_ids
    )


def insert_trials_in_bulk():
    bulk_insert_trials([f"NCT9{number:07d}" for number in range(3)], phase="2")


WRITES = [
    change_phase,
    link_an_engager,
    unlink_every_agent,
    reclassify_an_agent,
    retarget_an_agent,
    change_a_registry_record,
    delete_a_trial,
    add_a_condition,
    insert_trials_in_bulk,
]


@pytest.mark.django_db
def test_the_sponsor_filter_offers_and_accepts_a_sponsor_a_write_named():
    new_sponsor = {"sponsor": ["A sponsor nobody else has"]}
    before = TrialFilterSet(new_sponsor, queryset=Trial.objects.all())
    assert not before.is_valid()
    assert "sponsor" in before.errors
    change_a_registry_record()
    after = TrialFilterSet(new_sponsor, queryset=Trial.objects.all())
    assert after.is_valid(), after.errors
    assert ("A sponsor nobody else has",) * 2 in after.form.fields["sponsor"].choices
    record = RegistryRecord.objects.get(lead_sponsor="A sponsor nobody else has")
    assert list(after.qs.values_list("nct_id", flat=True)) == [record.nct_id]


@pytest.mark.django_db
@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.__name__)
def test_counts_after_a_write_equal_a_fresh_recount(write):
    before = counts_of_every_selection()
    index = facets._indexes[TrialFilterSet]
    version = data_version()[0]
    old_facets = index.facets
    old_ids = {
        name: {value: list(ids) for value, ids in o.items()} for name, o in old_facets.items()
    }
    write()
    assert data_version()[0] != version
    after = counts_of_every_selection()
    # Mended in place of being read again (a new read would start a new index).
    assert facets._indexes[TrialFilterSet] is index
    assert after == recounted()
    assert after != before
    # A thread still counting with the index as it was reads what it read before.
    assert {n: {v: list(ids) for v, ids in o.items()} for n, o in old_facets.items()} == old_ids


def engager_counts() -> dict:
    return facet_counts(
        TrialFilterSet(QueryDict("therapy_class=engager"), queryset=Trial.objects.all())
    )


def options_counted(monkeypatch) -> list[str]:
    """The values of the options counted from now on (whichever facet)."""
    counted = []
    count = facets._count

    def recording(options, selection):
        counted.extend(options)
        return count(options, selection)

    monkeypatch.setattr(facets, "_count", recording)
    return counted


@pytest.mark.django_db
def test_after_a_write_a_selection_counts_again_only_the_options_the_write_changed(monkeypatch):
    engager_counts()
    phases = facets.facet_index(TrialFilterSet, "phase", data_version()[0])
    record = trial()
    (phase_before,) = [value for value, ids in phases.items() if record.pk in ids]
    assert phase_before != "3"
    counted = options_counted(monkeypatch)
    change_phase()
    after = engager_counts()
    assert sorted(counted) == sorted([phase_before, "3"])
    assert after == recounted()[SELECTIONS.index("therapy_class=engager")]


@pytest.mark.django_db
def test_a_write_that_changes_no_option_counts_nothing_again(monkeypatch):
    before = engager_counts()
    counted = options_counted(monkeypatch)
    record = trial()
    record.title = "A new title"
    record.save()
    assert engager_counts() == before
    assert counted == []


@pytest.mark.django_db
def test_a_mend_after_the_tree_of_conditions_grows_a_level_counts_the_new_level():
    """A process that mended its index before the tree grew (its statement of the touched rows
    read as many levels as the tree then had) counts a trial under the new level's top group."""
    counts_of_every_selection()
    change_phase()
    counts_of_every_selection()  # mended: the touched rows' statement is built for this tree
    deepest = max(condition_lineages().values(), key=len)
    top = deepest[0]

    def under_top():
        return Trial.objects.filter(conditions__in=subtree_ids([top.pk])).distinct()

    condition = Condition.objects.create(
        name="A condition below the deepest",
        slug="below-the-deepest",
        parent=deepest[-1],
        placement_basis=PlacementBasis.CLASSIFICATION,
        classification="ICD-O-3: a test's classification",
        source_summary="A level the tree did not have.",
    )
    Trial.objects.exclude(pk__in=under_top()).first().conditions.add(condition)
    after = counts_of_every_selection()
    assert after[0]["condition"][top.slug] == under_top().count()
    assert after == recounted()


@pytest.mark.django_db
@pytest.mark.parametrize("selection", SELECTIONS)
def test_selections_of_facet_filters_come_from_the_index_as_the_list_finds_them(selection):
    query = QueryDict(selection)
    filterset = TrialFilterSet(query, queryset=Trial.objects.all())
    assert filterset.is_valid()
    filters = {parameter: query.getlist(parameter) for parameter in query}
    selected = indexed_selection(TrialFilterSet, filters, data_version()[0])
    listed = set(filterset.qs.values_list("pk", flat=True))
    assert (
        set(Trial.objects.values_list("pk", flat=True)) if selected is None else set(selected)
    ) == listed


@pytest.mark.django_db
def test_a_filter_that_is_not_a_facet_is_left_to_sql():
    filters = {"therapy_class": ["engager"], "q": ["leukemia"]}
    assert indexed_selection(TrialFilterSet, filters, data_version()[0]) is NOT_INDEXED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("listed_ids", "walked_per_id"),
    [(0, 4), (5_000, 0), (5_000, 4)],
    ids=["walked", "listed", "walked-where-it-reads-few-rows"],
)
@pytest.mark.parametrize(
    "selection",
    [
        *SELECTIONS[1:],
        "therapy_class=cytokine&ordering=-title",
        "phase=1&ordering=phase",
        # A search alone: its ids are the list's.
        "q=leukemia",
        "q=NK cells&ordering=-enrollment",
    ],
)
def test_every_page_of_a_selection_is_the_page_sql_finds(
    monkeypatch, selection, listed_ids, walked_per_id
):
    """Counted from the index and paged from its ids (listed, or found walking the default
    ordering), a list shows what counting and paging in SQL would."""
    monkeypatch.setattr(facets, "MIN_WALKED_IDS", 0)
    monkeypatch.setattr(facets, "MAX_LISTED_IDS", listed_ids)
    monkeypatch.setattr(facets, "WALKED_ROWS_PER_LISTED_ID", walked_per_id)
    assert_pages_are_the_pages_sql_finds(selection)


def assert_pages_are_the_pages_sql_finds(selection: str) -> None:
    selected = TrialFilterSet(QueryDict(selection), queryset=Trial.objects.all()).qs
    assert isinstance(selected, SelectedQuerySet)
    in_order = [trial.nct_id for trial in selected.all()]  # one SQL query with the filters
    assert in_order and selected.count() == len(in_order)
    # The API's rows (a statement compiled once where the page is walked).
    rows = selected.values(*TRIAL_COLUMNS)
    rows_in_order = list(rows.all())
    for page_size in (1, 3, 10):
        for start in range(0, len(in_order) + page_size, page_size):
            page = in_order[start : start + page_size]
            assert [trial.nct_id for trial in selected[start : start + page_size]] == page
            assert (
                list(selected.values_list("nct_id", flat=True)[start : start + page_size]) == page
            )
            assert list(rows[start : start + page_size]) == rows_in_order[start : start + page_size]
    narrowed = selected.filter(phase="2")
    assert narrowed.count() == sum(trial.phase == "2" for trial in selected.all())


@pytest.mark.django_db(transaction=True)
def test_writers_draw_history_ids_in_the_order_they_commit():
    """A worker mends its index from the history rows past the newest it has read: a write
    that drew a lower id but committed later would never reach it. So on PostgreSQL, whose
    sequences hand out ids before commit, a second writer waits for the first to commit."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite lets one writer in at a time by itself")
    second_committed = threading.Event()

    def second_writer():
        try:
            with transaction.atomic():
                Condition.objects.create(name="Second writer", slug="second-writer")
            second_committed.set()
        finally:
            connection.close()

    with transaction.atomic():
        Condition.objects.create(name="First writer", slug="first-writer")
        second = threading.Thread(target=second_writer)
        second.start()
        waited = not second_committed.wait(0.5)
    second.join(timeout=10)
    assert waited and second_committed.is_set()


def walked_page(selection: str, size: int = 10) -> tuple[list[str], list[str]]:
    """The first page of `selection` found by walking the default ordering, and its SQL."""
    selected = TrialFilterSet(QueryDict(selection), queryset=Trial.objects.all()).qs
    assert isinstance(selected, SelectedQuerySet)
    with CaptureQueriesContext(connection) as queries:
        nct_ids = [trial.nct_id for trial in selected[0:size]]
    return nct_ids, [query["sql"] for query in queries]


def renumber_a_trial():
    """A trial that moves from the end of the ordering to its start."""
    last = Trial.objects.order_by("-nct_id").first()
    last.nct_id = "NCT00000500"
    last.save()


def add_trials_ahead_in_bulk():
    """Engager trials numbered before every seed trial."""
    afm13 = Agent.objects.get(slug="afm13")
    for added in bulk_insert_trials([f"NCT00000{number:03d}" for number in range(3)]):
        TrialAgent.objects.create(trial=Trial.objects.get(nct_id=added.nct_id), agent=afm13)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "write",
    [renumber_a_trial, add_trials_ahead_in_bulk, *WRITES],
    ids=lambda write: write.__name__,
)
def test_after_a_write_a_walked_page_is_the_page_sql_finds(monkeypatch, write):
    """The order walked is kept in memory (nkkb.core.record_order) and mended after a write
    from the records it touched: a record renumbered, added or deleted is where SQL finds it."""
    monkeypatch.setattr(facets, "MIN_WALKED_IDS", 0)
    monkeypatch.setattr(facets, "MAX_LISTED_IDS", 0)
    walked_page("therapy_class=engager")
    order = record_order._orders[Trial]
    write()
    for selection in ("therapy_class=engager", "therapy_class=cytokine", "phase=2", "q=NK"):
        assert_pages_are_the_pages_sql_finds(selection)
    # Mended in place of being read again (a new read would start a new order).
    assert record_order._orders[Trial] is order


@pytest.mark.django_db
def test_an_order_whose_mend_meets_a_record_it_never_read_is_read_again():
    """A trial placed after one that a write added after the position being mended to (it ended
    between reading the position and placing): the order is read again, not left wrong."""
    ids = record_order.ordered_ids(Trial)
    first, second = Trial.objects.order_by("nct_id")[:2]
    unknown = array("Q", (pk for pk in ids if pk != first.pk))
    assert record_order._placed(Trial, unknown, {second.pk}) is None
    assert list(record_order._placed(Trial, ids, {second.pk})) == list(ids)


@pytest.mark.django_db
def test_a_write_that_leaves_each_record_in_its_place_keeps_the_order_without_a_copy():
    """A title edited leaves its trial where it was: the order is kept as it is (at registry
    scale, copying every id and searching the copy twice was most of a mend). A trial
    renumbered, or deleted, is moved or dropped in a copy."""
    ids = record_order.ordered_ids(Trial)
    trial = Trial.objects.order_by("nct_id")[3]
    Trial.objects.filter(pk=trial.pk).update(title="A title edited")
    assert record_order._placed(Trial, ids, {trial.pk}) is ids
    Trial.objects.filter(pk=trial.pk).update(nct_id="NCT99999999")
    renumbered = record_order._placed(Trial, ids, {trial.pk})
    in_order = list(Trial.objects.order_by("nct_id").values_list("pk", flat=True))
    assert renumbered is not ids and list(renumbered) == in_order
    Trial.objects.filter(pk=trial.pk).delete()
    assert list(record_order._placed(Trial, renumbered, {trial.pk})) == in_order[:-1]


@pytest.mark.django_db
def test_a_walk_reads_no_row_of_the_ordering_however_many_trials_come_before_the_page(
    monkeypatch,
):
    """Its page costs the same queries whatever it walks past: the ids it walks are in memory,
    and no statement reads the trials in their order but the page's own (by its ids)."""
    monkeypatch.setattr(facets, "MIN_WALKED_IDS", 0)
    monkeypatch.setattr(facets, "MAX_LISTED_IDS", 0)
    walked_page("therapy_class=cytokine")
    before, before_queries = walked_page("therapy_class=cytokine")
    renumber_a_trial()
    add_trials_ahead_in_bulk()
    walked_page("therapy_class=cytokine")  # mends the order
    nct_ids, queries = walked_page("therapy_class=cytokine")
    assert nct_ids == before and len(queries) == len(before_queries)
    ordered = [sql for sql in queries if 'ORDER BY "trials_trial"."nct_id"' in sql]
    assert len(ordered) == 1 and "WHERE" in ordered[0]


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [best_known.phase_rows, best_known.status_rows])
def test_a_best_known_facet_read_for_some_trials_is_its_full_read_for_them(rows):
    """A mend reads the touched trials' phase and status in one query that gives each trial
    one option: right only because the options' conditions exclude one another."""
    full = rows_of(rows())
    ids = list(Trial.objects.values_list("pk", flat=True))
    assert set(rows.rows(ids)) == full
    assert len({trial_id for _, trial_id in full}) == len(full) == len(ids)


def rows_of(querysets) -> set[tuple]:
    return {
        (value, result)
        for queryset in querysets
        for value, result in queryset.values_list("facet_value", "facet_result")
    }


@pytest.mark.django_db
def test_the_sponsor_facet_read_for_some_trials_is_its_full_read_for_them():
    full = rows_of(sponsor_rows())
    assert full  # the seed's registry records name sponsors
    ids = list(Trial.objects.values_list("pk", flat=True))
    assert rows_of(sponsor_rows.restricted(ids)) == full
    some = ids[::3]
    assert rows_of(sponsor_rows.restricted(some)) == {row for row in full if row[1] in some}


@pytest.mark.django_db
def test_a_worker_reads_every_list_pages_facet_index_before_its_first_visitor(client, monkeypatch):
    assert facets.faceted_list_pages() == {
        TrialFilterSet: "/trials/",
        AgentFilterSet: "/agents/",
        TargetFilterSet: "/targets/",
        NKCellProductFilterSet: "/nk-products/",
    }
    beats = []
    facets.read_facet_indexes(after_each=lambda: beats.append(1))
    # One beat per facet, one per FilterSet's compiled mending statement, one for the stored
    # facets' statements.
    assert len(beats) == sum(len(f.facet_paths) + 1 for f in facets.faceted_list_pages()) + 1

    def read_at_request(filterset_class, name):
        raise AssertionError(f"{filterset_class.__name__}'s {name} index read by a request")

    monkeypatch.setattr(facets, "_read_index", read_at_request)
    for page in ("/trials/", "/agents/", "/targets/", "/nk-products/", "/landscape/"):
        assert client.get(page).status_code == 200


@pytest.mark.django_db
def test_a_worker_compiles_what_mends_the_stored_facets_before_its_first_visitor(monkeypatch):
    """A reader that finds the stored facets stale after a write mends them, where the writer's
    request has not yet: its page would also pay for building and compiling the statements that
    derive each facet for the trials the write touched."""
    # Every statement forgotten, as in a new process (type(): a lazy object's __class__ would
    # evaluate it).
    for each in gc.get_objects():
        if issubclass(type(each), IdsQuery):
            each._compiled.clear()
    facets.read_facet_indexes()
    change_phase()
    compiled = []
    compile_query = queries._Compiled.__init__

    def compiling(self, queryset, placeholders):
        compiled.append(str(queryset.query))
        compile_query(self, queryset, placeholders)

    monkeypatch.setattr(queries._Compiled, "__init__", compiling)
    mend_stored()

    version = data_version()[0]
    assert {facet.version for facet in StoredFacet.objects.all()} == {version}
    assert compiled == []


@pytest.mark.django_db
def test_a_worker_renders_each_list_page_before_its_first_visitor(client, settings):
    """So that a worker's first page (often the first after a write, when the shared cache no
    longer answers) does not also pay for what a process does once; the warm-up's request names
    no host the site serves, and needs none."""
    settings.ALLOWED_HOSTS = ["nkkb.example.org"]
    rendered = []
    render_list_pages(after_each=lambda: rendered.append(1))
    home = client.get("/", HTTP_HOST="nkkb.example.org").content.decode()
    linked = sorted(set(re.findall(r'href="(/trials/\?therapy_class=[^"&]+)"', home)))
    assert len(linked) >= 5
    assert len(rendered) == len(facets.faceted_list_pages()) + len(linked)

    # Nor the cells of their rows: the lists the home page links to are rendered too.
    relations = ("trials_trialagent", "trials_trial_conditions", "registry_registryrecord")
    for path in ["/trials/", *linked]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path, HTTP_HOST="nkkb.example.org").status_code == 200
        assert not [q["sql"] for q in queries if any(table in q["sql"] for table in relations)]


class Worker:
    """What gunicorn's post_worker_init is given: a worker that beats and logs."""

    log = logging.getLogger("gunicorn.error")

    def notify(self):
        pass


def test_a_worker_whose_warm_up_fails_still_starts(monkeypatch, caplog):
    hooks = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))

    def fail(after_each):
        raise RuntimeError("a page failed")

    closed = []
    monkeypatch.setattr("nkkb.core.facets.read_facet_indexes", lambda after_each: None)
    monkeypatch.setattr("nkkb.core.views.render_list_pages", fail)
    monkeypatch.setattr("django.db.connections.close_all", lambda: closed.append(1))
    monkeypatch.setattr("gc.freeze", lambda: None)
    with caplog.at_level(logging.WARNING, logger="gunicorn.error"):
        hooks["post_worker_init"](Worker())
    assert "Worker not warmed up before its first request" in caplog.text
    assert "a page failed" in caplog.text
    assert closed


def test_what_to_mend_between_two_positions():
    """Nothing between a position and itself, whatever can tell what a write touched;
    everything where nothing can tell; what it names, remembered, otherwise."""
    before, after = {"trials_trial": 7}, {"trials_trial": 8}
    asked = []

    def touched_results(changes):
        asked.append(changes)
        return {3}

    assert results_to_mend(None, before, dict(before)) == frozenset()
    assert results_to_mend(touched_results, before, dict(before)) == frozenset()
    assert results_to_mend(None, before, after) is None
    assert results_to_mend(touched_results, before, after) == {3}
    assert results_to_mend(touched_results, before, after) == {3}
    assert len(asked) == 1
