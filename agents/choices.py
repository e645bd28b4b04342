"""Controlled vocabularies of the agents app: one place, used by models, filters and the seed."""

from django.db import models


class TargetKind(models.TextChoices):
    NK_ACTIVATING_RECEPTOR = "nk-activating-receptor", "NK activating receptor"
    NK_INHIBITORY_RECEPTOR = "nk-inhibitory-receptor", "NK inhibitory receptor"
    IMMUNE_CHECKPOINT = "immune-checkpoint", "Immune checkpoint"
    TUMOR_ANTIGEN = "tumor-antigen", "Tumor antigen"
    CYTOKINE_RECEPTOR = "cytokine-receptor", "Cytokine receptor"
    OTHER = "other", "Other"


class AgentClass(models.TextChoices):
    CYTOKINE = "cytokine", "Cytokine"
    TUMOR_TARGETING_MAB = "tumor-targeting-mab", "Tumor-targeting mAb"
    CHECKPOINT_MAB = "checkpoint-mab", "Checkpoint mAb"
    ENGAGER = "engager", "NK cell engager"
    OTHER = "other", "Other (co-therapy)"


class ApprovalStatus(models.TextChoices):
    APPROVED = "approved", "Approved"
    UNDER_REVIEW = "under-review", "Under regulatory review"
    NOT_APPROVED = "not-approved", "Not approved"


class ProductSource(models.TextChoices):
    PERIPHERAL_BLOOD = "peripheral-blood", "Peripheral blood"
    CORD_BLOOD = "cord-blood", "Umbilical cord blood"
    PLACENTAL_CD34 = "placental-cd34", "Placental CD34+ cells"
    IPSC = "ipsc", "Induced pluripotent stem cells"
    STEM_CELL = "stem-cell", "Stem cells (unspecified)"
    CELL_LINE = "cell-line", "Cell line"
    UNKNOWN = "unknown", "Unknown"


class ProductDonor(models.TextChoices):
    AUTOLOGOUS = "autologous", "Autologous"
    ALLOGENEIC = "allogeneic", "Allogeneic"
    HAPLOIDENTICAL = "haploidentical", "Haploidentical"
    UNKNOWN = "unknown", "Unknown"


class CD16Status(models.TextChoices):
    ABSENT = "absent", "Absent"
    LOW = "low", "Low"
    NATIVE = "native", "Native"
    HIGH_AFFINITY = "high-affinity", "High-affinity"
    HIGH_AFFINITY_NON_CLEAVABLE = "high-affinity-non-cleavable", "High-affinity, non-cleavable"
    UNKNOWN = "unknown", "Unknown"
