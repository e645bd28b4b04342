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

The NCT number and title are searched through a full-text index of their own table, each row a
trial's id and words: FTS5 on SQLite (migration 0003), a `simple` tsvector with a GIN index on
PostgreSQL (migration 0011), whose words migration 0012 keeps with their trials' ids, so that a
word's trials are read from a few rows (a phrase still reads the tsvectors, which hold the
words' positions). The names come from the catalogue, a few hundred rows read once
per data version (four queries, whatever the number of words) and matched here; the agents,
products and targets they name lead to trials through the FilterSet's facet index (the trials
of each agent, product and target, kept per data version by nkkb.core.facets), the conditions
through their link table's index. So each word costs one full-text lookup, and one query of
index lookups if it names a condition; no query reads every title or joins every trial to its
agents.

A search that finds nothing can suggest words of the catalogue spelled like the query's
(`search_suggestions`).
"""

import difflib
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection
from pyroaring import BitMap64

from agents.models import Agent, NKCellProduct, Target
from nkkb.core.caching import KeptPerDataVersion, data_version
from nkkb.core.facets import SelectedQuerySet, facet_index
from nkkb.core.queries import IdsQuery, sql_rows

from .models import Condition, Trial

# What FTS5 (unicode61) and PostgreSQL's parser both take for the parts of a word: "IL-15" is
# "il" and "15" to both, so a query means the same on either database.
WORD_PART = re.compile(r"[^\W_]+")
# Where letters meet digits inside a part: "il15" is "il" then "15".
LETTERS_DIGITS = re.compile(r"[^\W\d_]+|\d+")
NCT_PREFIX = re.compile(r"^nct\d*$")
SEARCH_TABLE = "trials_trial_search"
WORDS_TABLE = "trials_trial_search_word"
POSTGRES_CONFIG = "simple"
MAX_SUGGESTIONS = 3
MAX_REMEMBERED_WORDS = 1_000

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


_CATALOGUE = KeptPerDataVersion()


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


def _words(name: str) -> tuple[str, ...]:
    return tuple(WORD_PART.findall(name.lower()))


def _words_match(tokens: tuple[str, ...], ways: list[Spelling]) -> bool:
    """Whether one of `ways` starts at one of a name's words (`tokens`), hyphens and spaces
    aside."""
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


class Matches(NamedTuple):
    """The records a word names, by kind: the slugs of agents, products and targets (the keys
    of their facets' indexes), the ids of conditions."""

    agents: list[str]
    products: list[str]
    targets: list[str]
    conditions: list[int]


@dataclass
class Catalogue:
    """The names search reads: {slug: [name and aliases]} of agents, products and targets,
    {id: [name]} of conditions, and each name's words. Read once per data version in each
    process: a search otherwise spent more time reading and splitting these names than finding
    its trials."""

    agents: dict[str, list[str]] = field(default_factory=dict)
    products: dict[str, list[str]] = field(default_factory=dict)
    targets: dict[str, list[str]] = field(default_factory=dict)
    conditions: dict[int, list[str]] = field(default_factory=dict)
    words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    matches: dict[tuple[Spelling, ...], Matches] = field(default_factory=dict)

    @classmethod
    def current(cls) -> "Catalogue":
        return _CATALOGUE.get(cls, cls.read)

    @classmethod
    def read(cls) -> "Catalogue":
        """Four queries, however many words are searched."""
        catalogue = cls()
        for model, names in [(Agent, catalogue.agents), (Target, catalogue.targets)]:
            for slug, name, aliases in model.objects.order_by().values_list(
                "slug", "name", "aliases"
            ):
                names[slug] = [name, *(aliases or ())]
        # A product's engineering names what it is made from ("NK-92 engineered with a CAR").
        products = NKCellProduct.objects.values_list("slug", "name", "aliases", "engineering")
        for slug, name, aliases, made in products.order_by():
            catalogue.products[slug] = [name, *(aliases or ()), *([made] if made else [])]
        for pk, name in Condition.objects.order_by().values_list("pk", "name"):
            catalogue.conditions[pk] = [name]
        for names in catalogue.kinds():
            for spelled in names.values():
                catalogue.words.update((name, _words(name)) for name in spelled)
        return catalogue

    def kinds(self) -> tuple[dict, ...]:
        return (self.agents, self.products, self.targets, self.conditions)

    def matching(self, ways: list[Spelling]) -> Matches:
        """The agents, products, targets and conditions one of whose names `ways` matches;
        remembered (up to MAX_REMEMBERED_WORDS words, then forgotten all at once)."""
        key = tuple(ways)
        found = self.matches.get(key)
        if found is None:
            if len(self.matches) >= MAX_REMEMBERED_WORDS:
                self.matches.clear()
            found = self.matches[key] = Matches(
                *(self._matching(names, ways) for names in self.kinds())
            )
        return found

    def _matching(self, names: dict, ways: list[Spelling]) -> list:
        return [
            key
            for key, spelled in names.items()
            if any(_words_match(self.words[name], ways) for name in spelled)
        ]

    def vocabulary(self) -> dict[str, str]:
        """{lowercase word: as written} of every name, alias and abbreviation, for suggestions."""
        words = {}
        for names in self.kinds():
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


def trials_matching_words(queryset, words: list[str], filterset_class):
    """The trials of `queryset` that every word of `words` finds; `filterset_class` keeps the
    facet index of the trials' agents, products and targets (nkkb.core.facets).

    Each distinct word is looked up once, and the sets of trial ids intersected here: the
    cost grows with the number of words, as a chain of per-word subqueries' did not (the
    planner combined them into ever larger plans). The ids go to the database as one
    parameter, however many there are.
    """
    distinct = list(dict.fromkeys(word.lower() for word in words))
    if not distinct:
        return queryset
    catalogue = Catalogue.current()
    found = None
    for word in distinct:
        ids = _word_trial_ids(word, catalogue, filterset_class)
        found = ids if found is None else found & ids
        if not found:
            return queryset.none()
    searched = queryset.filter(pk__in_ids=found)
    # Where the words are the only filter, the ids are the list's: counted and paged from them.
    return searched if queryset.query.where else SelectedQuerySet.of(searched, found)


def search_suggestions(words: list[str]) -> list[str]:
    """For a search that found nothing: up to three words of the catalogue (names, aliases,
    targets, abbreviations) spelled like the query's, each a corrected query."""
    vocabulary = Catalogue.current().vocabulary()
    suggestions = []
    for index, word in enumerate(words):
        close = difflib.get_close_matches(word.lower(), vocabulary, n=MAX_SUGGESTIONS, cutoff=0.75)
        for match in close:
            if match != word.lower():
                corrected = [*words[:index], vocabulary[match], *words[index + 1 :]]
                suggestions.append(" ".join(corrected))
    return list(dict.fromkeys(suggestions))[:MAX_SUGGESTIONS]


def _word_trial_ids(word: str, catalogue: Catalogue, filterset_class) -> BitMap64:
    """The ids of the trials one word finds: those whose NCT number or title has it (one
    full-text lookup), those of the agents, products and targets whose names have it (from the
    facet index, no query) and those filed under the conditions whose names have it (one query
    of index lookups); a word without a letter or digit finds none."""
    ways = spellings(word)
    if not ways:
        return BitMap64()
    found = _titled(ways)
    named = catalogue.matching(ways)
    version = data_version()[0]
    # The facets count a trial under each agent it gives, product it uses and target one of
    # them binds, whatever the agent's role: the links a name leads to.
    for facet, slugs in [
        ("agent", named.agents),
        ("nk_product", named.products),
        ("target", named.targets),
    ]:
        if slugs:
            index = facet_index(filterset_class, facet, version)
            found = found.union(*(index[slug] for slug in slugs if slug in index))
    if named.conditions:
        found |= BitMap64(trial_id for (trial_id,) in CONDITION_TRIALS(named.conditions))
    return found


# The condition facet counts a trial under every group above its conditions too: a word naming
# a group finds only the trials filed under it, so conditions are read from their link table.
CONDITION_TRIALS = IdsQuery(
    lambda conditions: (
        Trial.conditions.through.objects.filter(condition__in_ids=conditions)
        .order_by()
        .values_list("trial_id", flat=True)
    )
)


def _titled(ways: list[Spelling]) -> BitMap64:
    """Ids of the trials whose NCT number or title holds one of `ways`: its parts as
    consecutive words, the last one a word's start where it may be."""
    if connection.vendor == "postgresql":
        found = BitMap64()
        # Each row's array added whole: a common word's ids are most of the search's work.
        for (ids,) in sql_rows(*_postgres_titled(ways)):
            if ids:
                found.update(ids)
        return found
    alternatives = " OR ".join(
        f'"{" ".join(way.parts)}"' + ("*" if way.prefix else "") for way in ways
    )
    # The index's rowids are the trials' ids (an external-content table kept by triggers,
    # migration 0003). Read from the index's table alone, without a lookup of each match in the
    # trials' table: that lookup was most of a common word's time.
    sql = f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH %s"
    return BitMap64(trial_id for (trial_id,) in sql_rows(sql, [alternatives]))


def _postgres_titled(ways: list[Spelling]) -> tuple[str, list]:
    """One statement giving rows of trial ids for `ways`: a one-part way's ids from the words'
    table (migration 0012), a few rows however many trials have the word; the phrases' from
    the search table (migration 0011), whose word positions they need."""
    words = [way for way in ways if len(way.parts) == 1]
    phrases = [way for way in ways if len(way.parts) > 1]
    selects, params = [], []
    if words:
        # A part holds letters and digits only (WORD_PART): nothing LIKE would read as a pattern.
        selects.append(
            f"SELECT ids FROM {WORDS_TABLE} WHERE "
            + " OR ".join("word LIKE %s" if way.prefix else "word = %s" for way in words)
        )
        params += [way.parts[0] + ("%" if way.prefix else "") for way in words]
    if phrases:
        alternatives = " | ".join(
            "("
            + " <-> ".join(
                part + (":*" if way.prefix and index == len(way.parts) - 1 else "")
                for index, part in enumerate(way.parts)
            )
            + ")"
            for way in phrases
        )
        selects.append(
            f"SELECT array_agg(id) FROM {SEARCH_TABLE} "
            "WHERE document @@ to_tsquery(%s::regconfig, %s)"
        )
        params += [POSTGRES_CONFIG, alternatives]
    return " UNION ALL ".join(selects), params
