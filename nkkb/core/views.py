"""The bases of every list page and record page."""

from functools import partial

import django_filters
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpResponse, QueryDict
from django.test import RequestFactory
from django.urls import resolve
from django.utils.http import urlencode
from django.views.generic import DetailView
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin
from django_tables2.export import ExportMixin

from .caching import KeptPerDataVersion, anonymous_answer_at, data_position, data_version
from .changes import Changes
from .facets import facet_counts, facet_index, faceted_list_pages, unchanged_since
from .filtersets import BOOLEAN_VALUES, filter_parameters
from .spreadsheet import export_filename, spreadsheet_csv
from .tables import COLUMNS_PARAMETER, MAX_EXPORT_ROWS

# Parameters that shape a page of the list rather than select records, and with the export
# (a file) those that get no chip and no count of filters.
PAGE_SHAPE_PARAMETERS = ("ordering", "page", "page_size", COLUMNS_PARAMETER)
DISPLAY_PARAMETERS = (*PAGE_SHAPE_PARAMETERS, "export")


def applied_filters(filterset) -> list[dict]:
    """One {label, value, remove_url} per value of each filter in use, `remove_url` being this
    list without that one value (and back on its first page): the removable chips.

    Reads the labels of slug filters' records in one query per filter in use.
    """
    data = filterset.data
    parameters = [
        name for name in filter_parameters(type(filterset)) if name not in DISPLAY_PARAMETERS
    ]
    chips = []
    for name in parameters:
        values = [value for value in data.getlist(name) if value.strip()]
        if not values:
            continue
        base, _, suffix = name.rpartition("_")
        definition = filterset.filters.get(name) or filterset.filters.get(base)
        label = definition.label if definition is not None else name
        if definition is not None and name not in filterset.filters:
            label = f"{label} {'from' if suffix == 'min' else 'to'}"
        labels = _value_labels(filterset.form.fields.get(name), definition, values)
        for value in values:
            remaining = QueryDict(mutable=True)
            for key, kept in data.lists():
                if key == "page":
                    continue
                kept = [v for v in kept if not (key == name and v == value)]
                if kept:
                    remaining.setlist(key, kept)
            chips.append(
                {
                    "name": name,
                    "label": label,
                    "value": labels.get(value, value),
                    "remove_url": f"?{remaining.urlencode()}",
                }
            )
    return chips


def _value_labels(field, definition, values) -> dict[str, str]:
    if field is not None and hasattr(field, "queryset"):
        key = field.to_field_name or "pk"
        return {
            str(getattr(record, key)): str(record)
            for record in field.queryset.filter(**{f"{key}__in": values})
        }
    if isinstance(definition, django_filters.BooleanFilter):
        return {value: "yes" if BOOLEAN_VALUES.get(value) else "no" for value in values}
    if getattr(definition, "method", None) == "search":
        return {value: f"“{value}”" for value in values}
    if field is not None and hasattr(field, "choices"):
        return {str(value): str(label) for value, label in field.choices}
    return {}


def facet_panel(filterset) -> list[dict]:
    """Each filter of the FilterSet's `facet_paths` with its options: their labels, counts, and
    whether they are selected. An option no result has is left out unless selected."""
    counts = facet_counts(filterset)
    panel = []
    for name, option_counts in counts.items():
        field = filterset.form.fields[name]
        selected = set(filterset.data.getlist(name))
        choices = _FACET_CHOICES.get(
            (type(filterset), name),
            partial(facet_choices, field),
            models=_choices_read_from(filterset.filters[name], field) or (),
        )
        options = [
            {
                "value": value,
                "label": label,
                "count": option_counts.get(value, 0),
                "selected": value in selected,
            }
            for value, label in choices
        ]
        panel.append(
            {
                "name": name,
                "label": field.label,
                "options": [o for o in options if o["count"] or o["selected"]],
            }
        )
    return panel


# A facet's options change only with a write: reading and sorting them on every page was a
# large share of an uncached list page (BENCHMARKS.md, "Issue 17, eighth round"); those read
# from a few models (agents, targets, conditions) stand until one of them is written, so that a
# write to a trial does not make every worker read them again ("ninth round").
_FACET_CHOICES = KeptPerDataVersion()


def _choices_read_from(definition, field) -> tuple | None:
    """The models a facet's options (their values and labels) are read from: its records' model
    (all of them: a filtered queryset may read others), those its choices function names
    (nkkb.core.filtersets.choices_read_from), none for a fixed list; None where unknown."""
    if hasattr(field, "queryset"):
        return None if field.queryset.query.has_filters() else (field.queryset.model,)
    choices = definition.extra.get("choices")
    return getattr(choices, "read_from", None) if callable(choices) else ()


def _options_read_from(filterset) -> list | None:
    """The models the options of every facet of `filterset` are read from; None where unknown."""
    models = []
    for name in filterset.facet_paths:
        read_from = _choices_read_from(filterset.filters[name], filterset.form.fields[name])
        if read_from is None:
            return None
        models += read_from
    return models


def facet_choices(field) -> list[tuple[str, str]]:
    """(value, label) of each option of a facet's form field: records by name, case-insensitively
    ("common gamma chain" among the Cs); a vocabulary in its own order."""
    if hasattr(field, "queryset"):
        records = sorted(field.queryset, key=lambda record: str(record).casefold())
        return [(record.slug, str(record)) for record in records]
    return [(value, label) for value, label in field.choices if value != ""]


class FilteredTableView(ExportMixin, SingleTableMixin, FilterView):
    """A list page: its model's FilterSet narrows it (its facets with counts), a table sorts and
    pages it, CSV exports it.

    An invalid filter value leaves the list empty and the form says what was wrong.
    """

    template_name = "object_list.html"
    export_formats = ("csv",)
    export_trigger_param = "export"
    title = ""
    # What the search box searches, in a reader's words.
    search_placeholder = ""

    @classmethod
    def query_parameters(cls):
        """The parameters the page reads (nkkb.core.limits): its filters, sort, page, export,
        and the columns it shows (a page's own parameter: the API's is `fields`)."""
        names = [*filter_parameters(cls.filterset_class), "ordering", "page", "page_size"]
        names.append("export")
        if cls.table_class.optional_columns:
            names.append(COLUMNS_PARAMETER)
        return names

    def get_export_filename(self, export_format):
        selection = [
            (name, value)
            for name, values in self.request.GET.lists()
            if name not in DISPLAY_PARAMETERS
            for value in values
        ]
        return export_filename(str(self.model._meta.verbose_name_plural), selection)

    def export_rows(self) -> tuple[list[str], list]:
        """The header and rows of the export: the table's columns, all of them, as text."""
        values = iter(self.get_table(**self.get_table_kwargs()).as_values())
        return next(values), values

    def create_export(self, export_format):
        response = HttpResponse(
            spreadsheet_csv(*self.export_rows()), content_type="text/csv; charset=utf-8"
        )
        filename = self.get_export_filename(export_format)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def asked_columns(self) -> list[str]:
        return self.request.GET.getlist(COLUMNS_PARAMETER)

    def get(self, request, *args, **kwargs):
        unchanged = self.unchanged_page()
        return unchanged if unchanged is not None else super().get(request, *args, **kwargs)

    def get_filterset(self, filterset_class):
        # Built once a request: unchanged_page reads it before FilterView.get.
        if getattr(self, "filterset", None) is None:
            self.filterset = super().get_filterset(filterset_class)
        return self.filterset

    def unchanged_page(self) -> HttpResponse | None:
        """The page as rendered for an anonymous visitor before the last writes, where they
        provably left it as it was: a write to one trial retired every page, and rendering a
        list page again cost about as much as the write itself (BENCHMARKS.md, "Issue 17,
        eighteenth round"). It stands where the page reads no parameter but its facets and its
        shape, what the FilterSet finds and counts is unchanged and none of its results'
        cells was touched (unchanged_since), and no model a facet's options are read from was
        written."""
        table_class = self.get_table_class()
        parameters = self.request.GET.keys()
        if table_class.touched_records is None or not parameters <= {
            *self.get_filterset_class().facet_paths,
            *PAGE_SHAPE_PARAMETERS,
        }:
            return None
        filterset = self.get_filterset(self.get_filterset_class())
        mend = unchanged_since(filterset, table_class.touched_records)
        if mend is None:
            return None
        options_read_from = _options_read_from(filterset)
        changes = Changes(mend.position, data_position())
        if options_read_from is None or any(changes.wrote(model) for model in options_read_from):
            return None
        return anonymous_answer_at(self.request, mend.version)

    def get_table_kwargs(self):
        """The page shows the optional columns chosen; an export holds them all."""
        kwargs = super().get_table_kwargs()
        table_class = self.get_table_class()
        if not self.request.GET.get(self.export_trigger_param):
            chosen = table_class.chosen_columns(self.asked_columns())
            kwargs["exclude"] = [c for c in table_class.optional_columns if c not in chosen]
        return kwargs

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.title
        context["noun"] = self.model._meta.verbose_name
        context["noun_plural"] = self.model._meta.verbose_name_plural
        query = self.request.GET.copy()
        query[self.export_trigger_param] = "csv"
        query.pop("page", None)
        query.pop(COLUMNS_PARAMETER, None)
        context["export_query"] = query.urlencode()
        context["max_export_rows"] = MAX_EXPORT_ROWS
        context["applied_filters"] = applied_filters(context["filter"])
        context["facets"] = facet_panel(context["filter"])
        context["search_placeholder"] = self.search_placeholder
        table_class = self.get_table_class()
        context["column_choices"] = table_class.column_choices(self.asked_columns())
        # What the column chooser's form must carry over: every other parameter but the page.
        context["kept_parameters"] = [
            (name, value)
            for name, values in self.request.GET.lists()
            if name not in (COLUMNS_PARAMETER, "page")
            for value in values
        ]
        return context

    def render_to_response(self, context, **kwargs):
        """A selection too large to export gets its page back (400) saying so, not a file."""
        export_requested = self.request.GET.get(self.export_trigger_param)
        if export_requested and context["table"].paginator.count > MAX_EXPORT_ROWS:
            context["export_refused"] = True
            return super(ExportMixin, self).render_to_response(context, status=400, **kwargs)
        return super().render_to_response(context, **kwargs)


def render_list_pages(after_each=lambda: None) -> None:
    """Render the first page of every faceted list for an anonymous visitor in this process,
    and of the list of each option of the facet its FilterSet is `browsed_by`, calling
    `after_each` after each: a worker does so before its first request (gunicorn.conf.py).
    A worker whose visitors were all answered from the shared cache renders its first page after
    a write, and without this that page also paid for what a process does once: Django reads its
    URL patterns for reversing and compiles the templates, the tables and the statements
    (BENCHMARKS.md, "Issue 17, thirteenth round"), and the cells of every row of a list it had
    not rendered ("seventeenth round"). The pages go nowhere: no cache holds them."""
    version = data_version()[0]
    for filterset_class, path in faceted_list_pages().items():
        paths = [path]
        browsed_by = getattr(filterset_class, "browsed_by", None)
        if browsed_by is not None:
            options = facet_index(filterset_class, browsed_by, version)
            paths += [f"{path}?{urlencode({browsed_by: value})}" for value in sorted(options)]
        for page in paths:
            _render_anonymously(page)
            after_each()


def _render_anonymously(path: str) -> None:
    request = RequestFactory().get(path)
    request.user = AnonymousUser()
    request.resolver_match = match = resolve(request.path_info)
    response = match.func(request, *match.args, **match.kwargs)
    if hasattr(response, "render"):  # not a page unchanged since it was rendered
        response.render()


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
