"""Controlled vocabularies of the trials app."""

from django.db import models

from agents.choices import AgentClass

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


class TrialStatus(models.TextChoices):
    """ClinicalTrials.gov's overall-status vocabulary."""

    NOT_YET_RECRUITING = "NOT_YET_RECRUITING", "Not yet recruiting"
    RECRUITING = "RECRUITING", "Recruiting"
    ENROLLING_BY_INVITATION = "ENROLLING_BY_INVITATION", "Enrolling by invitation"
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING", "Active, not recruiting"
    SUSPENDED = "SUSPENDED", "Suspended"
    TERMINATED = "TERMINATED", "Terminated"
    COMPLETED = "COMPLETED", "Completed"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"
    UNKNOWN = "UNKNOWN", "Unknown status"


class AgentRole(models.TextChoices):
    INVESTIGATIONAL = "investigational", "Investigational"
    COMBINATION = "combination", "Combination partner"
    STANDARD_OF_CARE = "standard-of-care", "Standard of care"
    COMPARATOR = "comparator", "Comparator"
    CONDITIONING = "conditioning", "Conditioning"


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
    SAE = "sae", "Serious adverse events"
    DLT = "dlt", "Dose-limiting toxicities"
    NK_CELL_EXPANSION = "nk-cell-expansion", "NK cell expansion"
    BLAST_REDUCTION = "blast-reduction", "Blast reduction"


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
