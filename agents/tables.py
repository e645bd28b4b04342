import django_tables2 as tables

from nkkb.core.tables import BaseTable, LinkedManyColumn

from .models import Agent, NKCellProduct, Target


class TargetTable(BaseTable):
    name = tables.Column(linkify=True)
    agents = LinkedManyColumn(verbose_name="Agents")

    class Meta(BaseTable.Meta):
        model = Target
        fields = ("name", "kind", "agents")


class AgentTable(BaseTable):
    name = tables.Column(linkify=True)
    targets = LinkedManyColumn()

    class Meta(BaseTable.Meta):
        model = Agent
        fields = (
            "name",
            "agent_class",
            "platform",
            "targets",
            "acts_through_cd16",
            "approval_status",
        )


class NKCellProductTable(BaseTable):
    name = tables.Column(linkify=True)
    targets = LinkedManyColumn(verbose_name="CAR targets")

    class Meta(BaseTable.Meta):
        model = NKCellProduct
        fields = ("name", "source", "donor", "cd16_status", "targets")
