import django_tables2 as tables
from django.utils.html import format_html

from nkkb.core.tables import BaseTable, LinkedManyColumn

from .best_known import REGISTRY, KnownValue, known_values
from .models import Trial


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


class TrialTable(BaseTable):
    nct_id = tables.Column(linkify=True, verbose_name="NCT number")
    title = tables.Column(attrs={"td": {"class": "col-title"}})
    therapy_classes = tables.TemplateColumn(
        template_name="trials/therapy_classes_cell.html",
        orderable=False,
        verbose_name="Therapy classes",
    )
    agents = tables.TemplateColumn(
        template_name="trials/agents_cell.html", orderable=False, verbose_name="Agents"
    )
    nk_products = LinkedManyColumn(verbose_name="NK cell products")
    conditions = LinkedManyColumn()
    phase = KnownValueColumn(order_by=("phase",))
    status = KnownValueColumn(order_by=("status",))
    enrollment = KnownValueColumn(order_by=("enrollment",))

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
        )

    def value_therapy_classes(self, record):
        return "; ".join(record.therapy_classes)

    def value_agents(self, record):
        return "; ".join(link.agent.name for link in record.trial_agents.all())
