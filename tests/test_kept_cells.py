"""The trial list's cells kept by each process (nkkb.core.tables.KeptCells): after any write, a
list page shows what a page rendered afresh shows, and a page whose cells are all kept reads none
of its trials' relations."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent, NKCellProduct
from nkkb.core import tables
from nkkb.core.tables import kept_cells
from registry.models import RegistryRecord
from trials.models import Condition, Trial
from trials.tables import TrialTable

from .conftest import forget_derived_data, forget_responses
from .test_facet_index import WRITES

EVERY_COLUMN = "&".join(f"columns={name}" for name in TrialTable.optional_columns)
PAGES = [
    f"/trials/?page_size=100&ordering=nct_id&{EVERY_COLUMN}",
    "/trials/?therapy_class=engager&ordering=-enrollment",
    "/trials/?phase=2&page_size=10",
]


def rename_an_agent():
    agent = Agent.objects.get(slug="afm13")
    agent.name = "AFM13 (renamed)"
    agent.save()


def rename_a_product():
    product = NKCellProduct.objects.filter(trials__isnull=False).first()
    product.name += " (renamed)"
    product.save()


def rename_a_condition():
    condition = Condition.objects.filter(trials__isnull=False).first()
    condition.name += " (renamed)"
    condition.save()


def retitle_a_trial():
    trial = Trial.objects.get(nct_id="NCT04074746")
    trial.title += " (edited)"
    trial.save()


def change_a_registry_enrollment():
    unstated = Trial.objects.filter(enrollment=None).values("nct_id")
    record = RegistryRecord.objects.filter(nct_id__in=unstated).exclude(enrollment=None).first()
    record.enrollment += 1
    record.save()


CELL_WRITES = [
    rename_an_agent,
    rename_a_product,
    rename_a_condition,
    retitle_a_trial,
    change_a_registry_enrollment,
]


def rows(client, url: str) -> list[str]:
    page = client.get(url).content.decode()
    return re.findall(r"<tr[^>]*><td.*?</tr>", page, re.S)


def rendered_afresh(client) -> list[list[str]]:
    forget_derived_data()
    forget_responses()
    return [rows(client, url) for url in PAGES]


@pytest.mark.django_db
@pytest.mark.parametrize("write", WRITES + CELL_WRITES, ids=lambda write: write.__name__)
def test_the_list_after_a_write_shows_what_a_fresh_render_shows(client, write):
    before = [rows(client, url) for url in PAGES]
    write()
    after = [rows(client, url) for url in PAGES]
    assert after == rendered_afresh(client)
    if write in CELL_WRITES:
        assert after != before


@pytest.mark.django_db
def test_a_page_whose_cells_are_kept_reads_none_of_its_trials_relations(client):
    def page_queries(url):
        with CaptureQueriesContext(connection) as queries:
            shown = rows(client, url)
        return shown, [query["sql"] for query in queries]

    first, first_queries = page_queries(f"/trials/?page_size=100&{EVERY_COLUMN}")
    again, again_queries = page_queries(f"/trials/?page_size=100&ordering=nct_id&{EVERY_COLUMN}")
    assert sorted(again) == sorted(first) and len(first) == Trial.objects.count()
    relations = ("trials_trialagent", "trials_trial_conditions", "registry_registryrecord")
    assert any(table in sql for sql in first_queries for table in relations)
    assert not [sql for sql in again_queries if any(table in sql for table in relations)]


@pytest.mark.django_db
def test_cells_rendered_from_before_a_write_are_not_kept_after_it(client):
    rows(client, PAGES[0])
    before = kept_cells(TrialTable)
    trial = Trial.objects.get(nct_id="NCT04074746")
    assert before.of(trial.pk)
    retitle_a_trial()
    after = kept_cells(TrialTable)
    assert after is not before and trial.pk not in after.records
    # A request still rendering from the trial as it was adds its cell to the old cells only.
    before.of(trial.pk)["title"] = "the title before the write"
    assert "title" not in after.of(trial.pk)
    untouched = Trial.objects.exclude(pk=trial.pk).first()
    assert after.of(untouched.pk) is before.of(untouched.pk)


@pytest.mark.django_db
def test_a_process_keeps_the_cells_of_the_records_shown_last(client, monkeypatch):
    monkeypatch.setattr(tables, "MAX_KEPT_RECORDS", 5)
    shown = rows(client, "/trials/?page_size=10&ordering=nct_id")
    assert len(shown) == 10
    last = Trial.objects.order_by("nct_id").values_list("pk", flat=True)[5:10]
    assert list(kept_cells(TrialTable).records) == list(last)


@pytest.mark.django_db
def test_after_a_write_a_page_reads_relations_only_for_the_trials_it_touched(client, monkeypatch):
    rows(client, PAGES[0])
    read_for = []
    original = TrialTable.read_relations

    def read_relations(table, records):
        read_for.append([record.nct_id for record in records])
        original(table, records)

    monkeypatch.setattr(TrialTable, "read_relations", read_relations)
    retitle_a_trial()
    assert rows(client, PAGES[0]) == rendered_afresh(client)[0]
    assert read_for[0] == ["NCT04074746"]


@pytest.mark.django_db
def test_after_a_write_a_process_reads_the_trials_it_touched_once(client):
    """The facet index, the kept cells and the stored facets each mend from the trials the
    write touched (nkkb.core.changes.touched_between): read once for them all."""
    rows(client, PAGES[1])
    retitle_a_trial()
    with CaptureQueriesContext(connection) as queries:
        rows(client, PAGES[1])
    history = Trial.history.model._meta.db_table
    assert len([q for q in queries if f'FROM "{history}" WHERE' in q["sql"]]) == 1
