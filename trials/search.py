"""Full-text search of trials: each word of a query starts a word of a trial's NCT number or
title, or appears in the name of one of its agents (or an alias), NK cell products or conditions.

The NCT number and title are searched through a full-text index (migration 0003): FTS5 on SQLite,
a GIN index over a `simple` tsvector on PostgreSQL. The names come from the catalogue, a few
hundred rows that a plain scan reads at once, and lead to trials through the link tables' indexes.
So no query reads every title or joins every trial to its agents: SQLite looks the matching ids
up, PostgreSQL checks the trials' ids against them in an index-only scan.
"""

import json
import re

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from pyroaring import BitMap64

from agents.models import Agent, NKCellProduct

from .models import Condition, Trial, TrialAgent

# What FTS5 (unicode61) and PostgreSQL's parser both take for the parts of a word: "IL-15" is
# "il" and "15" to both, so a query means the same on either database.
WORD_PART = re.compile(r"[^\W_]+")
SQLITE_TABLE = "trials_trial_search"
POSTGRES_CONFIG = "simple"


def search_document():
    """The PostgreSQL expression that the GIN index holds and a search compares against."""
    return SearchVector("nct_id", "title", config=POSTGRES_CONFIG)


def trials_matching_words(queryset, words: list[str]):
    """The trials of `queryset` that every word of `words` finds.

    Each distinct word is looked up once, in one query of index lookups, and the sets of trial
    ids intersected here: the cost grows with the number of words, as a chain of per-word
    subqueries' did not (the planner combined them into ever larger plans). The ids go to the
    database as one parameter, however many there are.
    """
    found = None
    for word in dict.fromkeys(word.lower() for word in words):
        ids = BitMap64(_word_trial_ids(word))
        found = ids if found is None else found & ids
        if not found:
            return queryset.none()
    if found is None:
        return queryset
    if connection.vendor == "postgresql":
        return queryset.filter(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [list(found)]))
    return queryset.filter(
        pk__in=RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(found))])
    )


def _word_trial_ids(word: str):
    """The ids of the trials one word finds, in one query of index lookups; a word without a
    letter or digit finds none (else `"` would find every alias list, stored as JSON text)."""
    if not WORD_PART.search(word):
        return Trial.objects.none().values_list("pk", flat=True)
    names = Q(name__icontains=word)
    agents = Agent.objects.filter(names | Q(aliases__icontains=word))
    products = NKCellProduct.objects.filter(names)
    conditions = Condition.objects.filter(names)
    return (
        Trial.objects.filter(pk__in=_titled(word))
        .order_by()
        .values_list("pk", flat=True)
        .union(
            TrialAgent.objects.filter(agent__in=agents)
            .order_by()
            .values_list("trial_id", flat=True),
            Trial.nk_products.through.objects.filter(nkcellproduct__in=products).values_list(
                "trial_id", flat=True
            ),
            Trial.conditions.through.objects.filter(condition__in=conditions).values_list(
                "trial_id", flat=True
            ),
        )
    )


def _titled(word: str):
    """Ids of the trials whose NCT number or title has words starting with each part of `word`."""
    parts = WORD_PART.findall(word.lower())
    if not parts:
        return Trial.objects.none().values("pk")
    if connection.vendor == "postgresql":
        query = SearchQuery(
            " & ".join(f"{part}:*" for part in parts), search_type="raw", config=POSTGRES_CONFIG
        )
        return (
            Trial.objects.annotate(document=search_document()).filter(document=query).values("pk")
        )
    return RawSQL(
        f"SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH %s",
        [" AND ".join(f'"{part}"*' for part in parts)],
    )
