"""The ids of a model's records in its default ordering, kept in each process.

A list page of a selection (a search, filters the facet indexes answer) is found by walking the
records in the list's default ordering and keeping the selected (nkkb.core.facets). Reading that
ordering from the database's index, thousands of rows for a search's page, was a large share of
the search (BENCHMARKS.md, "Issue 17, thirteenth round"); held in memory as an array of ids, it
is walked in a fraction of that time. Like the facet indexes, it is
read once per process and mended after a write from the rows the writes touched, which every
process reads alike from the database (nkkb.core.changes).
"""

import functools
import threading
from array import array
from dataclasses import dataclass

from django.db.models import Model

from .caching import data_position, data_version
from .changes import Position, results_to_mend

# Past this many records touched by the writes since an order was read, reading it again costs
# less than placing each of them (a query each).
MAX_PLACED_RECORDS = 100
# Rows fetched at a time when an order is read: fetching them all at once took longer
# (BENCHMARKS.md, "Issue 17, thirteenth round").
READ_CHUNK_ROWS = 10_000


@dataclass
class RecordOrder:
    version: str
    position: Position
    # Never changed once made: a thread may be walking it while a mend makes the next one.
    ids: array


_orders: dict[type[Model], RecordOrder] = {}
_ordering = threading.Lock()


def ordered_field(model: type[Model]) -> str | None:
    """The field a model's records are ordered by where it is one unique, non-null field in
    ascending order (what a place in the order can be found by), else None."""
    ordering = model._meta.ordering
    if len(ordering) != 1 or not isinstance(ordering[0], str) or ordering[0].startswith("-"):
        return None
    field = model._meta.get_field(ordering[0])
    return field.attname if field.unique and not field.null else None


def ordered_ids(model: type[Model]) -> array | None:
    """The ids of `model`'s records in its default ordering at the request's data version, or
    None where that ordering is not one `ordered_field`."""
    if ordered_field(model) is None:
        return None
    version = data_version()[0]
    with _ordering:
        order = _orders.get(model)
        if order is None or (order.version != version and not _mend(model, order)):
            # The position first: a write after it and before the read is placed again by the
            # next mend, which places a record where it is, however often.
            position = data_position()
            rows = model._default_manager.values_list("pk", flat=True)
            ids = array("Q", rows.iterator(chunk_size=READ_CHUNK_ROWS))
            order = _orders[model] = RecordOrder(version, position, ids)
        order.version = version
        return order.ids


def _mend(model: type[Model], order: RecordOrder) -> bool:
    """Bring `order` up to the request's data position; False where it must be read again."""
    position = data_position()
    touched = results_to_mend(_touched_records(model), order.position, position)
    if touched is None or len(touched) > MAX_PLACED_RECORDS:
        return False
    if touched:
        ids = _placed(model, order.ids, touched)
        if ids is None:
            return False
        order.ids = ids
    order.position = position
    return True


def _placed(model: type[Model], ids: array, touched) -> array | None:
    """`ids` with each of the records `touched` where it now is (a deleted one gone), after
    the record that precedes it in the ordering: `ids` itself where each already is (a write
    that left the ordered field as it was), else a copy; None where a preceding record is not
    among `ids` (written after the position being mended to, by a write that ended meanwhile)."""
    field = ordered_field(model)
    records = model._default_manager.order_by()
    # In the ordering's order, as the database sorts: a record's predecessor, if touched too,
    # is then placed first.
    keys = records.filter(pk__in=touched).order_by(field).values_list("pk", field)
    previous = {
        pk: records.filter(**{f"{field}__lt": key})
        .order_by(f"-{field}")
        .values_list("pk", flat=True)
        .first()
        for pk, key in keys
    }
    if all(_follows(ids, pk, previous.get(pk, _GONE)) for pk in touched):
        return ids
    placed = array("Q", ids)
    for pk in touched:
        try:
            del placed[placed.index(pk)]
        except ValueError:
            pass  # a record added since
    for pk, before in previous.items():
        try:
            placed.insert(0 if before is None else placed.index(before) + 1, pk)
        except ValueError:
            return None
    return placed


# A deleted record's place: none.
_GONE = object()


def _follows(ids: array, pk: int, previous) -> bool:
    """Whether record `pk` is where `ids` should hold it: right after `previous` (first where
    None), or absent where it is _GONE."""
    try:
        place = ids.index(pk)
    except ValueError:
        return previous is _GONE
    if previous is _GONE:
        return False
    return (ids[place - 1] if place else None) == previous


@functools.cache
def _touched_records(model: type[Model]):
    """The ids of `model`'s records saved, deleted or added since (one function per model, so
    that nkkb.core.changes remembers its answers)."""

    def touched(changes):
        return changes.values(model)

    return touched


def forget_record_orders() -> None:
    """Forget every order (tests, whose rolled-back data may come back under an old version)."""
    with _ordering:
        _orders.clear()
