"""Free-text search of trials (`q` on the page and in the API, `search`, admin's search box),
through the full-text index of trials/search.py, on SQLite and PostgreSQL alike."""

import re
from importlib import import_module

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from agents.models import Agent
from nkkb.core.caching import data_version_per_request
from trials.filtersets import TrialFilterSet
from trials.models import Trial
from trials.search import Spelling, _titled, trials_matching_words

pytestmark = pytest.mark.django_db

V1 = "/api/v1/trials/"


def found(query: str) -> set[str]:
    response = APIClient().get(V1, {"q": query, "page_size": 100})
    assert response.status_code == 200, response.content
    return {trial["nct_id"] for trial in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("NCT05207722", {"NCT05207722"}),  # a whole NCT number
        ("nct0520772", {"NCT05207722"}),  # its start, in any case
        ("haplo", {"NCT05952310"}),  # the start of a word of a title
        ("MEDI4736", {"NCT05221840", "NCT05903092", "NCT02671435"}),  # an agent's alias
        ("CyNK", {"NCT04310592", "NCT05207722"}),  # a product's name
        ("mycosis", {"NCT04185220", "NCT04101331"}),  # a condition's name
        ("cynk leukemia", {"NCT04310592"}),  # every word, each from wherever it comes
        ("no-such-thing", set()),
    ],
)
def test_each_word_must_start_a_word_of_the_trial_or_name_what_it_uses(query, expected):
    assert found(query) == expected


def test_search_q_and_admin_find_the_same_trials(admin_client):
    words = "IL-15 NK"
    searched = APIClient().get(V1, {"search": words, "page_size": 100}).json()["results"]
    assert {trial["nct_id"] for trial in searched} == found(words)
    admin = admin_client.get("/admin/trials/trial/", {"q": words}).content.decode()
    assert set(re.findall(r">(NCT\d{8})</a></th>", admin)) == found(words)
    assert found(words)


def test_the_index_follows_every_write_to_a_trial():
    trial = Trial.objects.create(nct_id="NCT09999901", title="Zeppelin-shaped NK engager")
    assert found("zeppelin") == {"NCT09999901"}
    assert found("NCT0999990") == {"NCT09999901"}

    trial.title = "Dirigible-shaped NK engager"
    trial.save()
    assert found("zeppelin") == set()
    assert found("dirigible") == {"NCT09999901"}

    trial.delete()
    assert found("dirigible") == set()


def test_text_without_letters_or_digits_is_no_error_and_matches_no_title():
    for query in ("%", '"*', "_", "'; --"):
        assert found(query) == set()


def test_the_index_answers_without_reading_every_title_or_nct_number():
    """A LIKE over titles reads all of them: seconds at 100,000 trials."""
    with CaptureQueriesContext(connection) as queries:
        assert found("haplo")
    searched = " ".join(query["sql"] for query in queries)
    assert not re.search(r'"(title|nct_id)"\S* LIKE', searched)
    assert ("MATCH" if connection.vendor == "sqlite" else "trials_trial_search_word") in searched


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's table of the index's words"
)


def _words_table() -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT word, block, ids FROM trials_trial_search_word")
        return {(word, block, tuple(sorted(ids))) for word, block, ids in cursor.fetchall()}


def _words_rebuilt() -> set[tuple]:
    """The words' table as migration 0012 builds it from the search table."""
    with connection.cursor() as cursor:
        cursor.execute(import_module("trials.migrations.0012_postgres_search_words").WORDS)
        return {(word, block, tuple(ids)) for word, block, ids in cursor.fetchall()}


@postgresql_only
def test_the_words_table_follows_every_write_as_a_rebuild_would_hold_it():
    assert _words_table() == _words_rebuilt() and _words_table()
    trial = Trial.objects.create(nct_id="NCT09999903", title="Zeppelin NK engager for leukemia")
    moved = Trial.objects.create(id=5000, nct_id="NCT09999904", title="Zeppelin in a new block")
    assert _words_table() == _words_rebuilt()
    trial.title = "Dirigible NK engager for leukemia"  # one word dropped, one added
    trial.save()
    moved.nct_id = "NCT09999905"
    moved.save()
    assert _words_table() == _words_rebuilt()
    assert found("zeppelin") == {"NCT09999905"} and found("dirigible") == {"NCT09999903"}
    with connection.cursor() as cursor:  # a row of the search table given another id
        cursor.execute("UPDATE trials_trial_search SET id = 9000 WHERE id = %s", [moved.pk])
    trial.delete()
    assert _words_table() == _words_rebuilt()
    assert found("dirigible") == set()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE trials_trial_search")
    assert _words_table() == set()


@postgresql_only
def test_a_word_finds_through_the_words_table_what_the_full_text_index_finds():
    """Every word of every title and NCT number, whole and as the start of a longer one: the
    trials read from the words' table are those the search table's GIN index finds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT word FROM trials_trial_search_word")
        words = [word for (word,) in cursor.fetchall()]
    assert len(words) > 200
    ways = [Spelling((word,), prefix) for word in words for prefix in (False, True)]
    ways += [Spelling((word[:3],), True) for word in words if len(word) > 3]
    for way in ways:
        query = way.parts[0] + (":*" if way.prefix else "")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM trials_trial_search WHERE document @@ to_tsquery('simple', %s)",
                [query],
            )
            expected = {trial_id for (trial_id,) in cursor.fetchall()}
        assert set(_titled([way])) == expected, way


def test_names_lead_to_their_trials_through_the_facet_index_without_a_query():
    """An agent's, a product's or a target's name costs no query beyond the title's full-text
    lookup once the catalogue and the facet index are read, where it cost a query of the link
    tables (BENCHMARKS.md, "Issue 17, fourteenth round")."""
    for words in (["MEDI4736"], ["CyNK"], ["NKG2A"], ["NKG2A", "MEDI4736"]):
        expected = set(found(" ".join(words)))
        with data_version_per_request(), CaptureQueriesContext(connection) as queries:
            searched = trials_matching_words(Trial.objects.all(), words, TrialFilterSet)
            assert set(searched.values_list("nct_id", flat=True)) == expected
        statements = [query["sql"] for query in queries]
        # The data version, a lookup per word, the trials found.
        assert len(statements) == 1 + len(words) + 1, statements
        links = r'"(trials_trialagent|trials_trial_nk_products|agents_agent_targets)"'
        assert not any(re.search(links, statement) for statement in statements)


def found_on_the_page(client, query: str) -> set[str]:
    page = client.get("/trials/", {"q": query, "page_size": 100}).content.decode()
    return set(re.findall(r'href="/trials/(NCT\d{8})/">NCT', page))


IL15 = {"NCT02689453", "NCT04185220", "NCT04623944", "NCT05020678"}
T_HANK = {"NCT04390399", "NCT05618925"}  # t-haNK cells: NK-92 engineered with a CAR
MONALIZUMAB = {
    "NCT02643550",
    "NCT02671435",
    "NCT04307329",
    "NCT04590963",
    "NCT05221840",
    "NCT05903092",
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("il15", IL15),  # hyphens, spaces and case do not matter
        ("IL-15", IL15),
        ("IL 15", IL15),
        ("nk92", T_HANK),
        ("NK-92", T_HANK),
        ("NKG2A", MONALIZUMAB),  # a target: the trials of the agents that bind it
        ("AML", {"NCT03214666", "NCT04310592"}),  # one title spells out acute myeloid leukemia
    ],
)
def test_search_forgives_spelling_and_searches_targets_brands_and_abbreviations(
    client, query, expected
):
    assert found(query) == expected
    assert found_on_the_page(client, query) == expected


def test_a_brand_name_recorded_as_an_alias_finds_the_agents_trials(client):
    """The review names no brand: a curator who records one (with its source) makes it
    searchable; the seed holds none, so `Anktiva` finds nothing until then."""
    assert found("Anktiva") == set()
    n_803 = Agent.objects.get(slug="n-803")
    n_803.aliases = ["Anktiva"]
    n_803.save()
    n803 = set(Trial.objects.filter(agents__slug="n-803").values_list("nct_id", flat=True))
    assert n803 and found("Anktiva") == found_on_the_page(client, "anktiva") == n803


def test_a_target_finds_the_trials_of_its_agents_and_of_the_products_aimed_at_it(client):
    """TIGIT: no seed trial gives its antibody yet; one that does is found."""
    assert found("TIGIT") == set()
    trial = Trial.objects.create(nct_id="NCT09999902", title="A checkpoint combination")
    trial.trial_agents.create(agent=Agent.objects.get(slug="anti-tigit-mab"))
    assert found("TIGIT") == found_on_the_page(client, "tigit") == {"NCT09999902"}


def test_a_hyphenated_word_is_not_two_prefixes():
    """`CAR-NK` finds CAR NK cells, not a carcinoma trial that mentions NK cells."""
    car_nk = found("CAR-NK")
    assert car_nk and all(
        "car nk" in Trial.objects.get(nct_id=nct).title.lower()
        or Trial.objects.filter(nct_id=nct, nk_products__name__icontains="CAR NK").exists()
        for nct in car_nk
    )
    assert not any("carcinoma" in Trial.objects.get(nct_id=nct).title.lower() for nct in car_nk)


def test_a_number_is_whole_but_a_word_may_start_a_longer_one():
    il21_only = found("IL-21") - set(
        Trial.objects.filter(agents__slug="il-2").values_list("nct_id", flat=True)
    )
    assert il21_only and not il21_only & found("IL-2")
    assert found("haplo") == {"NCT05952310"}


def test_a_search_that_finds_nothing_suggests_what_the_knowledge_base_spells_so(client):
    response = APIClient().get(V1, {"q": "monalizumb"})
    assert response.json()["count"] == 0
    assert "monalizumab" in response["X-Search-Suggestions"].split(", ")
    assert set(response.json()) == {"count", "next", "previous", "results"}
    page = client.get("/trials/", {"q": "monalizumb"}).content.decode()
    assert 'href="?q=monalizumab">monalizumab</a>' in page
    assert found("monalizumab") == MONALIZUMAB
    assert "X-Search-Suggestions" not in APIClient().get(V1, {"q": "monalizumab"})
