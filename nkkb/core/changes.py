"""What changed in the knowledge base since a moment, read from the database itself.

Every write through the ORM adds a row to a history table (simple_history records saves,
deletes and many-to-many changes, the last as a new row of the record that owns the relation),
and bulk inserts that skip history still add rows to the curated tables. So the newest primary
key of each of those tables marks a moment (a `Position`), and the rows past it are what was
written since: the same tables the data version (nkkb.core.caching) is read from, so the two
agree on what a write is. Any process or machine sharing the database reads the same changes.

That holds where rows become visible in the order of their ids. SQLite lets one writer in at a
time; PostgreSQL draws ids from sequences as rows are inserted, so a transaction holding a lower
id could commit after one holding a higher, and a reader that has moved past the higher would
never see it (its facet index not mended, its cached answers kept). So on PostgreSQL a write to
the knowledge base takes one lock, held until its transaction ends, before its first row:
writers then draw ids in the order they commit (`lock_writes`).
"""

import functools

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.db.models.signals import m2m_changed, pre_delete, pre_save

from .knowledge_base import knowledge_base_models

# {table: newest primary key (0 for an empty table)}
Position = dict[str, int]

# Fields that say when a row was written: a history table's, else a curated table's.
TIMESTAMP_FIELDS = ("history_date", "last_updated")


@functools.cache
def versioned_models() -> tuple[type[Model], ...]:
    """Every model whose table a write adds a row to: the knowledge base's history models, and
    its curated models (whose bulk inserts write no history), sorted by table."""
    app_labels = sorted({model._meta.app_label for model in knowledge_base_models()})
    found = [
        model
        for app_label in app_labels
        for model in apps.get_app_config(app_label).get_models()
        if any(name in TIMESTAMP_FIELDS for name in (f.name for f in model._meta.concrete_fields))
    ]
    return tuple(sorted(found, key=lambda model: model._meta.db_table))


# PostgreSQL names advisory locks by number; this one is NKKB's write lock ("nkkb" in ASCII).
WRITE_LOCK = 0x6E6B6B62


def lock_writes(using: str = DEFAULT_DB_ALIAS) -> None:
    """On PostgreSQL, take the knowledge base's write lock until the transaction ends (a no-op
    elsewhere, and outside a transaction, where a lock would end with its statement: the
    admin, the API and the services write in transactions).

    Every save and delete of a versioned record takes it before its row is written; code that
    locks rows itself (select_for_update) before writing takes it first, so that no transaction
    holding the write lock waits for a row held by one waiting for the lock."""
    database = connections[using]
    if database.vendor == "postgresql" and database.in_atomic_block:
        with database.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])


def connect_write_lock() -> None:
    """Every save and delete of a versioned record, and every relink of one, takes the write lock
    before its first row (AppConfig.ready). Connected to those models' signals alone: a
    pre_delete receiver of every model would turn off Django's fast delete (one DELETE, no rows
    read) for all of them."""
    for model in _locking_models():
        pre_save.connect(_write_in_turn, sender=model)
        pre_delete.connect(_write_in_turn, sender=model)
    for through in _versioned_links():
        m2m_changed.connect(_relink_in_turn, sender=through)


def _write_in_turn(sender, using, **kwargs):
    lock_writes(using)


def _relink_in_turn(sender, action, using, **kwargs):
    if action.startswith("pre_"):
        lock_writes(using)


@functools.cache
def _locking_models() -> frozenset[type[Model]]:
    """The versioned models, and the models whose history is versioned (their writes add a
    history row after their own row)."""
    versioned = set(versioned_models())
    history = {
        model: getattr(getattr(model, "history", None), "model", None)
        for model in apps.get_models()
    }
    return frozenset(
        model for model, its_history in history.items() if {model, its_history} & versioned
    )


@functools.cache
def _versioned_links() -> frozenset[type[Model]]:
    """The link tables of the versioned records' many-to-many fields."""
    return frozenset(
        field.remote_field.through
        for model in versioned_models()
        for field in model._meta.local_many_to_many
    )


def timestamp_column(model: type[Model]) -> str:
    fields = {field.name: field for field in model._meta.concrete_fields}
    return next(fields[name].column for name in TIMESTAMP_FIELDS if name in fields)


@functools.cache
def written_models(model: type[Model]) -> tuple[type[Model], ...]:
    """`model` and its history model, where it has one (simple_history builds a new manager
    class on every access to `model.history`)."""
    history = getattr(model, "history", None)
    return (model,) if history is None else (model, history.model)


class Changes:
    """The rows written to the versioned tables between two positions, by the model written.

    `values(Agent)` gives the ids of the agents saved, deleted, or added in bulk since; a field
    other than the id can be asked for where a record's history row keeps it (a deleted trial
    agent link's `trial_id`).
    """

    def __init__(self, since: Position, until: Position):
        self.since = since
        self.until = until

    def _tables(self, model: type[Model]):
        """(model, table) of `model`'s curated table and its history table, where versioned."""
        return [
            (candidate, candidate._meta.db_table)
            for candidate in written_models(model)
            if candidate._meta.db_table in self.until
        ]

    def values(self, model: type[Model], field: str = "id") -> set:
        found = set()
        for written, table in self._tables(model):
            since, until = self.since.get(table, 0), self.until[table]
            if until <= since:
                continue
            pk = written._meta.pk.name
            rows = written._default_manager.order_by().filter(
                **{f"{pk}__gt": since, f"{pk}__lte": until}
            )
            found.update(rows.exclude(**{f"{field}__isnull": True}).values_list(field, flat=True))
        return found

    def wrote(self, model: type[Model]) -> bool:
        """Whether any row of `model` (or of its history) was written between the positions."""
        return any(self.until[table] > self.since.get(table, 0) for _, table in self._tables(model))

    def __bool__(self) -> bool:
        return self.since != self.until


# Past this many results touched by the writes between two positions, deriving everything
# again (a facet index, a table's kept cells) costs less than mending it result by result.
MAX_MENDED_RESULTS = 10_000


def results_to_mend(touched_results, since: Position, until: Position) -> frozenset[int] | None:
    """The results whose derived data the writes between `since` and `until` may have changed,
    as `touched_results(changes)` names them; None where everything must be derived again:
    `touched_results` is None or cannot tell (returns None), or they are too many."""
    if touched_results is None:
        return frozenset() if not Changes(since, until) else None
    touched = touched_between(touched_results, since, until)
    if touched is None or len(touched) > MAX_MENDED_RESULTS:
        return None
    return touched


# The last few answers of touched_between, by what was asked.
_touched: dict[tuple, frozenset[int] | None] = {}
MAX_REMEMBERED_TOUCHED = 16


def touched_between(touched_results, since: Position, until: Position) -> frozenset[int] | None:
    """`touched_results(Changes(since, until))`, remembered: after a write, a worker's facet
    index, kept cells and stored facets each ask it for the same two positions. The rows
    between two positions do not change once written; writes after them touch links anew in
    their own positions, which later mends read."""
    changes = Changes(since, until)
    if not changes:
        return frozenset()
    key = (touched_results, tuple(sorted(since.items())), tuple(sorted(until.items())))
    if key in _touched:
        return _touched[key]
    touched = touched_results(changes)
    touched = None if touched is None else frozenset(touched)
    # What is too many to mend is not kept either: it could hold every result.
    if touched is None or len(touched) <= MAX_MENDED_RESULTS:
        if len(_touched) >= MAX_REMEMBERED_TOUCHED:
            _touched.clear()
        _touched[key] = touched
    return touched


def forget_touched() -> None:
    """Ask touched_results again (tests, whose rolled-back writes leave ids to be reused)."""
    _touched.clear()
