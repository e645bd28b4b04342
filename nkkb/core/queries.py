"""Queries by a set of ids, passed as one parameter, or by one record's key, compiled to SQL
once per process.

A record's page or a list's page reads each of its relations by the ids of the records shown. For
a few rows, building such a query through the ORM (filters, joins, ordering, compiling) costs
several times what the database takes to answer it (BENCHMARKS.md, "Issue 17, third round");
its SQL only differs from one request to the next by the ids, so it is compiled once and run
with new ids. A record read by its key (its NCT number, its slug) is the same case.
"""

import functools
import json
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import JSONField, Lookup, QuerySet
from django.db.models.fields.json import KeyTransform


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


class KeyPlaceholder(str):
    """Where a compiled KeyQuery sends its key: a string, which a text field's lookup passes on
    as it is, so that it is found among the parameters as placeholders are, by identity."""


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
    """One query's SQL and parameters for one database, the places of each placeholder (a set of
    ids, a key) among the parameters, and the conversions the ORM applies to its columns'
    values."""

    def __init__(self, queryset: QuerySet, placeholders: list):
        compiler = queryset.query.get_compiler(connection=connection)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        # A placeholder is found by identity: another parameter may hold an equal value.
        self.placeholder_positions = [
            [position for position, param in enumerate(self.params) if param is placeholder]
            for placeholder in placeholders
        ]
        assert all(self.placeholder_positions), "a placeholder the query does not read"
        columns = [select[0] for select in compiler.select[: compiler.col_count]]
        query = queryset.query
        # As `values()` names its rows' values (django.db.models.query.ValuesIterable).
        self.names = [*query.extra_select, *query.values_select, *query.annotation_select]
        self.internal_types = [column.output_field.get_internal_type() for column in columns]
        # JSON columns whose values the ORM reads with Python's own decoder: IdsQueries'
        # functions give them as JSON, already read with the rest of their array.
        self.plain_json_positions = {
            position
            for position, column in enumerate(columns)
            if isinstance(column.output_field, JSONField) and column.output_field.decoder is None
        }
        self.converters = [
            (position, ([_json_converter(function) for function in functions], expression))
            for position, (functions, expression) in compiler.get_converters(columns).items()
        ]

    def params_for(self, parameters) -> list:
        """The query's parameters with `parameters` in its placeholders' places, in order."""
        params = list(self.params)
        for positions, parameter in zip(self.placeholder_positions, parameters, strict=True):
            for position in positions:
                params[position] = parameter
        return params

    @functools.cached_property
    def _json_parsers(self) -> list[tuple[int, Callable]]:
        return [
            (position, _FROM_JSON[internal_type])
            for position, internal_type in enumerate(self.internal_types)
            if internal_type in _FROM_JSON
        ]

    def from_json(self, rows: list[list]) -> list[tuple]:
        """`rows` as read from a JSON array (IdsQueries), converted as the ORM converts the
        cursor's: their JSON columns are read already."""
        for row in rows:
            for position, parse in self._json_parsers:
                if row[position] is not None:
                    row[position] = parse(row[position])
        return _converted(rows, self._array_converters)

    def named(self, rows: list[tuple]) -> list[dict]:
        """Converted `rows` as dicts, named as `values()` names them."""
        return [dict(zip(self.names, row, strict=True)) for row in rows]

    def converted(self, rows: list) -> list[tuple]:
        """`rows` converted as the ORM converts this query's columns."""
        return _converted(rows, self.converters)

    @functools.cached_property
    def _array_converters(self) -> list[tuple]:
        """The converters of the columns a function's array does not give as read already."""
        return [
            converter
            for converter in self.converters
            if converter[0] not in self.plain_json_positions
        ]


def _converted(rows: list, converters: list[tuple]) -> list[tuple]:
    """`rows` as tuples, each of `converters` (position, (functions, expression)) applied."""
    if not converters:
        return [tuple(row) for row in rows]
    converted = []
    for row in rows:
        row = list(row)
        for position, (functions, expression) in converters:
            for function in functions:
                row[position] = function(row[position], expression, connection)
        converted.append(tuple(row))
    return converted


def _json_converter(function):
    """The ORM's converter `function`, a JSON field's reading by orjson where it reads with
    Python's own decoder: the same values, several times faster, for the JSON columns of every
    row of a page's records and their relations."""
    field = getattr(function, "__self__", None)
    if not isinstance(field, JSONField) or field.decoder is not None:
        return function

    def from_json(value, expression, connection):
        if (
            not isinstance(value, str)
            or isinstance(expression, KeyTransform)
            or _LONG_NUMBER.search(value)
        ):
            return function(value, expression, connection)
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:  # what orjson refuses (NaN) Python's decoder reads
            return function(value, expression, connection)

    return from_json


# A number of 19 digits or more may lie past the 64-bit integers: orjson would read it as a
# float, losing digits, where Python's decoder keeps it whole.
_LONG_NUMBER = re.compile(r"[0-9]{19}")


class IdsQuery:
    """The rows, as tuples, of a `values_list` query over one or more sets of ids.

    `build(*ids)` returns the query, given a placeholder for each set of ids to filter by
    (`field__in_ids=ids`); it is called once per database vendor, and every later call only sends
    new ids. The rows are converted as the ORM converts them (booleans on SQLite, JSON, dates)."""

    placeholder = IdsPlaceholder

    def __init__(self, build: Callable[..., QuerySet], *, sets: int = 1):
        self.build = build
        self.sets = sets
        self._compiled: dict[str, _Compiled] = {}

    def __call__(self, *ids_sets) -> list[tuple]:
        return self._rows([_ids_parameter(ids) for ids in ids_sets])

    def _rows(self, parameters: list) -> list[tuple]:
        """The converted rows, `parameters` in the placeholders' places."""
        compiled = self.compiled()
        return compiled.converted(sql_rows(compiled.sql, compiled.params_for(parameters)))

    def dicts(self, *ids_sets) -> list[dict]:
        """The rows as dicts, named as `values()` names them."""
        return self.compiled().named(self(*ids_sets))

    def compiled(self) -> _Compiled:
        """The query compiled for the database in use (once per vendor)."""
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            placeholders = [self.placeholder() for _ in range(self.sets)]
            compiled = _Compiled(self.build(*placeholders), placeholders)
            self._compiled[connection.vendor] = compiled
        return compiled


class KeyQuery(IdsQuery):
    """The rows, as dicts, of a `values()` query of the records whose text key is one value.

    `build(key)` returns the query, given a placeholder for the key (`nct_id=key`); it is called
    once per database vendor, and every later call only sends a new key. The rows are converted
    and named as `values()` gives them."""

    placeholder = KeyPlaceholder

    def __call__(self, key: str) -> list[dict]:
        return self.compiled().named(self._rows([key]))


# How a value that PostgreSQL's JSON holds as a string or number becomes what psycopg2 gives
# for the column (json_build_array writes dates as ISO strings and numbers as numbers; a
# numeric is written as its text, _json_rows, so that no digit is lost).
_FROM_JSON = {
    "DateField": date.fromisoformat,
    "DateTimeField": datetime.fromisoformat,
    "DecimalField": Decimal,
    "FloatField": float,
}


class IdsQueries:
    """Several IdsQuery over one set of ids, read together by name: the relations of a page of
    records.

    On PostgreSQL they are read by one call of a function (`nkkb_<name>`, made after each
    migrate) that returns each query's rows as a JSON array: one round trip, and planned once
    per connection, where each statement on its own was planned again on every request, which
    cost more than running it (BENCHMARKS.md, "Issue 17, eleventh round"). Unlike a prepared
    statement, a function survives a connection pooler. SQLite, in this process, has neither
    cost: there each query runs alone.
    """

    def __init__(self, name: str, queries: dict[str, IdsQuery], by_key: KeyQuery | None = None):
        self.function = f"nkkb_{name}"
        self.queries = queries
        self.by_key = by_key
        _functions.append(self)

    @property
    def in_one_statement(self) -> bool:
        """Whether the queries are read together, by one call of the function."""
        return connection.vendor == "postgresql"

    def _asked(self, names: Iterable[str]) -> list[str]:
        asked = set(names)
        return [name for name in self.queries if name in asked]

    def __call__(self, ids, names: Iterable[str]) -> dict[str, list[tuple]]:
        """{name: rows} of the queries `names` for `ids`."""
        names = self._asked(names)
        if not names:
            return {}
        if not self.in_one_statement:
            return {name: self.queries[name](ids) for name in names}
        (arrays,) = sql_rows(
            f"SELECT * FROM {self.function}(%s::bigint[], %s::boolean[])",
            [list(ids), self._wanted(names)],
        )
        return self._found(arrays, names)

    def record(self, key: str, names: Iterable[str]) -> tuple[dict | None, dict[str, list[tuple]]]:
        """The row of the record whose key is `key`, as `by_key` (a KeyQuery of rows that hold
        their `id`) reads it, and {name: rows} of the queries `names` for it; (None, {})
        where no record has that key. On PostgreSQL, one call of a second function
        (`nkkb_<name>_by_key`) that reads the row and passes its id to the first: one round
        trip for a record and its relations, where reading the row first cost one more."""
        names = self._asked(names)
        if not names or not self.in_one_statement:
            rows = self.by_key(key)
            return (rows[0], self([rows[0]["id"]], names)) if rows else (None, {})
        found = sql_rows(
            f"SELECT * FROM {self.function}_by_key(%s, %s::boolean[])", [key, self._wanted(names)]
        )
        if not found:
            return None, {}
        record, *arrays = found[0]
        compiled = self.by_key.compiled()
        (row,) = compiled.named(_from_array(compiled, record))
        return row, self._found(arrays, names)

    def _wanted(self, names: list[str]) -> list[bool]:
        return [name in names for name in self.queries]

    def _found(self, arrays, names: list[str]) -> dict[str, list[tuple]]:
        """{name: rows} of the queries `names`, from the function's arrays of every query."""
        return {
            name: _from_array(self.queries[name].compiled(), array)
            for name, array in zip(self.queries, arrays, strict=True)
            if name in names
        }

    def create_function(self, database) -> None:
        """The function's first argument is the ids; the second says, per query, whether it
        is wanted (a query not wanted is not run). Each array holds its query's rows in the
        order the query sorts them: an aggregate over a sorted subquery takes them so. With
        `by_key`, a second function takes the key in place of the ids."""
        arrays = [
            "(SELECT {} FROM {} WHERE $2[{}])".format(*_json_rows(query.compiled(), name), number)
            for number, (name, query) in enumerate(self.queries.items(), start=1)
        ]
        results = ", ".join(f"rows_{number} text" for number in range(1, len(arrays) + 1))
        # Planned for any ids once per connection: left to choose, PostgreSQL planned it again
        # for each call's ids, which cost several times running it (BENCHMARKS.md, "Issue 17,
        # eleventh round").
        generic = "LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan"
        # Dropped and made again at once: a worker still serving sees one or the other.
        with transaction.atomic(using=database.alias), database.cursor() as cursor:
            cursor.execute(f"DROP FUNCTION IF EXISTS {self.function}(bigint[], boolean[])")
            cursor.execute(
                f"CREATE FUNCTION {self.function}(bigint[], boolean[]) "
                f"RETURNS TABLE({results}) {generic} "
                f"AS $$ BEGIN RETURN QUERY SELECT {', '.join(arrays)}; END $$"
            )
            cursor.execute(f"DROP FUNCTION IF EXISTS {self.function}_by_key(text, boolean[])")
            if self.by_key is None:
                return
            compiled = self.by_key.compiled()
            record, rows = _json_rows(compiled, "by_key")
            record_id = f"c{compiled.names.index('id')}"
            # The key matches one record or none; over none, the aggregate's id is null.
            cursor.execute(
                f"CREATE FUNCTION {self.function}_by_key(text, boolean[]) "
                f"RETURNS TABLE(record text, {results}) {generic} "
                "AS $$ BEGIN RETURN QUERY SELECT keyed.record, relations.* FROM "
                f"(SELECT {record}, min({record_id})::bigint FROM {rows}) AS keyed(record, id) "
                f"CROSS JOIN LATERAL {self.function}(ARRAY[keyed.id], $2) AS relations "
                "WHERE keyed.id IS NOT NULL; END $$"
            )


def _json_rows(compiled: _Compiled, name: str) -> tuple[str, str]:
    """SQL of the rows of a compiled query, its placeholders the function's first argument: an
    aggregate of them as the text of a JSON array of arrays, and the FROM clause it reads."""
    assert all(compiled.placeholder_positions) and len(compiled.params) == sum(
        map(len, compiled.placeholder_positions)
    ), f"{name}: only the ids or the key may be parameters of a function's query"
    columns = [f"c{position}" for position in range(len(compiled.internal_types))]
    values = []
    for position, (column, internal_type) in enumerate(
        zip(columns, compiled.internal_types, strict=True)
    ):
        # A numeric as its text, which a JSON number would not keep whole; jsonb as JSON where
        # the ORM reads it with Python's decoder (read with the array), otherwise as its text,
        # which its field's converter reads as it reads psycopg2's.
        as_text = internal_type == "DecimalField" or (
            internal_type == "JSONField" and position not in compiled.plain_json_positions
        )
        values.append(f"{column}::text" if as_text else column)
    statement = compiled.sql % (("$1",) * len(compiled.params))
    return (
        f"json_agg(json_build_array({', '.join(values)}))::text",
        f"({statement}) AS rows({', '.join(columns)})",
    )


def _from_array(compiled: _Compiled, array: str | None) -> list[tuple]:
    """The rows of a JSON array of a compiled query's rows, converted as the ORM converts them."""
    # Python's decoder, as the ORM reads a JSON column: over a whole array it costs little more
    # than orjson, which would read an integer of 20 digits as a float.
    return compiled.from_json(json.loads(array)) if array else []


_functions: list[IdsQueries] = []


def create_ids_queries_functions(using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """(Re)create every IdsQueries' function after each migrate (post_migrate): the queries read
    the tables that migrations change."""
    database = connections[using]
    if database.vendor != "postgresql":
        return
    for queries in _functions:
        queries.create_function(database)
