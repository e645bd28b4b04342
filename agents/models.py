from django.db import models
from simple_history.models import HistoricalRecords

from nkkb.core.links import record_url
from nkkb.core.models import (
    BoundedTextField,
    CuratedModel,
    choices_constraint,
    validate_string_list,
)

from .choices import AgentClass, ApprovalStatus, CD16Status, ProductDonor, ProductSource, TargetKind


class NamedCuratedModel(CuratedModel):
    """A curated entity known by a unique name, a URL slug and the other names the review uses."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    aliases = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_string_list],
        help_text="Other names the review uses for it.",
    )

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return record_url(self.detail_url_name, self.slug)


class Target(NamedCuratedModel):
    """A receptor or antigen that an agent or an engineered NK cell product binds."""

    detail_url_name = "agents:target_detail"

    kind = models.CharField(max_length=32, choices=TargetKind.choices)
    description = BoundedTextField(blank=True, null=True)

    history = HistoricalRecords()

    class Meta(NamedCuratedModel.Meta):
        constraints = [choices_constraint("kind", TargetKind, model="target")]


class Agent(NamedCuratedModel):
    """A therapeutic: a cytokine, an antibody, an NK cell engager, or a co-therapy."""

    detail_url_name = "agents:agent_detail"

    agent_class = models.CharField("class", max_length=32, choices=AgentClass.choices)
    platform = models.CharField(
        "platform/modality",
        max_length=64,
        blank=True,
        null=True,
        help_text="e.g. IL-15 superagonist, IL-2 variant, oncolytic adenovirus, TriKE, ANKET.",
    )
    targets = models.ManyToManyField(Target, related_name="agents", blank=True)
    mechanism = BoundedTextField(blank=True, null=True)
    acts_through_cd16 = models.BooleanField(
        "acts through CD16",
        null=True,
        blank=True,
        help_text="Whether it works through CD16 (ADCC or CD16 engagement); empty when unknown.",
    )
    approval_status = models.CharField(
        max_length=16,
        choices=ApprovalStatus.choices,
        blank=True,
        null=True,
    )
    approval_note = BoundedTextField(blank=True, null=True)

    history = HistoricalRecords(m2m_fields=[targets])

    class Meta(NamedCuratedModel.Meta):
        constraints = [
            choices_constraint("agent_class", AgentClass, model="agent"),
            choices_constraint("approval_status", ApprovalStatus, model="agent", nullable=True),
        ]


class NKCellProduct(NamedCuratedModel):
    """An adoptively transferred NK cell product: its origin, donor, CD16 and engineering."""

    detail_url_name = "agents:nk_product_detail"

    source = models.CharField(
        max_length=32, choices=ProductSource.choices, default=ProductSource.UNKNOWN
    )
    donor = models.CharField(
        max_length=32, choices=ProductDonor.choices, default=ProductDonor.UNKNOWN
    )
    cd16_status = models.CharField(
        "CD16 status",
        max_length=32,
        choices=CD16Status.choices,
        default=CD16Status.UNKNOWN,
    )
    targets = models.ManyToManyField(
        Target,
        related_name="nk_products",
        blank=True,
        help_text="Antigens its CAR targets.",
    )
    engineering = BoundedTextField(blank=True, null=True)
    expansion = BoundedTextField("expansion/activation", blank=True, null=True)
    description = BoundedTextField(blank=True, null=True)

    history = HistoricalRecords(m2m_fields=[targets])

    class Meta(NamedCuratedModel.Meta):
        verbose_name = "NK cell product"
        constraints = [
            choices_constraint("source", ProductSource, model="nkcellproduct"),
            choices_constraint("donor", ProductDonor, model="nkcellproduct"),
            choices_constraint("cd16_status", CD16Status, model="nkcellproduct"),
        ]
