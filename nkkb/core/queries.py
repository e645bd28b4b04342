"""Queries by a set of ids, passed as one parameter, and compiled to SQL once per process.

A record's page or a list's page reads each of its relations by the ids of the records shown. For
a few rows, building such a query through the ORM (filters, joins, ordering, compiling) costs
several times what the database takes to answer it (BENCHMARKS.md, "Issue 17, third round");
its SQL only differs from one request to the next by the ids, so it is compiled once and run
with new ids.
"""

import json
from collections.abc import Callable
from types import SimpleNamespace

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Lookup, QuerySet


class InIds(Lookup):
    """`field__in_ids=ids`: the field's value is one of `ids`, sent as one parameter however
    many there are (a literal IN list is bounded by the database's parameter limit, and its SQL
    changes with its length). On PostgreSQL `= ANY(array)`, which plans faster than
    `IN (SELECT unnest(array))` (BENCHMARKS.md, "Issue 17, sixth round"); on SQLite a
    subquery of the JSON array's values. Registered on every field and relation
    (CoreConfig.ready)."""

    lookup_name = "in_ids"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        # IdsQuery's placeholders pass as they are, to be found among the parameters.
        ids = self.rhs if isinstance(self.rhs, IdsPlaceholder) else _ids_parameter(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s::bigint[])", [*params, ids]
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*params, ids]


class IdsPlaceholder:
    """Where a compiled IdsQuery sends one of its sets of ids."""


def _ids_parameter(ids):
    """The one parameter that `in_ids` sends for `ids`."""
    return list(ids) if connection.vendor == "postgresql" else json.dumps(list(ids))


def sql_rows(sql: str, params) -> list[tuple]:
    """The rows of one statement, as the database cursor gives them."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def row_record(columns, values, **more) -> SimpleNamespace:
    """A row as a plain record: each of `columns` an attribute holding its value, with `more`."""
    return SimpleNamespace(**dict(zip(columns, values, strict=True)), **more)


def cursor_rows(queryset: QuerySet) -> list[tuple]:
    """The rows of a `values_list` query straight from the database cursor, for columns the
    ORM leaves as the database gives them (ids, integers, text): for thousands of rows, the
    ORM's iteration costs more than the query."""
    try:
        return sql_rows(*queryset.query.sql_with_params())
    except EmptyResultSet:
        return []


class _Compiled:
    """One query's SQL and parameters for one database, the places of each set of ids among the
    parameters, and the conversions the ORM applies to its columns' values."""

    def __init__(self, queryset: QuerySet, ids_placeholders: list):
        compiler = queryset.query.get_compiler(connection=connection)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        # A set's parameter is found by identity: another parameter may hold an equal value.
        self.ids_positions = [
            [position for position, param in enumerate(self.params) if param is placeholder]
            for placeholder in ids_placeholders
        ]
        assert all(self.ids_positions), "a set of ids the query does not read"
        columns = [select[0] for select in compiler.select[: compiler.col_count]]
        self.converters = list(compiler.get_converters(columns).items())


class IdsQuery:
    """The rows, as tuples, of a `values_list` query over one or more sets of ids.

    `build(*ids)` returns the query, given a placeholder for each set of ids to filter by
    (`field__in_ids=ids`); it is called once per database vendor, and every later call only sends
    new ids. The rows are converted as the ORM converts them (booleans on SQLite, JSON, dates)."""

    def __init__(self, build: Callable[..., QuerySet], *, sets: int = 1):
        self.build = build
        self.sets = sets
        self._compiled: dict[str, _Compiled] = {}

    def __call__(self, *ids_sets) -> list[tuple]:
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            placeholders = [IdsPlaceholder() for _ in range(self.sets)]
            compiled = _Compiled(self.build(*placeholders), placeholders)
            self._compiled[connection.vendor] = compiled
        params = list(compiled.params)
        for positions, ids in zip(compiled.ids_positions, ids_sets, strict=True):
            parameter = _ids_parameter(ids)
            for position in positions:
                params[position] = parameter
        rows = sql_rows(compiled.sql, params)
        if not compiled.converters:
            return rows
        return [self._converted(row, compiled.converters) for row in rows]

    @staticmethod
    def _converted(row, converters) -> tuple:
        row = list(row)
        for position, (functions, expression) in converters:
            for function in functions:
                row[position] = function(row[position], expression, connection)
        return tuple(row)
