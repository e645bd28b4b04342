"""The base of every list table: the same sort and page-size parameters as the API."""

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import django_tables2 as tables
from django.utils.formats import localize
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django_tables2.utils import OrderBy, OrderByTuple

from .caching import data_position, data_version
from .changes import Changes, Position, results_to_mend

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
    # The ids of the records whose cells the writes in a Changes may have changed (None where it
    # cannot tell). Where a table names it, each process keeps the cells it renders (KeptCells).
    touched_records: Callable[[Changes], set[int] | None] | None = None
    # Set by paginate where the table keeps its cells.
    kept_cells: "KeptCells | None" = None

    def read_relations(self, records: list) -> None:
        """Read what rendering the records' cells reads beyond their own rows (a table that
        keeps its cells is given records without it): called for the records of a page whose
        shown cells are not all kept, so that a page whose cells are all kept reads nothing
        more, and one after a write reads only for the records it touched."""

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
        headers = cls._column_headers()
        chosen = cls.chosen_columns(asked)
        return [
            {"name": name, "header": headers[name], "shown": name in chosen}
            for name in cls.optional_columns
        ]

    @classmethod
    @functools.cache
    def _column_headers(cls) -> dict[str, str]:
        # They depend on the class alone: a table built for them on every page copied every
        # column again.
        return {column.name: column.header for column in cls([]).columns}

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
        """A row's cells, each localized as the column says (django-tables2's `localize`), those
        this process rendered before at the same moment of the knowledge base kept."""
        kept = self.kept_cells.of(row.record.pk) if self.kept_cells is not None else {}
        html = []
        for column in self.columns:
            cell = kept.get(column.name)
            if cell is None:
                cell = conditional_escape(
                    localize(row.get_cell(column.name), use_l10n=column.localize)
                )
                kept[column.name] = cell
            html += (self.cell_openings[column.name], cell, "</td>")
        return mark_safe("".join(html))

    def paginate(self, *args, per_page=DEFAULT_PAGE_SIZE, **kwargs):
        if self.touched_records is not None:
            # Mended before the page's records are read: a cell rendered from them is then at
            # least as new as the moment the kept cells are at.
            self.kept_cells = kept_cells(type(self))
        per_page = min(max(int(per_page), 1), MAX_PAGE_SIZE)
        paginated = super().paginate(*args, per_page=per_page, **kwargs)
        records = list(self.page.object_list.data)
        if self.kept_cells is not None:
            shown = [column.name for column in self.columns]
            records = [record for record in records if not self.kept_cells.has(record.pk, shown)]
        if records:
            self.read_relations(records)
        return paginated


# Records whose cells a process keeps per table, the most recently shown (their memory:
# BENCHMARKS.md, "Issue 17, seventh round").
MAX_KEPT_RECORDS = 2_000


@dataclass
class KeptCells:
    """The cells of one table (in one language) this process rendered, by record and column, as
    they are at data `version`: django-tables2 renders each cell through several layers, and a
    list page's rows cost more than all its other parts together (BENCHMARKS.md, "Issue 17,
    seventh round"). After a write, the cells of the records it touched are left behind (as the
    facet index is mended: nkkb.core.facets), so each process renders only those again."""

    version: str
    position: Position
    # {record id: {column name: cell}}, the least recently shown first.
    records: OrderedDict

    def has(self, record_id: int, columns: list[str]) -> bool:
        """Whether the record's cells of all `columns` are kept."""
        cells = self.records.get(record_id)
        return cells is not None and all(name in cells for name in columns)

    def of(self, record_id: int) -> dict[str, SafeString]:
        """The record's kept cells, to read and to add to."""
        with _keeping:
            cells = self.records.get(record_id)
            if cells is None:
                cells = self.records[record_id] = {}
                if len(self.records) > MAX_KEPT_RECORDS:
                    self.records.popitem(last=False)
            else:
                self.records.move_to_end(record_id)
            return cells


_kept: dict[tuple[type, str], KeptCells] = {}
_keeping = threading.Lock()


def kept_cells(table_class) -> KeptCells:
    """The cells `table_class` keeps in this process at the request's data version.

    After a write, a new KeptCells holds the cells of the records it did not touch: a thread
    still rendering from records read before the write adds its cells to the old one."""
    version = data_version()[0]
    key = (table_class, get_language())
    with _keeping:
        kept = _kept.get(key)
        if kept is not None and kept.version == version:
            return kept
        position = data_position()
        touched = (
            None
            if kept is None
            else results_to_mend(table_class.touched_records, kept.position, position)
        )
        if touched is None:
            records = OrderedDict()
        else:
            records = OrderedDict(
                (record_id, cells)
                for record_id, cells in kept.records.items()
                if record_id not in touched
            )
        kept = _kept[key] = KeptCells(version, position, records)
        return kept


def forget_kept_cells() -> None:
    """Forget every kept cell (tests, whose rolled-back data may come back under an old version)."""
    with _keeping:
        _kept.clear()


class LinkedManyColumn(tables.ManyToManyColumn):
    """Linked names on the page; plain names, separated by semicolons, in exports."""

    def __init__(self, **kwargs):
        super().__init__(linkify_item=True, orderable=False, **kwargs)

    def value(self, value, **kwargs):
        return "; ".join(str(item) for item in self.filter(value))
