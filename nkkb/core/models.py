"""Pieces every curated model shares: its provenance in the review, and vocabulary constraints."""

from concurrency.fields import IntegerVersionField
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxLengthValidator
from django.db import models
from django.urls import reverse

MAX_TEXT_LENGTH = 4000
MAX_LIST_ITEMS = 50


class BoundedTextField(models.TextField):
    """Free text with a length limit that model validation, forms and the API all enforce.

    (A plain TextField's max_length reaches forms only.)
    """

    def __init__(self, *args, max_length=MAX_TEXT_LENGTH, **kwargs):
        super().__init__(*args, max_length=max_length, **kwargs)
        self.validators.append(MaxLengthValidator(max_length))


class ReviewSection(models.TextChoices):
    INTRODUCTION = "1", "1 Introduction"
    NK_BIOLOGY = "2", "2 NK cell biology"
    TUMOR_MICROENVIRONMENT = "3", "3 Immunosuppression in the tumor microenvironment"
    APPROACHES = "4", "4 Approaches to enhance NK cytotoxicity"
    CYTOKINES = "5", "5 Cytokines"
    IL2 = "5.1", "5.1 IL-2"
    IL15 = "5.2", "5.2 IL-15"
    MABS = "6", "6 Monoclonal antibodies"
    TUMOR_MABS = "6.1", "6.1 Tumor-specific mAb"
    CHECKPOINT_MABS = "6.2", "6.2 Checkpoint blockade mAb"
    ENGAGERS = "7", "7 Engagers"
    NK_PRODUCTS = "8", "8 Synergistic combinations with NK cell products"
    CONCLUSION = "9", "9 Conclusion"


def validate_reference_numbers(value):
    if (
        not isinstance(value, list)
        or len(value) > MAX_LIST_ITEMS
        or not all(
            isinstance(number, int) and not isinstance(number, bool) and 0 < number < 100_000
            for number in value
        )
    ):
        raise ValidationError(
            f"References must be a list of at most {MAX_LIST_ITEMS} of the review's reference "
            "numbers, e.g. [95, 96].",
            code="invalid_references",
        )


MAX_NAME_LENGTH = 120


def validate_string_list(value):
    if (
        not isinstance(value, list)
        or len(value) > MAX_LIST_ITEMS
        or not all(
            isinstance(item, str) and item.strip() and len(item) <= MAX_NAME_LENGTH
            for item in value
        )
    ):
        raise ValidationError(
            f"Must be a list of at most {MAX_LIST_ITEMS} non-empty names of at most "
            f"{MAX_NAME_LENGTH} characters.",
            code="invalid_list",
        )


def choices_constraint(
    field: str, choices: type[models.TextChoices], *, model: str, nullable=False
):
    """A named CHECK constraint that keeps `field` inside its vocabulary in the database too."""
    condition = models.Q(**{f"{field}__in": choices.values})
    if nullable:
        condition |= models.Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(
        condition=condition,
        name=f"{model}_{field}_in_vocabulary",
        violation_error_message=f"{field} must be one of: {', '.join(choices.values)}.",
    )


class CuratedModel(models.Model):
    """A record curated from the review: it says where in the review its facts come from."""

    source_section = models.CharField(
        "review section",
        max_length=3,
        choices=ReviewSection.choices,
    )
    source_references = models.JSONField(
        "reference numbers",
        default=list,
        blank=True,
        validators=[validate_reference_numbers],
        help_text="The review's reference numbers that support this record, e.g. [95, 96].",
    )
    source_quote = models.CharField(
        "supporting quote",
        max_length=200,
        help_text="A short verbatim fragment of the cited section (not a whole sentence).",
    )
    source_summary = BoundedTextField(
        "supporting statement",
        help_text="What the review says about this record, in the curator's own words.",
    )
    created = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(auto_now=True)
    # Optimistic locking: saving an edit made on an older version fails instead of overwriting.
    version = IntegerVersionField(
        help_text="Changes on every save; an edit based on an older version is refused."
    )

    class Meta:
        abstract = True

    @property
    def provenance(self) -> dict:
        return {
            "section": self.source_section,
            "references": self.source_references,
            "quote": self.source_quote,
            "summary": self.source_summary,
        }


class RateLimitHits(models.Model):
    """Requests a client made in the current period of a rate limit (nkkb.core.throttling).

    In the database so that every worker and machine counts together; one row per client and
    limit, overwritten when a new period starts.
    """

    client = models.CharField(max_length=200, primary_key=True)
    period = models.BigIntegerField(help_text="Which period of the limit (time // its length).")
    hits = models.IntegerField()

    class Meta:
        verbose_name_plural = "rate limit hits"

    def __str__(self):
        return f"{self.client}: {self.hits} in period {self.period}"


class StoredFacet(models.Model):
    """A facet derived from the knowledge base by code rather than read from a column (whether
    a trial's registry record differs from its curated data), kept in the database with the
    moment of the knowledge base its options hold at (nkkb.core.stored_facets)."""

    name = models.CharField(max_length=100, primary_key=True)
    # The data version (nkkb.core.caching) and the position (nkkb.core.changes) it holds at.
    version = models.CharField(max_length=64)
    position = models.JSONField()

    def __str__(self):
        return self.name


class StoredFacetOption(models.Model):
    """One result that has one option of a stored facet."""

    facet = models.ForeignKey(StoredFacet, on_delete=models.CASCADE, related_name="options")
    value = models.CharField(max_length=200)
    result_id = models.BigIntegerField()

    class Meta:
        # Each serves one way in, and covers the row: a result's options (the mend after a
        # write reads and deletes those of the results it touched), an option's results (a
        # filter). Without both columns in each, SQLite scanned all of a facet's options to
        # find a few results' ones.
        constraints = [
            models.UniqueConstraint(
                fields=["facet", "result_id", "value"], name="stored_facet_result_value_unique"
            )
        ]
        indexes = [
            models.Index(fields=["facet", "value", "result_id"], name="stored_facet_value_idx")
        ]

    def __str__(self):
        return f"{self.facet_id} {self.value}: {self.result_id}"


class ProposalStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class Proposal(models.Model):
    """A change to one knowledge-base record (or a new record) that waits for a second curator.

    It holds only the proposed values of the fields it changes, as JSON, and the record's
    `version` it was based on: when the record changes meanwhile the proposal is stale and must be
    rebased before it can be applied (nkkb.core.proposals).
    """

    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.PROTECT, verbose_name="kind of record"
    )
    object_id = models.CharField(
        "record id", max_length=64, null=True, blank=True, help_text="Empty: a new record."
    )
    record = GenericForeignKey("content_type", "object_id")
    changes = models.JSONField(
        encoder=DjangoJSONEncoder,
        help_text="The proposed value of each field it changes: {field name: value}.",
    )
    base_version = models.BigIntegerField(
        null=True, blank=True, help_text="The record's version the proposal is based on."
    )
    source = models.CharField(
        max_length=200, help_text="Where the proposed facts come from (a publication, a registry)."
    )
    reason = models.CharField("reason for this change", max_length=200)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposals"
    )
    created = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.OPEN
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reviewed_proposals",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = BoundedTextField(blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["status", "-created"], name="proposal_status_created")]
        constraints = [
            choices_constraint("status", ProposalStatus, model="proposal"),
            models.CheckConstraint(
                condition=models.Q(reviewed_by__isnull=True)
                | ~models.Q(reviewed_by=models.F("proposed_by")),
                name="proposal_not_reviewed_by_its_author",
                violation_error_message="Nobody reviews their own proposal.",
            ),
        ]

    def __str__(self):
        model = self.content_type.model_class()
        kind = model._meta.verbose_name if model else self.content_type.model
        if self.object_id is None:
            return f"Proposal #{self.pk}: a new {kind}"
        return f"Proposal #{self.pk}: {kind} {self.record or self.object_id}"

    def get_absolute_url(self):
        return reverse("admin:core_proposal_change", args=[self.pk])
