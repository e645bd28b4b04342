from django import template

register = template.Library()


@register.filter
def cells(row):
    """`{{ row|cells }}`: the row's cells as its table renders them (BaseTable.cells_html)."""
    return row.table.cells_html(row)
