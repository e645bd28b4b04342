"""Full-text search of trials: each word of a query finds the trials whose NCT number or title
has it, or that give an agent, NK cell product (by name or by what it is engineered from),
target or condition it names.

Words forgive spelling as researchers write: case, hyphens and spaces do not matter (`il15`,
`IL-15` and `IL 15` are one word; `nk92` is `NK-92`), a word may start a longer one (`haplo`),
but a number is whole (`IL-2` is not IL-21) and the parts of a hyphenated word must follow each
other (`CAR-NK` is not "carcinoma ... NK"). Common disease abbreviations stand for what they
abbreviate (`AML` also finds "acute myeloid leukemia"). Names are those of agents (aliases,
brand and code names included), NK cell products, targets (an agent's, or a product's CAR's)
and conditions.

The NCT number and title are searched through a full-text index (migration 0003): FTS5 on SQLite,
a GIN index over a `simple` tsvector on PostgreSQL. The names come from the catalogue, a few
hundred rows read once per search (a fixed number of queries, whatever the number of words) and
matched here; they lead to trials through the link tables' indexes. So each word costs one query
of index lookups, and no query reads every title or joins every trial to its agents.

A search that finds nothing can suggest words of the catalogue spelled like the query's
(`search_suggestions`).
"""

import difflib
import re
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models.expressions import RawSQL
from pyroaring import BitMap64

from agents.models import Agent, NKCellProduct, Target
from nkkb.core.facets import SelectedQuerySet, ids_subquery

from .models import Condition, Trial, TrialAgent

# What FTS5 (unicode61) and PostgreSQL's parser both take for the parts of a word: "IL-15" is
# "il" and "15" to both, so a query means the same on either database.
WORD_PART = re.compile(r"[^\W_]+")
# Where letters meet digits inside a part: "il15" is "il" then "15".
LETTERS_DIGITS = re.compile(r"[^\W\d_]+|\d+")
NCT_PREFIX = re.compile(r"^nct\d*$")
SQLITE_TABLE = "trials_trial_search"
POSTGRES_CONFIG = "simple"
MAX_SUGGESTIONS = 3

# Disease abbreviations researchers type for what titles and condition names spell out.
ABBREVIATIONS = {
    "aml": ("acute myeloid leukemia", "acute myeloid leukaemia"),
    "all": ("acute lymphoblastic leukemia",),
    "cll": ("chronic lymphocytic leukemia",),
    "mds": ("myelodysplastic syndromes", "myelodysplastic syndrome"),
    "mm": ("multiple myeloma",),
    "nhl": ("non hodgkin lymphoma",),
    "hl": ("hodgkin lymphoma",),
    "dlbcl": ("diffuse large b cell lymphoma",),
    "nsclc": ("non small cell lung cancer",),
    "sclc": ("small cell lung cancer",),
    "hnscc": ("squamous cell carcinoma of head and neck", "head and neck squamous cell carcinoma"),
    "scchn": ("squamous cell carcinoma of head and neck",),
    "nmibc": ("non muscle invasive bladder cancer",),
    "crc": ("colorectal cancer",),
    "atl": ("adult t cell leukemia",),
}


def search_document():
    """The PostgreSQL expression that the GIN index holds and a search compares against."""
    return SearchVector("nct_id", "title", config=POSTGRES_CONFIG)


@dataclass(frozen=True)
class Spelling:
    """One way a query word may be written: its parts (each a whole word but the last) and
    whether the last part may start a longer word."""

    parts: tuple[str, ...]
    prefix: bool

    @property
    def squashed(self) -> str:
        return "".join(self.parts)


def spellings(word: str) -> list[Spelling]:
    """The ways `word` may be written in a title or name: as typed (split at hyphens and other
    marks), split where letters meet digits, and spelled out if it is an abbreviation."""
    parts = WORD_PART.findall(word.lower())
    if not parts:
        return []
    squashed = "".join(parts)
    # A number is whole (IL-2 is not IL-21), but an NCT number's start finds it.
    prefix = not squashed[-1].isdigit() or bool(NCT_PREFIX.match(squashed))
    found = {Spelling(tuple(parts), prefix)}
    found.add(Spelling(tuple(LETTERS_DIGITS.findall(squashed)), prefix))
    for spelled_out in ABBREVIATIONS.get(squashed, ()):
        found.add(Spelling(tuple(spelled_out.split()), False))
    return sorted(found, key=lambda spelling: spelling.parts)


def name_matches(name: str, ways: list[Spelling]) -> bool:
    """Whether one of `ways` starts at a word of `name`, hyphens and spaces aside."""
    tokens = WORD_PART.findall(name.lower())
    for start in range(len(tokens)):
        joined = ""
        for token in tokens[start:]:
            joined += token
            for way in ways:
                wanted = way.squashed
                if joined == wanted or (
                    way.prefix
                    and joined.startswith(wanted)
                    and len(joined) - len(token) < len(wanted)
                ):
                    return True
            if len(joined) >= max(len(way.squashed) for way in ways):
                break
    return False


@dataclass
class Catalogue:
    """The names search reads: {id: [name and aliases]} of each kind of record."""

    agents: dict[int, list[str]] = field(default_factory=dict)
    products: dict[int, list[str]] = field(default_factory=dict)
    targets: dict[int, list[str]] = field(default_factory=dict)
    conditions: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def read(cls) -> "Catalogue":
        """Four queries, however many words are searched."""
        catalogue = cls()
        for model, names in [(Agent, catalogue.agents), (Target, catalogue.targets)]:
            for pk, name, aliases in model.objects.order_by().values_list("pk", "name", "aliases"):
                names[pk] = [name, *(aliases or ())]
        # A product's engineering names what it is made from ("NK-92 engineered with a CAR").
        products = NKCellProduct.objects.order_by()
        for pk, name, aliases, made in products.values_list("pk", "name", "aliases", "engineering"):
            catalogue.products[pk] = [name, *(aliases or ()), *([made] if made else [])]
        for pk, name in Condition.objects.order_by().values_list("pk", "name"):
            catalogue.conditions[pk] = [name]
        return catalogue

    def matching(self, names: dict[int, list[str]], ways: list[Spelling]) -> list[int]:
        return [pk for pk, spelled in names.items() if any(name_matches(n, ways) for n in spelled)]

    def vocabulary(self) -> dict[str, str]:
        """{lowercase word: as written} of every name, alias and abbreviation, for suggestions."""
        words = {}
        for names in (self.agents, self.products, self.targets, self.conditions):
            for spelled in names.values():
                for name in spelled:
                    if len(name) > 60:  # a description, not a name
                        continue
                    words.setdefault(name.lower(), name)
                    for word in name.split():
                        if len(word) > 2:
                            words.setdefault(word.lower(), word)
        for abbreviation in ABBREVIATIONS:
            words.setdefault(abbreviation, abbreviation.upper())
        return words


def trials_matching_words(queryset, words: list[str]):
    """The trials of `queryset` that every word of `words` finds.

    Each distinct word is looked up once, in one query of index lookups, and the sets of trial
    ids intersected here: the cost grows with the number of words, as a chain of per-word
    subqueries' did not (the planner combined them into ever larger plans). The ids go to the
    database as one parameter, however many there are.
    """
    distinct = list(dict.fromkeys(word.lower() for word in words))
    if not distinct:
        return queryset
    catalogue = Catalogue.read()
    found = None
    for word in distinct:
        ids = BitMap64(_word_trial_ids(word, catalogue))
        found = ids if found is None else found & ids
        if not found:
            return queryset.none()
    searched = queryset.filter(pk__in=ids_subquery(found))
    # Where the words are the only filter, the ids are the list's: counted and paged from them.
    return searched if queryset.query.where else SelectedQuerySet.of(searched, found)


def search_suggestions(words: list[str]) -> list[str]:
    """For a search that found nothing: up to three words of the catalogue (names, aliases,
    targets, abbreviations) spelled like the query's, each a corrected query."""
    vocabulary = Catalogue.read().vocabulary()
    suggestions = []
    for index, word in enumerate(words):
        close = difflib.get_close_matches(word.lower(), vocabulary, n=MAX_SUGGESTIONS, cutoff=0.75)
        for match in close:
            if match != word.lower():
                corrected = [*words[:index], vocabulary[match], *words[index + 1 :]]
                suggestions.append(" ".join(corrected))
    return list(dict.fromkeys(suggestions))[:MAX_SUGGESTIONS]


def _word_trial_ids(word: str, catalogue: Catalogue):
    """The ids of the trials one word finds, in one query of index lookups; a word without a
    letter or digit finds none."""
    ways = spellings(word)
    if not ways:
        return Trial.objects.none().values_list("pk", flat=True)
    agents = catalogue.matching(catalogue.agents, ways)
    products = catalogue.matching(catalogue.products, ways)
    targets = catalogue.matching(catalogue.targets, ways)
    conditions = catalogue.matching(catalogue.conditions, ways)
    product_links = Trial.nk_products.through.objects.order_by()
    return (
        Trial.objects.filter(pk__in=_titled(ways))
        .order_by()
        .values_list("pk", flat=True)
        .union(
            TrialAgent.objects.filter(agent__in=agents)
            .order_by()
            .values_list("trial_id", flat=True),
            TrialAgent.objects.filter(agent__targets__in=targets)
            .order_by()
            .values_list("trial_id", flat=True),
            product_links.filter(nkcellproduct__in=products).values_list("trial_id", flat=True),
            product_links.filter(nkcellproduct__targets__in=targets).values_list(
                "trial_id", flat=True
            ),
            Trial.conditions.through.objects.filter(condition__in=conditions)
            .order_by()
            .values_list("trial_id", flat=True),
        )
    )


def _titled(ways: list[Spelling]):
    """Ids of the trials whose NCT number or title holds one of `ways`: its parts as
    consecutive words, the last one a word's start where it may be."""
    if connection.vendor == "postgresql":
        alternatives = " | ".join(
            "("
            + " <-> ".join(
                part + (":*" if way.prefix and index == len(way.parts) - 1 else "")
                for index, part in enumerate(way.parts)
            )
            + ")"
            for way in ways
        )
        query = SearchQuery(alternatives, search_type="raw", config=POSTGRES_CONFIG)
        return (
            Trial.objects.annotate(document=search_document()).filter(document=query).values("pk")
        )
    alternatives = " OR ".join(
        f'"{" ".join(way.parts)}"' + ("*" if way.prefix else "") for way in ways
    )
    return RawSQL(f"SELECT rowid FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH %s", [alternatives])
