import django_tables2 as tables
from django.db.models import prefetch_related_objects
from django.template.defaultfilters import pluralize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from agents.compatibility import UNRECORDED
from nkkb.core.links import filtered_list_url
from nkkb.core.tables import BaseTable, LinkedManyColumn

from .best_known import REGISTRY, KnownValue, known_values
from .models import Trial, related_prefetches, touched_trials


class KnownValueColumn(tables.Column):
    """A best-known value (trials.best_known): the curators', else the registry's, marked so."""

    def __init__(self, **kwargs):
        super().__init__(accessor="pk", **kwargs)

    @staticmethod
    def known(record, bound_column) -> KnownValue:
        if "known_values" not in record.__dict__:
            record.known_values = known_values(record)
        return record.known_values[bound_column.name]

    def render(self, record, bound_column):
        known = self.known(record, bound_column)
        if known.source != REGISTRY:
            unstated = format_html('<span class="muted">{}</span>', "—")
            return known.label if known.source else unstated
        return format_html(
            '<span class="known-from-registry" title="{}">{}<sup aria-hidden="true">R</sup>'
            '<span class="visually-hidden"> ({})</span></span>',
            known.note,
            known.label,
            known.note,
        )

    def value(self, record, bound_column, **kwargs):
        known = self.known(record, bound_column)
        if known.source is None:
            return ""
        return f"{known.label} ({known.note})" if known.source == REGISTRY else known.label


class WarningsColumn(tables.Column):
    """How many warnings and caveats the compatibility rules give (agents.compatibility), and
    whether a CD16 dependence they depend on is not recorded."""

    def __init__(self, **kwargs):
        super().__init__(accessor="pk", orderable=False, **kwargs)

    @staticmethod
    def counts(record) -> tuple[int, int]:
        warnings = record.compatibility_warnings
        unrecorded = sum(w.severity == UNRECORDED for w in warnings)
        return len(warnings) - unrecorded, unrecorded

    def render(self, record):
        warned, unrecorded = self.counts(record)
        if not warned and not unrecorded:
            return format_html('<span class="muted">{}</span>', "—")
        parts = []
        if warned:
            parts.append(format_html('<span class="flag flag-warning">⚠ {}</span>', warned))
        if unrecorded:
            parts.append(
                format_html('<span class="flag flag-unrecorded">{}</span>', "CD16 not recorded")
            )
        return format_html(
            '<a href="{}#compatibility-warnings">{}</a>',
            record.get_absolute_url(),
            format_html_join(" ", "{}", ((part,) for part in parts)),
        )

    def value(self, record):
        warned, unrecorded = self.counts(record)
        texts = [f"{warned} warning{pluralize(warned)}"] if warned else []
        texts += ["CD16 dependence not recorded"] if unrecorded else []
        return "; ".join(texts)


def therapy_class_badges(trial) -> SafeString:
    """Each of the trial's therapy classes, a badge linking to the trials of that class."""
    return format_html_join(
        "",
        '<a class="badge" href="{}">{}</a> ',
        (
            (filtered_list_url("trials:trial_list", therapy_class=choice.value), choice.label)
            for choice in trial.therapy_class_choices
        ),
    )


def _agent_links(links) -> SafeString:
    """A trial's agent links, each agent linked, with its role where the role gives no class."""
    return format_html_join(
        ", ",
        '<a href="{}">{}</a>{}',
        (
            (
                link.agent.get_absolute_url(),
                link.agent.name,
                ""
                if link.gives_therapy_class
                else format_html(" <small>({})</small>", link.get_role_display()),
            )
            for link in links
        ),
    )


def _product_links(products) -> SafeString:
    return format_html_join(
        ", ",
        '<a class="product" href="{}">{}</a>',
        ((product.get_absolute_url(), product.name) for product in products),
    )


# What a trial's cells read beyond its row: its agents (and their targets), products,
# conditions and registry record.
CELL_RELATIONS = ("conditions", "trial_agents", "nk_products", "registry_record")


class TrialTable(BaseTable):
    # The cells are built in Python: through a template each, they took a large share of the
    # page's time (BENCHMARKS.md, "Issue 17, sixth round").
    nct_id = tables.Column(linkify=True, verbose_name="NCT number")
    title = tables.Column(
        order_by=("title",),
        verbose_name="Title, agents and NK cell products",
        attrs={"td": {"class": "col-title"}},
    )
    therapy_classes = tables.Column(accessor="pk", orderable=False, verbose_name="Therapy classes")
    # Shown beside the title on the page; columns of their own in exports.
    agents = tables.Column(accessor="pk", orderable=False, verbose_name="Agents", visible=False)
    nk_products = LinkedManyColumn(verbose_name="NK cell products", visible=False)
    conditions = LinkedManyColumn()
    phase = KnownValueColumn(order_by=("phase",))
    status = KnownValueColumn(order_by=("status",))
    enrollment = KnownValueColumn(order_by=("enrollment",))
    start_year = KnownValueColumn(orderable=False, verbose_name="Start year")
    warnings = WarningsColumn(verbose_name="Warnings")

    optional_columns = (
        "phase",
        "status",
        "therapy_classes",
        "conditions",
        "enrollment",
        "start_year",
        "warnings",
    )
    hidden_by_default = ("start_year",)
    touched_records = staticmethod(touched_trials)

    class Meta(BaseTable.Meta):
        model = Trial
        fields = (
            "nct_id",
            "title",
            "phase",
            "status",
            "therapy_classes",
            "agents",
            "nk_products",
            "conditions",
            "enrollment",
            "start_year",
            "warnings",
        )

    def read_relations(self, records):
        prefetch_related_objects(records, *related_prefetches(CELL_RELATIONS))

    def render_title(self, record):
        # Each relation read once: `.all()` builds a new queryset on every call.
        links, products = record.trial_agents.all(), record.nk_products.all()
        uses = [
            format_html('<span class="visually-hidden">{}: </span>{}', label, html(items))
            for label, items, html in (
                ("Agents", links, _agent_links),
                ("NK cell products", products, _product_links),
            )
            if items
        ]
        if not uses:
            return record.title
        return format_html(
            '{}<span class="uses">{}</span>',
            record.title,
            format_html_join(" · ", "{}", ((use,) for use in uses)),
        )

    def render_therapy_classes(self, record):
        return therapy_class_badges(record)

    def value_title(self, record):
        return record.title

    def value_therapy_classes(self, record):
        return "; ".join(record.therapy_classes)

    def value_agents(self, record):
        return "; ".join(link.agent.name for link in record.trial_agents.all())
