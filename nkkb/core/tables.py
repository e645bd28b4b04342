"""The base of every list table: the same sort and page-size parameters as the API."""

import django_tables2 as tables
from django_tables2.utils import OrderBy, OrderByTuple

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25
# A CSV export is built in memory: larger selections cost a worker seconds and memory
# (BENCHMARKS.md, "Figures behind the code").
MAX_EXPORT_ROWS = 5_000


class BaseTable(tables.Table):
    class Meta:
        order_by_field = "ordering"
        per_page_field = "page_size"
        attrs = {"class": "table"}
        template_name = "django_tables2/table.html"

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

    def paginate(self, *args, per_page=DEFAULT_PAGE_SIZE, **kwargs):
        per_page = min(max(int(per_page), 1), MAX_PAGE_SIZE)
        return super().paginate(*args, per_page=per_page, **kwargs)


class LinkedManyColumn(tables.ManyToManyColumn):
    """Linked names on the page; plain names, separated by semicolons, in exports."""

    def __init__(self, **kwargs):
        super().__init__(linkify_item=True, orderable=False, **kwargs)

    def value(self, value, **kwargs):
        return "; ".join(str(item) for item in self.filter(value))
