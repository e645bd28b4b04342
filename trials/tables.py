import django_tables2 as tables

from nkkb.core.tables import BaseTable, LinkedManyColumn

from .models import Trial


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
