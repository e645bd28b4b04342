"""The API's JSON, written by orjson; CSV of any serializer: one row per record, one column per
(nested) field."""

from decimal import Decimal

import orjson
from rest_framework import renderers, serializers
from rest_framework.utils.encoders import JSONEncoder

from ..spreadsheet import spreadsheet_csv


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON, byte for byte, written by orjson: with the json module, writing a page of full
    trials took about as long as reading their relations (BENCHMARKS.md, "Issue 17, twelfth
    round").

    What orjson would write its own way it hands to DRF's encoder (dates and times, which DRF
    writes with `Z` for UTC; dataclasses, which DRF refuses); keys that are not strings become
    strings, as the json module makes them. Indented or ASCII-only output stays DRF's. Two
    differences remain, neither in any answer about the seed (tests/test_read_path.py): a float
    with an exponent is written shorter (`1e-5`, not `1e-05`), and NaN as null where DRF would
    refuse it.
    """

    options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    options |= orjson.OPT_NON_STR_KEYS
    default = staticmethod(JSONEncoder().default)

    def render(self, data, accepted_media_type=None, renderer_context=None):
        indent = self.get_indent(accepted_media_type, renderer_context or {})
        if data is None or indent is not None or self.ensure_ascii or not self.compact:
            return super().render(data, accepted_media_type, renderer_context)
        written = orjson.dumps(data, default=self.default, option=self.options)
        # As DRF does: JSON that is also JavaScript.
        return written.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")


class CSVRenderer(renderers.BaseRenderer):
    """One row per record, one column per field; nested fields get dotted column names.

    A list becomes one cell, its items separated by "; " (a list inside a list item by ", "),
    so that `agents.name` and `agents.role` line up item by item. The columns come from the
    view's serializer, so they are the same whatever the rows hold, even with no row at all.
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"
    separators = ("; ", ", ")

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:  # a deletion's 204 has no body
            return b""
        rows = data if isinstance(data, list) else [data]
        return spreadsheet_csv(*self.table(rows, renderer_context["view"]))

    def table(self, rows: list[dict], view) -> tuple[list[str], list[list[str]]]:
        """The header and rows of the CSV (spreadsheet_csv guards and marks them)."""
        columns = csv_columns(view.get_serializer())
        return columns, [
            [self.cell(lookup(row, column.split(".")), depth=0) for column in columns]
            for row in rows
        ]

    def cell(self, value, *, depth: int) -> str:
        if isinstance(value, list):
            separator = self.separators[min(depth, len(self.separators) - 1)]
            return separator.join(self.cell(item, depth=depth + 1) for item in value)
        if isinstance(value, Decimal):
            return f"{value.normalize():f}"
        return "" if value is None else str(value)


def csv_columns(serializer) -> list[str]:
    columns = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        nested = nested_serializer(field)
        columns += [f"{name}.{column}" for column in csv_columns(nested)] if nested else [name]
    return columns


def nested_serializer(field):
    if isinstance(field, serializers.ListSerializer):
        return field.child
    if isinstance(field, serializers.ManyRelatedField):
        field = field.child_relation
    # A BriefSlugRelatedField (read by what it has, not imported: DRF imports this module, named
    # in its settings, while it defines its views, which the serializers' module imports).
    if hasattr(field, "brief_serializer"):
        return field.brief_serializer()
    if isinstance(field, serializers.BaseSerializer):
        return field
    return None


def lookup(data, keys: list[str]):
    if isinstance(data, list):
        return [lookup(item, keys) for item in data]
    if not keys or data is None:
        return data
    return lookup(data.get(keys[0]), keys[1:])
