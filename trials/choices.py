"""Controlled vocabularies of the trials app."""

from django.db import models

from agents.choices import AgentClass
from registry.choices import OverallStatus, RegistryPhase

# What a trial tests: each class of agent, plus NK cell products (listed before "other", so the
# therapies come first). Built from AgentClass, so that the two cannot drift apart.
TherapyClass = models.TextChoices(
    "TherapyClass",
    [
        *((c.name, (c.value, c.label)) for c in AgentClass if c != AgentClass.OTHER),
        ("NK_CELL_PRODUCT", ("nk-cell-product", "NK cell product")),
        (AgentClass.OTHER.name, (AgentClass.OTHER.value, AgentClass.OTHER.label)),
    ],
)


class Phase(models.TextChoices):
    """Phases as the review writes them; values are URL-friendly."""

    I = "1", "I"  # noqa: E741 - the phase is called I
    IB = "1b", "Ib"
    I_II = "1-2", "I/II"
    I_IIA = "1-2a", "I/IIa"
    IB_II = "1b-2", "Ib/II"
    II = "2", "II"
    II_III = "2-3", "II/III"
    III = "3", "III"
    IV = "4", "IV"


# The statuses a curator states: ClinicalTrials.gov's overall-status vocabulary without the
# expanded-access ones and WITHHELD, which the review never states. Built from the registry's,
# so the two cannot drift apart.
TrialStatus = models.TextChoices(
    "TrialStatus",
    [
        (status.name, (status.value, status.label))
        for status in OverallStatus
        if status
        not in {
            OverallStatus.AVAILABLE,
            OverallStatus.NO_LONGER_AVAILABLE,
            OverallStatus.TEMPORARILY_NOT_AVAILABLE,
            OverallStatus.APPROVED_FOR_MARKETING,
            OverallStatus.WITHHELD,
        }
    ],
)


class AgentRole(models.TextChoices):
    INVESTIGATIONAL = "investigational", "Investigational"
    COMBINATION = "combination", "Combination partner"
    STANDARD_OF_CARE = "standard-of-care", "Standard of care"
    COMPARATOR = "comparator", "Comparator"
    CONDITIONING = "conditioning", "Conditioning"
    # A feature of the cells (e.g. membrane-bound IL-15 on CAR NK cells), not an agent given.
    EXPRESSED_BY_PRODUCT = "expressed-by-product", "Expressed by the NK cell product"


# Links that keep a trial findable from the agent but do not make it a trial of the agent's
# class: the trial gives no dose of it. Read by therapy_class_rows and Trial.therapy_classes.
ROLES_WITHOUT_THERAPY_CLASS = frozenset({AgentRole.EXPRESSED_BY_PRODUCT})


class ResultMetric(models.TextChoices):
    ORR = "orr", "Overall response rate"
    CR = "cr", "Complete response"
    PR = "pr", "Partial response"
    RFS = "rfs", "Relapse-free survival"
    PFS = "pfs", "Progression-free survival"
    EFS = "efs", "Event-free survival"
    OS = "os", "Overall survival"
    DOR = "dor", "Duration of response"
    REMISSION = "remission", "In remission"
    DISEASE_FREE = "disease-free", "Disease-free"
    TREATMENT_RELATED_AE = "treatment-related-ae", "Treatment-related adverse events"
    AE_GRADE_3_4 = "ae-grade-3-4", "Grade 3-4 adverse events"
    # Serious is a regulatory category (hospitalisation, death...), severe a grade: not the same.
    SAE = "sae", "Serious adverse events"
    SEVERE_AE = "severe-ae", "Severe adverse events"
    DLT = "dlt", "Dose-limiting toxicities"
    NK_CELL_EXPANSION = "nk-cell-expansion", "NK cell expansion"
    BLAST_REDUCTION = "blast-reduction", "Blast reduction"


class CaveatSubject(models.TextChoices):
    """The part of a trial's record that a caveat qualifies (shown next to that part)."""

    TITLE = "title", "Title"
    AGENTS = "agents", "Agents"
    NK_PRODUCTS = "nk_products", "NK cell products"
    CONDITIONS = "conditions", "Conditions"
    PHASE = "phase", "Phase"
    STATUS = "status", "Status"
    ENROLLMENT = "enrollment", "Enrollment"
    RESULTS = "results", "Results"


class ResultUnit(models.TextChoices):
    PERCENT = "percent", "%"
    MONTHS = "months", "months"
    PATIENTS = "patients", "patients"
    FOLD = "fold", "-fold"


class ValueQualifier(models.TextChoices):
    EXACT = "exact", ""
    APPROXIMATELY = "approximately", "about"
    MORE_THAN = "more-than", "more than"
    LESS_THAN = "less-than", "less than"


class DiscrepancyKind(models.TextChoices):
    """How what the registry says differs from what curators state."""

    CONFLICT = "conflict", "Conflict"
    BACKWARD = "backward", "Registry status earlier than the curated one"
    ESTIMATE = "estimate", "Registry figure is an estimate"
    UNTYPED = "untyped", "Registry figure not marked actual or estimated"
    UNLINKED = "unlinked", "Registry intervention linked to nothing"
    UPDATED = "updated", "Registry updated after the curated data"


# The phase combinations the registry uses, onto the review's phases. "Early Phase 1"
# (exploratory, first in human) has no phase of its own in the review's vocabulary; it is the start
# of phase I. "Not Applicable" (no drug phase, e.g. a device study) and silence map to no phase.
PHASE_FROM_REGISTRY: dict[tuple[str, ...], str | None] = {
    (): None,
    (RegistryPhase.NA,): None,
    (RegistryPhase.EARLY_PHASE1,): Phase.I,
    (RegistryPhase.PHASE1,): Phase.I,
    (RegistryPhase.PHASE1, RegistryPhase.PHASE2): Phase.I_II,
    (RegistryPhase.PHASE2,): Phase.II,
    (RegistryPhase.PHASE2, RegistryPhase.PHASE3): Phase.II_III,
    (RegistryPhase.PHASE3,): Phase.III,
    (RegistryPhase.PHASE4,): Phase.IV,
}
