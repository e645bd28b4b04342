"""Facets derived by code, kept in the database and mended after each write.

Some facets ask a question of every result that only code answers: a trial's best-known phase
and status (the curators' value, else the registry's), the countries its registry record lists,
whether that record differs from what curators state, whether the compatibility rules warn about
its agents and products. Answered afresh on each request, the slowest of them (whether a record
differs) ran past a request's time budget at registry scale (BENCHMARKS.md, "Issue 17, fourth
round" and "fifth round"). So a facet's options are kept in the database (StoredFacetOption
rows) with the moment of the knowledge base they hold at. The request that writes (admin, API)
mends them before it answers (MendStoredFacetsMiddleware); a request that finds the knowledge
base moved on otherwise derives them again for the results the writes since touched
(nkkb.core.changes), as the facet index does (nkkb.core.facets), but under the write lock and
into the database: every process and machine sharing it reads and mends one copy. A facet
never stored is derived for every result: where the knowledge base is large, the seed load, the
registry sync, a release's restore and `manage.py refresh_stored_facets` do that outside
requests (refresh_every).
"""

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain, islice

from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from .caching import data_version, read_data_state, request_has_written
from .changes import Changes, lock_writes, touched_between
from .models import StoredFacet, StoredFacetOption
from .queries import IdsQuery

logger = logging.getLogger(__name__)

# Options written per statement.
INSERT_BATCH_SIZE = 5_000


@dataclass(frozen=True)
class DerivedFacet:
    """A facet whose options code derives from the knowledge base."""

    name: str
    # (option value, result id) of the results `ids` names, or of every result where None.
    rows: Callable[[list[int] | None], Iterable[tuple[str, int]]]
    # The results whose options the writes in a Changes may have changed.
    touched_results: Callable[[Changes], set[int]]
    # The statements `rows(ids)` runs, compiled before a worker's first request (prepare_mends).
    statements: tuple[IdsQuery, ...] = ()

    def __post_init__(self):
        _derived_facets[self.name] = self


# Every DerivedFacet defined in this process, by name.
_derived_facets: dict[str, DerivedFacet] = {}
# {facet name: a data version this process found its options stored at}: every list page that
# filters by a stored facet, and every mend of a facet index, asks; options once stored at a
# version stay stored at it (refresh_every derives them again within one transaction).
_stored_at: dict[str, str] = {}


def forget_stored_at() -> None:
    """Ask the database again (tests, whose rolled-back data may come back under an old
    version)."""
    _stored_at.clear()


def stored_options(facet: DerivedFacet) -> QuerySet:
    """The facet's StoredFacetOption rows, current with the knowledge base."""
    refresh(facet)
    return StoredFacetOption.objects.filter(facet_id=facet.name)


def having(facet: DerivedFacet, values: Iterable[str] | None = None) -> Q:
    """Results with one of `values` of `facet` (any of its values where None); negated, the
    results with none.

    As for registry records (trials.best_known.recorded): PostgreSQL makes EXISTS a semi- or
    anti-join, while `NOT (id IN (options))` reads the options again for every result once they
    outgrow work_mem; SQLite reads an IN subquery once into an index, and runs EXISTS per result.
    """
    options = stored_options(facet)
    if values is not None:
        options = options.filter(value__in=list(values))
    if connection.vendor == "postgresql":
        return Q(Exists(options.filter(result_id=OuterRef("pk"))))
    return Q(pk__in=options.values("result_id"))


def refresh(facet: DerivedFacet) -> None:
    """Bring the facet's stored options to the knowledge base's current data version, and with
    them those of every other stored facet this process knows: a write makes them all stale at
    once, and mending them together reads what it touched once, under one lock."""
    version, _ = data_version()
    if _stored_at.get(facet.name) == version:
        return
    # After a write, each facet index asks for every stored facet: one query answers them all.
    current = list(
        StoredFacet.objects.filter(name__in=_derived_facets, version=version).values_list(
            "name", flat=True
        )
    )
    if facet.name in current:
        _remember_stored(current, version)
        return
    _mend(facet)


def _mend(facet: DerivedFacet | None) -> None:
    """Mend every stored facet this process knows that the knowledge base moved past, under the
    write lock, and derive `facet` for every result if it was never stored."""
    with transaction.atomic():
        # No write can land between the moment read here and the options stored for it, and
        # two processes mending at once take turns: the second finds the work done.
        lock_writes()
        now = read_data_state()
        version, position = now.version, now.position
        stored = {each.name: each for each in StoredFacet.objects.filter(name__in=_derived_facets)}
        created: list[DerivedFacet] = []
        # {(touched_results, the position they were stored at): (the results touched since, the
        # facets stored there)}: after a write, usually one.
        mended: dict[tuple, tuple[list[int], list[DerivedFacet]]] = {}
        for each in _derived_facets.values():
            earlier = stored.get(each.name)
            if earlier is None and each is not facet:
                continue  # never asked for: derived when it first is
            if earlier is None:
                created.append(each)
            elif earlier.version != version:
                key = (each.touched_results, json.dumps(earlier.position, sort_keys=True))
                if key not in mended:
                    touched = touched_between(each.touched_results, earlier.position, position)
                    mended[key] = (sorted(touched), [])
                mended[key][1].append(each)
        _store(version, position, created, list(mended.values()))
        names = [each.name for each in stored.values() if each.version == version]
        names += [each.name for each in created]
        names += [each.name for _, facets in mended.values() for each in facets]
        _remember_stored(names, version)


def _remember_stored(names: list[str], version: str) -> None:
    """Note that the facets `names` are stored at `version`, once what told so is committed:
    options stored by a transaction that is rolled back must be derived again."""
    transaction.on_commit(lambda: _stored_at.update(dict.fromkeys(names, version)))


def _store(version: str, position, created, mended) -> None:
    """Store the options at `version` of the facets `created`, derived for every result, and of
    the facets `mended`, derived again for the results each (touched, facets) names: each step
    one statement for them all (a statement per facet cost more than the options it wrote)."""
    StoredFacet.objects.bulk_create(
        StoredFacet(name=each.name, version=version, position=position) for each in created
    )
    names = [each.name for _, facets in mended for each in facets]
    if names:
        StoredFacet.objects.filter(name__in=names).update(version=version, position=position)
    for touched, facets in mended:
        if touched:
            StoredFacetOption.objects.filter(
                facet_id__in=[each.name for each in facets], result_id__in_ids=touched
            ).delete()
    rows = chain(
        ((each.name, row) for each in created for row in each.rows(None)),
        (
            (each.name, row)
            for touched, facets in mended
            if touched
            for each in facets
            for row in each.rows(touched)
        ),
    )
    while batch := list(islice(rows, INSERT_BATCH_SIZE)):
        StoredFacetOption.objects.bulk_create(
            StoredFacetOption(facet_id=name, value=value, result_id=result)
            for name, (value, result) in batch
        )


def refresh_every(*, afresh: bool = False) -> None:
    """Mend every stored facet this process knows, deriving those never stored (every one where
    `afresh`): after a load, a restore or a sync, so that no request has to (a first derivation
    at registry scale runs past a request's time budget: BENCHMARKS.md)."""
    with transaction.atomic():
        lock_writes()
        if connection.vendor == "postgresql":
            # Requests' statement timeout (REQUEST_TIME_LIMIT) is no bound for a derivation
            # outside requests: at registry scale it takes longer.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = 0")
        if afresh:
            # All forgotten before any is derived: a refresh mends every stale facet it finds.
            StoredFacet.objects.filter(name__in=_derived_facets).delete()
            forget_stored_at()
        for facet in list(_derived_facets.values()):
            refresh(facet)


def prepare_mends() -> None:
    """Compile the statements that derive each stored facet for the results a write touched:
    a process would on its first mend, and where a reader mends first (the writer's request had
    not yet: MendStoredFacetsMiddleware), that reader's page paid for it (BENCHMARKS.md, "Issue
    17, twenty-first round"). A worker does so before its first request
    (nkkb.core.facets.read_facet_indexes)."""
    for facet in _derived_facets.values():
        for statement in facet.statements:
            statement.compiled()


def mend_stored() -> None:
    """Bring every stored facet to the knowledge base's current data version (none is derived
    for the first time here). Called after a write, when they are stale: straight to the mend,
    without first asking whether they are (two queries of a write's)."""
    _mend(None)


class MendStoredFacetsMiddleware:
    """After a request that wrote to the knowledge base (a curator's save in the admin or the
    API), mends the stored facets before it answers, rather than leaving the mend to the first
    list page read after the write, whose time it took (BENCHMARKS.md, "Issue 17, eleventh
    round"). The write is committed by then: a failed mend is logged and left to that reader."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request_has_written():
            try:
                mend_stored()
            except DatabaseError:
                logger.warning("The stored facets could not be mended after a write", exc_info=True)
        return response


class StoredFacetRows:
    """A stored facet's options as the row source of a facet index (FilterSet.facet_paths,
    nkkb.core.facets): read from the database rather than derived by each process."""

    def __init__(self, facet: DerivedFacet):
        self.facet = facet

    def __call__(self) -> list[QuerySet]:
        options = stored_options(self.facet)
        return [options.values(facet_value=F("value"), facet_result=F("result_id"))]

    def restricted(self, ids: list[int]) -> list[QuerySet]:
        options = stored_options(self.facet).filter(result_id__in_ids=ids)
        return [options.values(facet_value=F("value"), facet_result=F("result_id"))]

    def refresh(self) -> None:
        """Bring the stored options up to date without building their querysets: a compiled
        statement reads them (nkkb.core.facets)."""
        refresh(self.facet)
