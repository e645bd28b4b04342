"""Pages of API lists: `page` and `page_size`, capped like the list pages."""

from rest_framework import exceptions, pagination

from ..limits import POSITIVE_INTEGER
from ..tables import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE


class PageNumberPagination(pagination.PageNumberPagination):
    """`page` and `page_size`, capped like the list pages; a page past the end is a 404."""

    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    page_size_query_description = (
        f"Results per page: {DEFAULT_PAGE_SIZE} unless given, at most {MAX_PAGE_SIZE} "
        "(a larger value is lowered to it)."
    )
    max_page_size = MAX_PAGE_SIZE
    invalid_page_message = "Page {page_number} does not exist: {message}."

    def get_page_size(self, request):
        """`page_size` as given, lowered to the maximum; anything but a positive whole number is
        a 400 (DRF would fall back to the default without a word)."""
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        if not POSITIVE_INTEGER.match(value):
            raise exceptions.ValidationError(
                {self.page_size_query_param: ["A positive whole number."]}
            )
        return min(int(value), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=MAX_PAGE_SIZE)
        return parameters
