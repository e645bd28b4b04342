"""What changed in the knowledge base since a moment, read from the database itself.

Every write through the ORM adds a row to a history table (simple_history records saves,
deletes and many-to-many changes, the last as a new row of the record that owns the relation),
and bulk inserts that skip history still add rows to the curated tables. So the newest primary
key of each of those tables marks a moment (a `Position`), and the rows past it are what was
written since: the same tables the data version (nkkb.core.caching) is read from, so the two
agree on what a write is. Any process or machine sharing the database reads the same changes.
"""

import functools

from django.apps import apps
from django.db import connection
from django.db.models import Model

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


def timestamp_column(model: type[Model]) -> str:
    fields = {field.name: field for field in model._meta.concrete_fields}
    return next(fields[name].column for name in TIMESTAMP_FIELDS if name in fields)


def current_position() -> Position:
    """The newest row of every versioned table, in one query of index lookups."""
    quote = connection.ops.quote_name
    models = versioned_models()
    columns = [
        f"(SELECT MAX({quote(model._meta.pk.column)}) FROM {quote(model._meta.db_table)})"
        for model in models
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}")
        row = cursor.fetchone()
    return {model._meta.db_table: newest or 0 for model, newest in zip(models, row, strict=True)}


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
        history = getattr(model, "history", None)
        candidates = [model]
        if history is not None:
            candidates.append(history.model)
        return [
            (candidate, candidate._meta.db_table)
            for candidate in candidates
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

    def __bool__(self) -> bool:
        return self.since != self.until
