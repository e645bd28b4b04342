"""The base of every list table: the same sort and page-size parameters as the API."""

import django_tables2 as tables

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25


class BaseTable(tables.Table):
    class Meta:
        order_by_field = "ordering"
        per_page_field = "page_size"
        attrs = {"class": "table"}
        template_name = "django_tables2/table.html"

    def paginate(self, *args, per_page=DEFAULT_PAGE_SIZE, **kwargs):
        per_page = min(max(int(per_page), 1), MAX_PAGE_SIZE)
        return super().paginate(*args, per_page=per_page, **kwargs)


class LinkedManyColumn(tables.ManyToManyColumn):
    """Linked names on the page; plain names, separated by semicolons, in exports."""

    def __init__(self, **kwargs):
        super().__init__(linkify_item=True, orderable=False, **kwargs)

    def value(self, value, **kwargs):
        return "; ".join(str(item) for item in self.filter(value))
