"""Free-text search of trials (`q` on the page and in the API, `search`, admin's search box),
through the full-text index of trials/search.py, on SQLite and PostgreSQL alike."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from trials.models import Trial

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
    assert ("MATCH" if connection.vendor == "sqlite" else "to_tsvector") in searched
