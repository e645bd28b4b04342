"""The base of every list table: the same sort and page-size parameters as the API."""

import functools

import django_tables2 as tables
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django_tables2.utils import OrderBy, OrderByTuple

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25
# A CSV export is built in memory: larger selections cost a worker seconds and memory
# (BENCHMARKS.md, "Figures behind the code").
MAX_EXPORT_ROWS = 5_000
# The page parameter naming the optional columns to show (`columns=enrollment&columns=phase`).
COLUMNS_PARAMETER = "columns"


class BaseTable(tables.Table):
    # Columns a reader may show or hide on the page (`columns=`, kept in the URL), and those of
    # them hidden until asked for. Exports hold every column whatever the page shows.
    optional_columns: tuple[str, ...] = ()
    hidden_by_default: tuple[str, ...] = ()

    class Meta:
        order_by_field = "ordering"
        per_page_field = "page_size"
        attrs = {"class": "table"}
        template_name = "includes/table.html"

    @classmethod
    def chosen_columns(cls, asked: list[str]) -> list[str]:
        """The optional columns `asked` names (unknown names ignored), else the default ones."""
        chosen = [name for name in cls.optional_columns if name in asked]
        return chosen or [
            name for name in cls.optional_columns if name not in cls.hidden_by_default
        ]

    @classmethod
    def column_choices(cls, asked: list[str]) -> list[dict]:
        """{name, header, shown} of each optional column, for the column chooser."""
        headers = {column.name: column.header for column in cls([]).columns}
        chosen = cls.chosen_columns(asked)
        return [
            {"name": name, "header": headers[name], "shown": name in chosen}
            for name in cls.optional_columns
        ]

    @property
    def order_by(self):
        return self._order_by

    @order_by.setter
    def order_by(self, value):
        """Record the order for the header links only: the FilterSet's `ordering` sorted the rows.

        Sorting in one place keeps pages and API in the same order, empty values last.
        """
        aliases = value.split(",") if isinstance(value, str) else value or ()
        self._order_by = OrderByTuple(
            alias
            for alias in aliases
            if OrderBy(alias).bare in self.columns and self.columns[OrderBy(alias).bare].orderable
        )

    @functools.cached_property
    def cell_openings(self) -> dict[str, SafeString]:
        """Each shown column's `<td>`, labelled with its header for the stacked rows of narrow
        screens: built once a page, where the row template built the same attributes again for
        every cell. A column's cell attributes are therefore its own, never a record's."""
        return {
            column.name: format_html(
                '<td {} data-label="{}">', column.attrs["td"].as_html(), column.header
            )
            for column in self.columns
        }

    def cells_html(self, row) -> SafeString:
        """A row's cells, each localized as the column says (django-tables2's `localize`)."""
        return format_html_join(
            "",
            "{}{}</td>",
            (
                (self.cell_openings[column.name], localize(cell, use_l10n=column.localize))
                for column, cell in row.items()
            ),
        )

    def paginate(self, *args, per_page=DEFAULT_PAGE_SIZE, **kwargs):
        per_page = min(max(int(per_page), 1), MAX_PAGE_SIZE)
        return super().paginate(*args, per_page=per_page, **kwargs)


class LinkedManyColumn(tables.ManyToManyColumn):
    """Linked names on the page; plain names, separated by semicolons, in exports."""

    def __init__(self, **kwargs):
        super().__init__(linkify_item=True, orderable=False, **kwargs)

    def value(self, value, **kwargs):
        return "; ".join(str(item) for item in self.filter(value))
