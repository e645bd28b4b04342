"""The bases of every list page and record page."""

from django.http import Http404
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin
from django_tables2.export import ExportMixin

from .filtersets import filter_parameters
from .tables import MAX_EXPORT_ROWS


class FilteredTableView(ExportMixin, SingleTableMixin, FilterView):
    """A list page: its model's FilterSet narrows it, a table sorts and pages it, CSV exports it.

    An invalid filter value leaves the list empty and the form says what was wrong.
    """

    template_name = "object_list.html"
    export_formats = ("csv",)
    export_trigger_param = "export"
    title = ""

    @classmethod
    def query_parameters(cls):
        """The parameters the page reads (nkkb.core.limits): its filters, sort, page, export."""
        return [*filter_parameters(cls.filterset_class), "ordering", "page", "page_size", "export"]

    def get_export_filename(self, export_format):
        return f"nkkb-{self.model._meta.model_name}s.{export_format}"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.title
        query = self.request.GET.copy()
        query[self.export_trigger_param] = "csv"
        context["export_query"] = query.urlencode()
        context["max_export_rows"] = MAX_EXPORT_ROWS
        return context

    def render_to_response(self, context, **kwargs):
        """A selection too large to export gets its page back (400) saying so, not a file."""
        export_requested = self.request.GET.get(self.export_trigger_param)
        if export_requested and context["table"].paginator.count > MAX_EXPORT_ROWS:
            context["export_refused"] = True
            return super(ExportMixin, self).render_to_response(context, status=400, **kwargs)
        return super().render_to_response(context, **kwargs)


class RecordDetailView(DetailView):
    """A record's page; a key that names no record is a 404 that says so."""

    query_parameters = ()

    def get_object(self, queryset=None):
        try:
            return super().get_object(queryset)
        except Http404:
            key = self.kwargs.get(self.slug_url_kwarg) or self.kwargs.get(self.pk_url_kwarg)
            name = (queryset if queryset is not None else self.get_queryset()).model._meta
            raise Http404(f"NKKB has no {name.verbose_name} {key!r}.") from None
