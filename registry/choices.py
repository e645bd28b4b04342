"""Controlled vocabularies of the registry app: ClinicalTrials.gov API v2 enumerations (values are
the API's own codes, labels its human wording) and where a record's values were read."""

from django.db import models


class OverallStatus(models.TextChoices):
    """API v2 `overallStatus`, expanded access and WITHHELD included."""

    NOT_YET_RECRUITING = "NOT_YET_RECRUITING", "Not yet recruiting"
    RECRUITING = "RECRUITING", "Recruiting"
    ENROLLING_BY_INVITATION = "ENROLLING_BY_INVITATION", "Enrolling by invitation"
    ACTIVE_NOT_RECRUITING = "ACTIVE_NOT_RECRUITING", "Active, not recruiting"
    SUSPENDED = "SUSPENDED", "Suspended"
    TERMINATED = "TERMINATED", "Terminated"
    COMPLETED = "COMPLETED", "Completed"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"
    UNKNOWN = "UNKNOWN", "Unknown status"
    AVAILABLE = "AVAILABLE", "Available"
    NO_LONGER_AVAILABLE = "NO_LONGER_AVAILABLE", "No longer available"
    TEMPORARILY_NOT_AVAILABLE = "TEMPORARILY_NOT_AVAILABLE", "Temporarily not available"
    APPROVED_FOR_MARKETING = "APPROVED_FOR_MARKETING", "Approved for marketing"
    WITHHELD = "WITHHELD", "Withheld"


class RegistryPhase(models.TextChoices):
    """API v2 `phases` items, in the order of a trial's life."""

    EARLY_PHASE1 = "EARLY_PHASE1", "Early Phase 1"
    PHASE1 = "PHASE1", "Phase 1"
    PHASE2 = "PHASE2", "Phase 2"
    PHASE3 = "PHASE3", "Phase 3"
    PHASE4 = "PHASE4", "Phase 4"
    NA = "NA", "Not Applicable"


class StudyType(models.TextChoices):
    INTERVENTIONAL = "INTERVENTIONAL", "Interventional"
    OBSERVATIONAL = "OBSERVATIONAL", "Observational"
    EXPANDED_ACCESS = "EXPANDED_ACCESS", "Expanded access"


class Allocation(models.TextChoices):
    RANDOMIZED = "RANDOMIZED", "Randomized"
    NON_RANDOMIZED = "NON_RANDOMIZED", "Non-Randomized"
    NA = "NA", "N/A"


class Actuality(models.TextChoices):
    """Whether an enrollment figure or a date has happened or is planned (API v2 `type`)."""

    ACTUAL = "ACTUAL", "Actual"
    ESTIMATED = "ESTIMATED", "Estimated"


class SponsorClass(models.TextChoices):
    NIH = "NIH", "NIH"
    FED = "FED", "U.S. Fed"
    OTHER_GOV = "OTHER_GOV", "Other government"
    INDIV = "INDIV", "Individual"
    INDUSTRY = "INDUSTRY", "Industry"
    NETWORK = "NETWORK", "Network"
    AMBIG = "AMBIG", "Ambiguous"
    OTHER = "OTHER", "Other"
    UNKNOWN = "UNKNOWN", "Unknown"


class InterventionType(models.TextChoices):
    BEHAVIORAL = "BEHAVIORAL", "Behavioral"
    BIOLOGICAL = "BIOLOGICAL", "Biological"
    COMBINATION_PRODUCT = "COMBINATION_PRODUCT", "Combination Product"
    DEVICE = "DEVICE", "Device"
    DIAGNOSTIC_TEST = "DIAGNOSTIC_TEST", "Diagnostic Test"
    DIETARY_SUPPLEMENT = "DIETARY_SUPPLEMENT", "Dietary Supplement"
    DRUG = "DRUG", "Drug"
    GENETIC = "GENETIC", "Genetic"
    PROCEDURE = "PROCEDURE", "Procedure"
    RADIATION = "RADIATION", "Radiation"
    OTHER = "OTHER", "Other"


class ArmGroupType(models.TextChoices):
    EXPERIMENTAL = "EXPERIMENTAL", "Experimental"
    ACTIVE_COMPARATOR = "ACTIVE_COMPARATOR", "Active Comparator"
    PLACEBO_COMPARATOR = "PLACEBO_COMPARATOR", "Placebo Comparator"
    SHAM_COMPARATOR = "SHAM_COMPARATOR", "Sham Comparator"
    NO_INTERVENTION = "NO_INTERVENTION", "No Intervention"
    OTHER = "OTHER", "Other"


class SourceKind(models.TextChoices):
    """Where a registry record's values were read."""

    API = "api", "ClinicalTrials.gov API"
    FILE = "file", "Saved API v2 file"
    ARCHIVED_PAGE = "archived-page", "Archived registry page"
    # The EU Clinical Trials Register and the like: a registry, but not ClinicalTrials.gov.
    OTHER_REGISTRY = "other-registry", "Another registry's page"
    MIRROR = "mirror", "Third-party site"


# The combinations of phases a registry record may list (API v2 `phases`), in their order.
PHASE_COMBINATIONS: tuple[tuple[str, ...], ...] = (
    (),
    (RegistryPhase.NA,),
    (RegistryPhase.EARLY_PHASE1,),
    (RegistryPhase.PHASE1,),
    (RegistryPhase.PHASE1, RegistryPhase.PHASE2),
    (RegistryPhase.PHASE2,),
    (RegistryPhase.PHASE2, RegistryPhase.PHASE3),
    (RegistryPhase.PHASE3,),
    (RegistryPhase.PHASE4,),
)
