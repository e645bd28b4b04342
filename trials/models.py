from concurrency.fields import IntegerVersionField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import CharField, F, QuerySet, Value
from simple_history.models import HistoricalRecords

from agents.compatibility import WARNING_SEVERITIES, CompatibilityWarning, pair_warnings
from agents.models import Agent, NKCellProduct, Target
from nkkb.core.caching import KeptPerDataVersion
from nkkb.core.links import filtered_list_url, record_url
from nkkb.core.models import (
    BoundedTextField,
    CuratedModel,
    ReviewSection,
    choices_constraint,
    validate_reference_numbers,
)
from nkkb.core.queries import IdsQuery
from nkkb.core.stored_facets import DerivedFacet
from registry.models import NCT_ID_MESSAGE, NCT_ID_PATTERN, RegistryRecord, parse_nct_id

from .choices import (
    ROLES_WITHOUT_THERAPY_CLASS,
    AgentRole,
    CaveatSubject,
    Phase,
    ResultMetric,
    ResultUnit,
    TherapyClass,
    TrialStatus,
    ValueQualifier,
)


class PlacementBasis(models.TextChoices):
    """What a condition's place in the hierarchy rests on."""

    REVIEW = "review", "The review states it"
    CLASSIFICATION = "classification", "A standard classification (the review does not say)"


def condition_lineages() -> dict[int, list["Condition"]]:
    """{id: the conditions from its top-level group down to it} of every condition.

    The whole tree in one query: it is a few dozen records, so following `parent` in Python
    costs less than any query that follows it in the database.
    """
    by_pk = {condition.pk: condition for condition in Condition.objects.order_by()}
    return {pk: _lineage(pk, by_pk) for pk in by_pk}


def subtree_ids(ids) -> set[int]:
    """The ids of the conditions `ids` names and of every condition below them."""
    ids = set(ids)
    if not ids:
        return ids
    return {pk for pk, lineage in condition_lineages().items() if {c.pk for c in lineage} & ids}


def _lineage(pk: int, by_pk: dict[int, "Condition"]) -> list["Condition"]:
    """The conditions from the top of `pk`'s branch down to it. A cycle of parents (which the
    model refuses, but a raw update could make, and validate_kb reports) ends the walk where it
    comes round, so the first condition then still has a parent."""
    lineage = []
    while pk in by_pk and by_pk[pk] not in lineage:
        lineage.append(by_pk[pk])
        pk = by_pk[pk].parent_id
    return lineage[::-1]


class Condition(models.Model):
    """A disease or tumor setting that trials enroll, named as the review names it, and its
    place in the hierarchy of conditions (groups are conditions too: "Lymphoma" holds
    "Non-Hodgkin lymphoma", which holds the review's non-Hodgkin lymphoma settings).

    Its place rests on the review where the review says so (a section and a verbatim quote), or
    else on a standard classification, named as such; a condition no one has placed yet (one
    added through the API without a parent, say) is a top-level condition without provenance.
    """

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    # RESTRICT rather than PROTECT: a whole branch may be deleted together, a group alone not.
    parent = models.ForeignKey(
        "self",
        on_delete=models.RESTRICT,
        related_name="children",
        blank=True,
        null=True,
        help_text="The group it belongs to; empty for a top-level group.",
    )
    placement_basis = models.CharField(
        "place rests on",
        max_length=16,
        choices=PlacementBasis.choices,
        blank=True,
        null=True,
        help_text="The review, or a standard classification where the review does not say.",
    )
    source_section = models.CharField(
        "review section",
        max_length=3,
        choices=ReviewSection.choices,
        blank=True,
        default="",
        help_text="Where the review says so (a placement the review states).",
    )
    source_references = models.JSONField(
        "reference numbers",
        default=list,
        blank=True,
        validators=[validate_reference_numbers],
        help_text="The review's reference numbers that support its place, e.g. [95, 96].",
    )
    source_quote = models.CharField(
        "supporting quote",
        max_length=200,
        blank=True,
        default="",
        help_text="A short verbatim fragment of the cited section (a placement the review states).",
    )
    source_summary = BoundedTextField(
        "supporting statement",
        blank=True,
        default="",
        help_text="Why it belongs where it is, in the curator's own words.",
    )
    classification = models.CharField(
        max_length=300,
        blank=True,
        default="",
        help_text="The classification and its category that place it, where the review does "
        "not: e.g. 'ICD-10 (WHO, 2019 edition): C84.0 Mycosis fungoides, a mature T/NK-cell "
        "lymphoma (C84)'.",
    )
    # Optimistic locking, as on every curated record: an edit based on an older version fails.
    version = IntegerVersionField(
        help_text="Changes on every save; an edit based on an older version is refused."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("pk")),
                name="condition_not_its_own_parent",
                violation_error_message="A condition cannot be its own parent.",
            ),
            choices_constraint("placement_basis", PlacementBasis, model="condition", nullable=True),
            models.CheckConstraint(
                condition=models.Q(parent__isnull=True) | models.Q(placement_basis__isnull=False),
                name="condition_placed_with_basis",
                violation_error_message="A condition placed under another says what its place "
                "rests on: the review or a classification.",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    placement_basis__isnull=True,
                    source_section="",
                    source_quote="",
                    source_summary="",
                    classification="",
                )
                | (
                    models.Q(placement_basis=PlacementBasis.REVIEW, classification="")
                    & ~models.Q(source_section="")
                    & ~models.Q(source_quote="")
                    & ~models.Q(source_summary="")
                )
                | (
                    models.Q(
                        placement_basis=PlacementBasis.CLASSIFICATION,
                        source_section="",
                        source_quote="",
                    )
                    & ~models.Q(classification="")
                    & ~models.Q(source_summary="")
                ),
                name="condition_provenance_matches_basis",
                violation_error_message="Its place rests on the review (give the section, a "
                "verbatim quote and a summary, no classification) or on a classification (name "
                "it and give a summary, with no review section or quote).",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return filtered_list_url("trials:trial_list", condition=self.slug)

    def clean(self):
        super().clean()
        if self.placement_basis == PlacementBasis.CLASSIFICATION and self.source_references:
            raise ValidationError(
                {
                    "source_references": "A place given by a classification cites no reference of "
                    "the review."
                }
            )
        # A new condition has nothing below it, so only a saved one can be put under itself.
        if self.parent_id is not None and self.pk is not None:
            above_parent = condition_lineages().get(self.parent_id, [])
            if any(condition.pk == self.pk for condition in above_parent):
                raise ValidationError(
                    {
                        "parent": f"{self.parent} is this condition or lies below it: a "
                        "condition cannot be placed under itself."
                    }
                )


def condition_depth() -> int:
    """The number of levels of the tree of conditions (the longest lineage): kept until a
    condition is written, since every mend of a facet index asks it (ConditionRows.shape)."""
    return _CONDITION_TREE.get(
        "depth", lambda: max(map(len, condition_lineages().values()), default=0), (Condition,)
    )


_CONDITION_TREE = KeptPerDataVersion()


def condition_rows(slugs=None) -> list[models.QuerySet]:
    """(facet_value: condition slug, facet_result: trial id) rows of every trial, for the
    conditions `slugs` or all: a trial has each condition it is filed under and every group
    above them, so that a group's filter and count take in its whole subtree
    (`condition=lymphoma` finds the mycosis fungoides trials).

    The one definition of "the trials of a condition": the filter and the facet read it. One
    queryset per level of the tree, each from the link table up the `parent` chain.
    """
    links = Trial.conditions.through.objects.order_by()
    rows = []
    for level in range(condition_depth()):
        slug = "condition__" + "parent__" * level + "slug"
        chosen = {f"{slug}__isnull": False} if slugs is None else {f"{slug}__in": slugs}
        rows.append(links.filter(**chosen).values(facet_value=F(slug), facet_result=F("trial_id")))
    return rows


def therapy_class_rows(therapy_class: str | None = None) -> list[models.QuerySet]:
    """(facet_value: therapy class, facet_result: trial id) rows of every trial, for one class or
    all: a trial has the classes of its agents, and the NK cell product class when it uses one.
    An agent linked in one of ROLES_WITHOUT_THERAPY_CLASS (expressed by the cells) gives none.

    The one definition of a trial's therapy classes in the database: the filter and the facet
    read it; `Trial.therapy_classes` applies it to prefetched relations (a test holds the two
    equal). The rows come from the link tables alone: joining the trials to their agents would
    repeat a trial once per agent, and at 100,000 trials read every link to find a few classes.
    """
    rows = [
        TrialAgent.objects.exclude(role__in=ROLES_WITHOUT_THERAPY_CLASS).values(
            facet_value=F("agent__agent_class"), facet_result=F("trial_id")
        ),
        Trial.nk_products.through.objects.values(
            facet_value=Value(TherapyClass.NK_CELL_PRODUCT.value, output_field=CharField()),
            facet_result=F("trial_id"),
        ),
    ]
    if therapy_class is None:
        return rows
    agent_rows, product_rows = rows
    if therapy_class == TherapyClass.NK_CELL_PRODUCT:
        return [product_rows]
    return [agent_rows.filter(agent__agent_class=therapy_class)]


def registry_records_of(trial_ids) -> QuerySet:
    """The registry records of the trials `trial_ids` (ids, or a subquery of them)."""
    return RegistryRecord.objects.filter(
        nct_id__in=Trial.objects.filter(pk__in_ids=trial_ids).values("nct_id")
    )


class RegistryRecordDescriptor:
    """`trial.registry_record`: what the registry says about the study with the trial's NCT
    number, or None until NKKB has read it.

    Joined on the NCT number by NKKB, not by the database: a registry record needs no trial, and
    the registry app knows nothing of curation. `prefetch_related("registry_record")` reads the
    records of many trials in one query, as it does for a relation.
    """

    cache_name = "registry_record"

    def __get__(self, trial, owner=None):
        if trial is None:
            return self
        record = RegistryRecord.objects.filter(nct_id=trial.nct_id).first()
        trial.__dict__[self.cache_name] = record
        return record

    def is_cached(self, trial) -> bool:
        return self.cache_name in trial.__dict__

    def get_prefetch_querysets(self, trials, querysets=None):
        queryset = querysets[0] if querysets else RegistryRecord.objects.all()
        queryset = queryset.filter(nct_id__in={trial.nct_id for trial in trials})
        return (
            queryset,
            lambda record: record.nct_id,
            lambda trial: trial.nct_id,
            True,  # one record per trial
            self.cache_name,
            True,  # set as an attribute, which then hides this descriptor
        )


def related_prefetches(relations=None) -> list:
    """The prefetch lookups of everything a trial's page or representation shows (or of the
    `relations` named only: conditions, trial_agents, nk_products, results, caveats,
    registry_record), each read in a fixed number of queries."""
    prefetches = {
        "conditions": "conditions",
        "trial_agents": models.Prefetch(
            "trial_agents",
            queryset=TrialAgent.objects.select_related("agent").prefetch_related("agent__targets"),
        ),
        "nk_products": models.Prefetch(
            "nk_products", queryset=NKCellProduct.objects.prefetch_related("targets")
        ),
        "results": "results",
        "caveats": models.Prefetch("caveats", queryset=Caveat.objects.select_related("agent")),
        "registry_record": "registry_record",
    }
    return [p for name, p in prefetches.items() if relations is None or name in relations]


class TrialQuerySet(models.QuerySet):
    def with_related(self, relations=None):
        """Trials read with everything their page or representation shows (related_prefetches)."""
        return self.prefetch_related(*related_prefetches(relations))


class Trial(CuratedModel):
    """A registered clinical trial (ClinicalTrials.gov NCT number) that the review discusses."""

    nct_id = models.CharField(
        "NCT number",
        max_length=11,
        unique=True,
        validators=[RegexValidator(NCT_ID_PATTERN, NCT_ID_MESSAGE, code="invalid_nct_id")],
        error_messages={"unique": "A trial with this NCT number already exists."},
        help_text="ClinicalTrials.gov identifier: NCT followed by 8 digits.",
    )
    title = models.CharField(
        max_length=300,
        help_text="A short description of what the trial tests, in our own words.",
    )
    phase = models.CharField(max_length=8, choices=Phase.choices, blank=True, null=True)
    status = models.CharField(max_length=32, choices=TrialStatus.choices, blank=True, null=True)
    status_note = models.CharField(
        max_length=100,
        blank=True,
        null=True,
        help_text="How the review describes its status.",
    )
    start_year = models.PositiveSmallIntegerField(blank=True, null=True)
    enrollment = models.PositiveIntegerField(blank=True, null=True)
    conditions = models.ManyToManyField(Condition, related_name="trials", blank=True)
    agents = models.ManyToManyField(Agent, through="TrialAgent", related_name="trials", blank=True)
    nk_products = models.ManyToManyField(
        NKCellProduct,
        related_name="trials",
        blank=True,
        verbose_name="NK cell products",
    )
    registry_record = RegistryRecordDescriptor()

    objects = TrialQuerySet.as_manager()
    history = HistoricalRecords(m2m_fields=[conditions, nk_products])

    class Meta:
        ordering = ["nct_id"]
        # The list's own filters and sort columns (nct_id is unique, so indexed already): without
        # them, filtering or sorting tens of thousands of trials reads the whole table. A filter's
        # index ends with nct_id, so that it also gives a page in the list's default order.
        indexes = [
            models.Index(fields=["phase", "nct_id"], name="trial_phase_idx"),
            models.Index(fields=["status", "nct_id"], name="trial_status_idx"),
            models.Index(fields=["enrollment"], name="trial_enrollment_idx"),
            models.Index(fields=["title"], name="trial_title_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(nct_id__regex=NCT_ID_PATTERN),
                name="trial_nct_id_format",
                violation_error_message=NCT_ID_MESSAGE,
            ),
            choices_constraint("phase", Phase, model="trial", nullable=True),
            choices_constraint("status", TrialStatus, model="trial", nullable=True),
            models.CheckConstraint(
                condition=models.Q(enrollment__gte=0) | models.Q(enrollment__isnull=True),
                name="trial_enrollment_not_negative",
                violation_error_message="Enrollment cannot be negative.",
            ),
        ]

    def __str__(self):
        return self.nct_id

    def clean_fields(self, exclude=None):
        # "nct04101331 " names the trial NCT04101331: store that, as pages and the API read it.
        try:
            self.nct_id = parse_nct_id(self.nct_id)
        except ValidationError:
            pass  # the field's validator reports it
        super().clean_fields(exclude)

    def get_absolute_url(self):
        return record_url("trials:trial_detail", self.nct_id)

    @property
    def ctgov_url(self) -> str:
        return f"https://clinicaltrials.gov/study/{self.nct_id}"

    @property
    def therapy_classes(self) -> list[str]:
        """The classes of what the trial tests, derived from its agents and NK cell products
        (the rule of `therapy_class_rows`).

        Reads through `.all()` so that a prefetched trial costs no further query.
        """
        return therapy_classes_of(self.trial_agents.all(), self.nk_products.all())

    @property
    def caveats_by_subject(self) -> dict[str, list["Caveat"]]:
        """{what a caveat qualifies: its caveats}, for showing each beside that part (reads the
        prefetched caveats)."""
        by_subject: dict[str, list[Caveat]] = {}
        for caveat in self.caveats.all():
            by_subject.setdefault(caveat.qualifies, []).append(caveat)
        return by_subject

    @property
    def therapy_class_choices(self) -> list[TherapyClass]:
        return [TherapyClass(value) for value in self.therapy_classes]

    @property
    def compatibility_warnings(self) -> list[CompatibilityWarning]:
        """What the compatibility rules warn about each of its agent x NK cell product pairs
        (reads prefetched relations)."""
        return compatibility_warnings_of(self.trial_agents.all(), self.nk_products.all())

    @property
    def warning_count(self) -> int:
        """Its warnings and caveats proper (not an unrecorded CD16 dependence)."""
        return sum(w.severity in WARNING_SEVERITIES for w in self.compatibility_warnings)


def gives_therapy_class(role: str) -> bool:
    """Whether an agent linked in `role` makes the trial one of its agent's class (not, e.g.,
    an IL-15 that the NK cells express): the rule therapy_class_rows applies in the database."""
    return role not in ROLES_WITHOUT_THERAPY_CLASS


# Read once: an enum's `values` builds its list on every read, once per trial of a page.
THERAPY_CLASS_ORDER = tuple(TherapyClass.values)


def therapy_classes_of(agent_links, nk_products) -> list[str]:
    """The therapy classes of a trial with these agent links (each with its `role` and its
    `agent.agent_class`) and NK cell products, in TherapyClass order.

    The rule of `therapy_class_rows` applied to records in hand: a trial's prefetched relations
    (`Trial.therapy_classes`) or the plain rows the API reads (trials/api/reading.py).
    """
    classes = {link.agent.agent_class for link in agent_links if gives_therapy_class(link.role)}
    if nk_products:
        classes.add(TherapyClass.NK_CELL_PRODUCT)
    return [value for value in THERAPY_CLASS_ORDER if value in classes]


def compatibility_warnings_of(agent_links, nk_products) -> list[CompatibilityWarning]:
    """What the compatibility rules warn about each agent x NK cell product pair of a trial
    with these agent links (each with its `agent`) and products, model instances or plain rows
    alike."""
    return [
        warning
        for link in agent_links
        for product in nk_products
        for warning in pair_warnings(link.agent, product)
    ]


# After a write, the NK cell products of the trials it touched: compiled once, as a page's
# relations are (its ORM build cost more than its query); most trials have none to judge.
TRIALS_PRODUCTS = IdsQuery(
    lambda ids: (
        Trial.nk_products.through.objects.filter(trial_id__in_ids=ids)
        .order_by()
        .values_list("trial_id", "nkcellproduct_id")
    )
)


def warning_rows(trial_ids: list[int] | None = None):
    """("warning", id) of each trial `trial_ids` names (every trial where None) that the
    compatibility rules warn about (a warning or caveat, as `Trial.warning_count` counts),
    judged in Python over the trials that give both an agent and an NK cell product: at most four
    queries however many trials, the rules once per pair."""
    product_links = Trial.nk_products.through.objects.order_by()
    if trial_ids is None:
        # A join the database plans: every trial's ids sent back as one parameter took longer
        # on PostgreSQL (BENCHMARKS.md, "Issue 17, seventeenth round").
        agent_links = TrialAgent.objects.filter(trial_id__in=product_links.values("trial_id"))
        product_links = product_links.values_list("trial_id", "nkcellproduct_id")
    else:
        product_links = TRIALS_PRODUCTS(trial_ids)
    products_of = {}
    for trial_id, product_id in product_links:
        products_of.setdefault(trial_id, []).append(product_id)
    if not products_of:
        return []
    if trial_ids is not None:
        agent_links = TrialAgent.objects.filter(trial_id__in_ids=list(products_of))
    agent_links = list(agent_links.order_by().values_list("trial_id", "agent_id"))
    agents = Agent.objects.in_bulk({agent_id for _, agent_id in agent_links})
    products = NKCellProduct.objects.in_bulk({p for ids in products_of.values() for p in ids})
    warned: dict[tuple[int, int], bool] = {}
    found = set()
    for trial_id, agent_id in agent_links:
        for product_id in products_of[trial_id]:
            pair = (agent_id, product_id)
            if pair not in warned:
                warned[pair] = any(
                    w.severity in WARNING_SEVERITIES
                    for w in pair_warnings(agents[agent_id], products[product_id])
                )
            if warned[pair]:
                found.add(trial_id)
    return [("warning", trial_id) for trial_id in sorted(found)]


def touched_trials(changes) -> set[int]:
    """The trials whose facet options, discrepancies and warnings the writes in `changes` may
    have changed: trials saved, deleted or relinked, and the trials of the agents, NK cell
    products, targets, conditions and registry records written (their options come through
    them)."""
    agent_links = TrialAgent.objects
    product_links = Trial.nk_products.through.objects
    condition_links = Trial.conditions.through.objects
    targets = changes.values(Target)
    related = [
        (agent_links, "trial_id", "agent__in", changes.values(Agent)),
        (agent_links, "trial_id", "agent__targets__in", targets),
        (product_links, "trial_id", "nkcellproduct__in", changes.values(NKCellProduct)),
        (product_links, "trial_id", "nkcellproduct__targets__in", targets),
        # A condition moved in the tree moves the trials of every condition below it.
        (condition_links, "trial_id", "condition__in", subtree_ids(changes.values(Condition))),
        (Trial.objects, "pk", "nct_id__in", changes.values(RegistryRecord, "nct_id")),
    ]
    touched = changes.values(Trial) | changes.values(TrialAgent, "trial_id")
    for links, result, lookup, written in related:
        if written:
            touched.update(links.filter(**{lookup: written}).values_list(result, flat=True))
    return touched


WARNINGS = DerivedFacet(
    "trials.warnings", warning_rows, touched_trials, statements=(TRIALS_PRODUCTS,)
)


class TrialAgent(models.Model):
    """An agent given in a trial, and the part it plays there."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="trial_agents")
    # Indexed with its role and trial (Meta.indexes) rather than alone: an agent filter then
    # finds its trials in the index without reading the link rows.
    agent = models.ForeignKey(
        Agent, on_delete=models.PROTECT, related_name="trial_links", db_index=False
    )
    role = models.CharField(
        max_length=32, choices=AgentRole.choices, default=AgentRole.INVESTIGATIONAL
    )
    detail = models.CharField(
        max_length=200,
        blank=True,
        null=True,
        help_text="e.g. gemcitabine-based, myeloablative.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "agent__name"]
        verbose_name = "trial agent"
        # With the role, a therapy-class filter (which leaves out ROLES_WITHOUT_THERAPY_CLASS)
        # finds its trials in the index alone, as the agent filter does.
        indexes = [
            models.Index(fields=["agent", "role", "trial"], name="trialagent_agent_role_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "agent"],
                name="trialagent_unique_agent_per_trial",
                violation_error_message="This agent is already linked to this trial.",
            ),
            choices_constraint("role", AgentRole, model="trialagent"),
        ]

    def __str__(self):
        return f"{self.agent} in {self.trial} ({self.get_role_display()})"

    @property
    def gives_therapy_class(self) -> bool:
        """Whether the link makes the trial one of its agent's class (gives_therapy_class)."""
        return gives_therapy_class(self.role)


class Result(CuratedModel):
    """A figure the review reports for a trial: a response rate, a survival or safety figure."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="results")
    metric = models.CharField(max_length=32, choices=ResultMetric.choices)
    value = models.DecimalField(max_digits=8, decimal_places=2)
    unit = models.CharField(max_length=16, choices=ResultUnit.choices)
    value_qualifier = models.CharField(
        max_length=16,
        choices=ValueQualifier.choices,
        default=ValueQualifier.EXACT,
    )
    denominator = models.PositiveIntegerField(
        blank=True,
        null=True,
        help_text="For counts: out of how many patients.",
    )
    population = models.CharField(
        max_length=300,
        blank=True,
        null=True,
        help_text="Which patients or arm the figure describes.",
    )
    timepoint = models.CharField(max_length=100, blank=True, null=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "id"]
        constraints = [
            choices_constraint("metric", ResultMetric, model="result"),
            choices_constraint("unit", ResultUnit, model="result"),
            choices_constraint("value_qualifier", ValueQualifier, model="result"),
            models.CheckConstraint(
                condition=models.Q(value__gte=0),
                name="result_value_not_negative",
                violation_error_message="A result value cannot be negative.",
            ),
            models.CheckConstraint(
                condition=~models.Q(unit=ResultUnit.PERCENT) | models.Q(value__lte=100),
                name="result_percent_at_most_100",
                violation_error_message="A percentage must lie between 0 and 100.",
            ),
            models.CheckConstraint(
                condition=models.Q(denominator__isnull=True)
                | models.Q(value__lte=models.F("denominator")),
                name="result_count_within_denominator",
                violation_error_message="A count cannot exceed its denominator.",
            ),
        ]

    def __str__(self):
        return f"{self.trial}: {self.get_metric_display()} {self.display_value}"

    @property
    def display_value(self) -> str:
        number = f"{self.value.normalize():f}"
        qualifier = self.get_value_qualifier_display()
        if self.unit == ResultUnit.PERCENT:
            text = f"{number}%"
        elif self.unit == ResultUnit.FOLD:
            text = f"{number}-fold"
        elif self.denominator is not None:
            text = f"{number} of {self.denominator} patients"
        else:
            text = f"{number} {self.get_unit_display()}"
        return f"{qualifier} {text}".strip()


class Caveat(CuratedModel):
    """A curator's reading of an ambiguous passage of the review, about one part of a trial's
    record (its title, its agents or one agent link, its conditions...): shown beside that part,
    so that a reader sees where the record rests on an interpretation."""

    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="caveats")
    qualifies = models.CharField(
        max_length=16,
        choices=CaveatSubject.choices,
        help_text="The part of the trial's record that the caveat is about.",
    )
    agent = models.ForeignKey(
        Agent,
        on_delete=models.PROTECT,
        related_name="caveats",
        blank=True,
        null=True,
        help_text="For a caveat about one agent link; empty when it is about all the agents.",
    )
    text = BoundedTextField(help_text="How we read the passage, and why it is uncertain.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "id"]
        constraints = [
            choices_constraint("qualifies", CaveatSubject, model="caveat"),
            models.CheckConstraint(
                condition=models.Q(agent__isnull=True) | models.Q(qualifies=CaveatSubject.AGENTS),
                name="caveat_agent_only_for_agents",
                violation_error_message="Only a caveat that qualifies the agents names an agent.",
            ),
        ]

    def __str__(self):
        about = self.agent.slug if self.agent_id else self.get_qualifies_display().lower()
        return f"Caveat on {self.trial} ({about})"
