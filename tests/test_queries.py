"""Queries by a set of ids sent as one parameter, or by one key (nkkb/core/queries.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent
from nkkb.core.queries import IdsQuery
from trials.api.reading import TRIAL_BY_NCT_ID, TRIAL_COLUMNS, TRIAL_RELATIONS, TRIAL_ROWS
from trials.models import Trial, TrialAgent

pytestmark = pytest.mark.django_db


def test_in_ids_finds_what_in_finds_with_one_parameter_however_many_ids():
    some = list(Trial.objects.order_by("id").values_list("id", flat=True)[::3])
    # Past SQLite's limit of 32,766 parameters to a statement.
    many = some + list(range(10**9, 10**9 + 40_000))
    with CaptureQueriesContext(connection) as queries:
        found = set(Trial.objects.filter(pk__in_ids=many).values_list("id", flat=True))
    assert found == set(some) != set()
    assert len(queries.captured_queries) == 1
    assert Trial.objects.filter(pk__in_ids=[]).count() == 0


def test_in_ids_across_a_relation_finds_what_in_finds():
    agents = list(Agent.objects.filter(targets__isnull=False).values_list("id", flat=True)[:3])
    targets = list(Agent.objects.filter(id__in=agents).values_list("targets", flat=True))
    for lookup, ids in (("agent", agents), ("agent__targets", targets)):
        expected = TrialAgent.objects.filter(**{f"{lookup}__in": ids}).values_list("pk")
        found = TrialAgent.objects.filter(**{f"{lookup}__in_ids": ids}).values_list("pk")
        assert set(found) == set(expected) != set()


def test_a_compiled_ids_query_reads_the_ids_of_each_call():
    agent_trials = IdsQuery(
        lambda agents, trials: TrialAgent.objects.filter(
            agent_id__in_ids=agents, trial_id__in_ids=trials
        ).values_list("trial_id", "agent_id"),
        sets=2,
    )
    links = list(TrialAgent.objects.values_list("trial_id", "agent_id")[:6])
    for trial_id, agent_id in links:
        assert (trial_id, agent_id) in agent_trials([agent_id], [trial_id])
        assert agent_trials([agent_id], []) == []


def test_a_compiled_key_query_reads_the_rows_values_gives_for_each_key():
    """Named and converted as `values()` gives them: dates, times, JSON, booleans, NULLs."""
    for nct_id in Trial.objects.values_list("nct_id", flat=True):
        expected = list(Trial.objects.filter(nct_id=nct_id).values(*TRIAL_COLUMNS))
        assert TRIAL_BY_NCT_ID(nct_id) == expected
    assert TRIAL_BY_NCT_ID("NCT00000000") == []
    # A key is a parameter, never SQL.
    assert TRIAL_BY_NCT_ID("x' OR '1'='1") == []


def by_record(rows: list[tuple]) -> dict:
    """{the record a row belongs to (its first column): its rows, in order}: a query orders
    each record's rows, not the rows of records that tie."""
    grouped = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return grouped


def test_queries_read_together_give_the_rows_each_gives_alone():
    """Decimals, dates, times, JSON, booleans and NULLs, each relation's rows in its order, and
    no rows at all: on PostgreSQL, read by one call of a function, as JSON arrays."""
    ids = list(Trial.objects.values_list("id", flat=True))
    alone = {name: by_record(query(ids)) for name, query in TRIAL_RELATIONS.queries.items()}
    assert all(alone.values())
    with CaptureQueriesContext(connection) as statements:
        together = TRIAL_RELATIONS(ids, alone)
    assert {name: by_record(rows) for name, rows in together.items()} == alone
    assert len(statements) == (1 if connection.vendor == "postgresql" else len(alone))
    some = ["results", "registry_record"]
    assert {name: by_record(rows) for name, rows in TRIAL_RELATIONS(ids, some).items()} == {
        name: alone[name] for name in some
    }
    assert TRIAL_RELATIONS([10**9], alone) == {name: [] for name in alone}
    assert TRIAL_RELATIONS(ids, []) == {}


def test_a_record_read_by_its_key_with_its_relations_is_its_row_and_their_rows():
    """Every seed trial's row (converted as `values()` gives it) and the rows of each relation,
    asked all or some: on PostgreSQL in one statement, the row read by the same function call."""
    names = list(TRIAL_RELATIONS.queries)
    postgresql = connection.vendor == "postgresql"
    for trial_id, nct_id in Trial.objects.values_list("id", "nct_id"):
        row = Trial.objects.filter(nct_id=nct_id).values(*TRIAL_COLUMNS).get()
        for asked in (names, ["results", "registry_record"]):
            with CaptureQueriesContext(connection) as statements:
                found = TRIAL_RELATIONS.record(nct_id, asked)
            assert found == (row, TRIAL_RELATIONS([trial_id], asked)), nct_id
            assert len(statements) == (1 if postgresql else 1 + len(asked))
        with CaptureQueriesContext(connection) as statements:
            assert TRIAL_RELATIONS.record(nct_id, []) == (row, {})
        assert len(statements) == 1
    for missing in ("NCT00000000", "x' OR '1'='1"):
        assert TRIAL_RELATIONS.record(missing, names) == (None, {})


@pytest.mark.parametrize(
    "references",
    [[1, 2, 30], [], [2**70 + 1], [-(2**63) - 1], [0.1, -2.5], {"nested": [None, True, "text"]}],
)
def test_a_compiled_query_reads_json_as_the_orm_does(references):
    """A JSON column reads as the ORM's own converter reads it, alone or with the other
    relations (on PostgreSQL, within the function's JSON): an integer past 64 bits whole,
    where orjson would make it a float."""
    trial = Trial.objects.order_by("id").first()
    Trial.objects.filter(pk=trial.pk).update(source_references=references)
    references_of = IdsQuery(
        lambda ids: Trial.objects.filter(pk__in_ids=ids).values_list("source_references")
    )
    expected = Trial.objects.filter(pk=trial.pk).values_list("source_references").get()
    assert references_of([trial.pk]) == [expected] == [(references,)]
    (row,) = TRIAL_ROWS.compiled().named(TRIAL_RELATIONS([trial.pk], ["trials"])["trials"])
    assert row["source_references"] == references
