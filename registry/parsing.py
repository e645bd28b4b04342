"""Reading what the registry says into RegistryRecord field values.

Two readers produce the same values: `parse_study` reads a ClinicalTrials.gov API v2 study record
(live, or saved to a file); `parse_snapshot_entry` reads an entry of the registry snapshot
(fixtures/registry/snapshot.json), whose values are worded as each source page words them. Both
use one normaliser per kind of value, which returns the registry's own vocabulary (API v2 codes;
dates as precise as given) or raises ParseError naming the field and the raw value: a value that
cannot be read is reported, never guessed. A reader reads every field before it reports, so that
one run names every problem of a record.
"""

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

from django.core.exceptions import ValidationError
from django.db import models

from .choices import (
    PHASE_COMBINATIONS,
    Actuality,
    Allocation,
    ArmGroupType,
    InterventionType,
    OverallStatus,
    RegistryPhase,
    SourceKind,
    SponsorClass,
    StudyType,
)
from .models import (
    MAX_ITEM_LENGTH,
    MAX_LIST_ITEMS,
    RegistryRecord,
    first_day,
    parse_nct_id,
)

# What the registry says about a study; the readers return each of them (None where the source is
# silent), so that a record read afresh drops what its source no longer says.
RECORD_FIELDS = (
    "nct_id",
    "brief_title",
    "official_title",
    "acronym",
    "overall_status",
    "last_known_status",
    "why_stopped",
    "start_date",
    "start_date_type",
    "primary_completion_date",
    "primary_completion_date_type",
    "completion_date",
    "completion_date_type",
    "first_posted",
    "last_update_posted",
    "phases",
    "study_type",
    "allocation",
    "enrollment",
    "enrollment_type",
    "lead_sponsor",
    "lead_sponsor_class",
    "collaborators",
    "conditions",
    "keywords",
    "interventions",
    "arm_groups",
    "countries",
    "pmids",
    "secondary_ids",
    "has_results",
)
MAX_ENROLLMENT = 2_147_483_647  # the database's PositiveIntegerField


class ParseError(ValueError):
    """A value that cannot be read: the record field, the raw value, why, and where it was."""

    def __init__(self, field: str, raw, message: str, *, path: str = ""):
        self.field = field
        self.raw = raw
        self.message = message
        self.path = path
        super().__init__(str(self))

    def __str__(self):
        where = f"{self.field} ({self.path})" if self.path else self.field
        return f"{where}: {self.raw!r} {self.message}"

    def at(self, prefix: str) -> "ParseError":
        """The same error, located under `prefix` (a JSON path)."""
        return ParseError(self.field, self.raw, self.message, path=f"{prefix}{self.path}")


class ParseErrors(ValueError):
    """Values that cannot be read, `errors` naming each; `nct_id` the record's, where known."""

    def __init__(self, errors: list[ParseError], *, nct_id: str | None = None):
        self.errors = errors
        self.nct_id = nct_id
        super().__init__("\n".join(str(error) for error in errors))


# Normalisers


def _words(text: str) -> str:
    """`text` reduced to lower-case words: "Active, not recruiting" and ACTIVE_NOT_RECRUITING
    become the same "active not recruiting"."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.casefold()).split())


def _vocabulary(choices: type[models.TextChoices], synonyms=None) -> dict[str, str]:
    """Each code of `choices` under its code, its label and its `synonyms`, as words."""
    words = {_words(value): value for value in choices.values}
    words.update({_words(label): value for value, label in choices.choices})
    words.update({_words(synonym): value for synonym, value in (synonyms or {}).items()})
    return words


STATUS_WORDS = _vocabulary(
    OverallStatus,
    {
        "Unknown": OverallStatus.UNKNOWN,
        # centerwatch.com's wording of Recruiting.
        "Active - Recruiting": OverallStatus.RECRUITING,
        # cancer.gov (NCI) calls a trial that takes no new patients while those enrolled are still
        # treated "closed to accrual": what ClinicalTrials.gov calls Active, not recruiting.
        "Closed to accrual": OverallStatus.ACTIVE_NOT_RECRUITING,
    },
)
STUDY_TYPE_WORDS = _vocabulary(
    StudyType,
    # The wording of the classic registry pages.
    {
        "Interventional (Clinical Trial)": StudyType.INTERVENTIONAL,
        "Observational [Patient Registry]": StudyType.OBSERVATIONAL,
    },
)
ALLOCATION_WORDS = _vocabulary(Allocation, {"Not Applicable": Allocation.NA})
# Before 2017 the registry called a planned date or enrollment "Anticipated".
ACTUALITY_WORDS = _vocabulary(Actuality, {"Anticipated": Actuality.ESTIMATED})
SPONSOR_CLASS_WORDS = _vocabulary(SponsorClass)
INTERVENTION_TYPE_WORDS = _vocabulary(InterventionType)
ARM_GROUP_TYPE_WORDS = _vocabulary(ArmGroupType)
RESULTS_WORDS = {"results available": True, "no results available": False}


def _choice(field: str, raw, words: dict[str, str], what: str) -> str:
    if isinstance(raw, str) and _words(raw) in words:
        return words[_words(raw)]
    raise ParseError(field, raw, f"is not {what}.")


def parse_status(raw, *, field: str = "overall_status") -> str:
    """An overall status, as an API v2 code ("Active, not recruiting" -> ACTIVE_NOT_RECRUITING)."""
    return _choice(field, raw, STATUS_WORDS, "a ClinicalTrials.gov overall status")


def parse_study_type(raw, *, field: str = "study_type") -> str:
    return _choice(field, raw, STUDY_TYPE_WORDS, "a study type (interventional, observational...)")


def parse_allocation(raw, *, field: str = "allocation") -> str:
    return _choice(field, raw, ALLOCATION_WORDS, "an allocation (Randomized, Non-Randomized, N/A)")


def parse_actuality(raw, *, field: str) -> str:
    """ACTUAL or ESTIMATED, the type of an enrollment figure or a date."""
    return _choice(field, raw, ACTUALITY_WORDS, "Actual or Estimated")


def parse_sponsor_class(raw, *, field: str = "lead_sponsor_class") -> str:
    return _choice(field, raw, SPONSOR_CLASS_WORDS, "a sponsor class (Industry, NIH, Other...)")


def parse_intervention_type(raw, *, field: str = "interventions") -> str:
    return _choice(
        field, raw, INTERVENTION_TYPE_WORDS, "an intervention type (Drug, Biological...)"
    )


def parse_arm_group_type(raw, *, field: str = "arm_groups") -> str:
    return _choice(
        field, raw, ARM_GROUP_TYPE_WORDS, "an arm type (Experimental, Active Comparator...)"
    )


_PHASE_NUMBERS = {"1": 1, "i": 1, "2": 2, "ii": 2, "3": 3, "iii": 3, "4": 4, "iv": 4}
_PHASE_CODES = {
    1: RegistryPhase.PHASE1,
    2: RegistryPhase.PHASE2,
    3: RegistryPhase.PHASE3,
    4: RegistryPhase.PHASE4,
}
_PHASE_ITEM = re.compile(
    r"(?P<early>early )?phase ?(?P<first>[0-9]+|[ivx]+)"
    r"(?: ?/ ?(?:phase ?)?(?P<second>[0-9]+|[ivx]+))?"
)
_NOT_APPLICABLE = {"n/a", "na", "not applicable"}
PHASE_FORMS = "Phase 1, PHASE1, Phase I, Phase 1/Phase 2, Phase 1/2, Early Phase 1 or N/A"


def _phase_codes(field: str, item) -> list[str]:
    problem = ParseError(field, item, f"is not a phase such as {PHASE_FORMS}.")
    if not isinstance(item, str):
        raise problem
    text = " ".join(item.casefold().replace("_", " ").split())
    if text in _NOT_APPLICABLE:
        return [RegistryPhase.NA]
    match = _PHASE_ITEM.fullmatch(text)
    numbers = [_PHASE_NUMBERS.get(n) for n in match.group("first", "second") if n] if match else []
    if not numbers or None in numbers:
        raise problem
    if match["early"]:
        if numbers != [1]:
            raise ParseError(field, item, "is not a phase: only phase 1 has an early phase.")
        return [RegistryPhase.EARLY_PHASE1]
    return [_PHASE_CODES[number] for number in numbers]


def parse_phases(raw, *, field: str = "phases") -> list[str]:
    """Phases, as the sorted list of API v2 codes ("Phase 1/Phase 2" -> [PHASE1, PHASE2])."""
    items = raw if isinstance(raw, list) else [raw]
    codes = {code for item in items for code in _phase_codes(field, item)}
    phases = [code for code in RegistryPhase.values if code in codes]
    if tuple(phases) not in PHASE_COMBINATIONS:
        raise ParseError(field, raw, "is not a phase combination the registry uses.")
    return phases


_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_ISO_DATE = re.compile(r"(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2}))?)?")
_WORDED_DATE = re.compile(
    r"(?P<month>[a-z]+)\.? (?:(?P<day>[0-9]{1,2}),? )?(?P<year>[0-9]{4})", re.IGNORECASE
)
_DATE_TYPE = re.compile(r"(?P<date>.*?) ?\((?P<type>[a-z]+)\)", re.IGNORECASE)
DATE_FORMS = "2021-12-08, 2021-12, 2021, December 2015, Dec 2015 or December 8, 2015"


def parse_date(raw, *, field: str) -> tuple[str, str | None]:
    """A date as precise as given ("December 2015" -> "2015-12") and its type, if stated
    ("2021-12-08 (Actual)" -> ("2021-12-08", ACTUAL))."""
    problem = ParseError(field, raw, f"is not a date such as {DATE_FORMS}.")
    if not isinstance(raw, str):
        raise problem
    text, date_type = " ".join(raw.split()), None
    typed = _DATE_TYPE.fullmatch(text)
    if typed and _words(typed["type"]) in ACTUALITY_WORDS:
        text, date_type = typed["date"], ACTUALITY_WORDS[_words(typed["type"])]
    if match := _ISO_DATE.fullmatch(text):
        month = match["month"]
    elif (match := _WORDED_DATE.fullmatch(text)) and match["month"].casefold() in _MONTHS:
        month = _MONTHS[match["month"].casefold()]
    else:
        raise problem
    parts = [int(part) for part in (match["year"], month, match["day"]) if part is not None]
    text = "-".join([f"{parts[0]:04d}", *(f"{part:02d}" for part in parts[1:])])
    try:
        first_day(text)
    except ValueError as error:
        raise ParseError(field, raw, "is not a calendar date.") from error
    return text, date_type


_ENROLLMENT = re.compile(r"(?P<count>[0-9]+)(?: ?\((?P<type>[a-z]+)\))?", re.IGNORECASE)


def parse_enrollment(raw, *, field: str = "enrollment") -> tuple[int, str | None]:
    """An enrollment figure and its type, if stated ("40 (Estimated)" -> (40, ESTIMATED))."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        count, count_type = raw, None
    else:
        match = _ENROLLMENT.fullmatch(" ".join(raw.split())) if isinstance(raw, str) else None
        if not match:
            raise ParseError(
                field, raw, "is not a number of participants such as 40 or 40 (Actual)."
            )
        count, worded_type = int(match["count"]), match["type"] and _words(match["type"])
        if worded_type and worded_type not in ACTUALITY_WORDS:
            raise ParseError(field, raw, "has a type that is not Actual or Estimated.")
        count_type = worded_type and ACTUALITY_WORDS[worded_type]
    if not 0 <= count <= MAX_ENROLLMENT:
        raise ParseError(field, raw, f"is not a number of participants (0 to {MAX_ENROLLMENT}).")
    return count, count_type


def parse_text(raw, *, field: str, max_length: int = MAX_ITEM_LENGTH) -> str | None:
    """A text, its spacing tidied; an empty text is the source's silence (None)."""
    if not isinstance(raw, str):
        raise ParseError(field, raw, "is not a text.")
    if "\x00" in raw:
        raise ParseError(field, raw, "holds a null character.")
    text = " ".join(raw.split())
    if len(text) > max_length:
        raise ParseError(field, raw, f"is longer than {max_length} characters.")
    return text or None


def parse_list(raw, parse_item: Callable, *, field: str) -> list:
    """A list, each item read by `parse_item`; every bad item is reported (path [index])."""
    if not isinstance(raw, list):
        raise ParseError(field, raw, "is not a list.")
    if len(raw) > MAX_LIST_ITEMS:
        raise ParseError(field, f"{len(raw)} items", f"exceeds {MAX_LIST_ITEMS} items.")
    items, errors = [], []
    for index, item in enumerate(raw):
        try:
            items.append(parse_item(item))
        except ParseError as error:
            errors.append(error.at(f"[{index}]"))
        except ParseErrors as nested:
            errors += [error.at(f"[{index}]") for error in nested.errors]
    if errors:
        raise ParseErrors(errors)
    return items


def _required_text(raw, *, field: str) -> str:
    text = parse_text(raw, field=field)
    if text is None:
        raise ParseError(field, raw, "is empty.")
    return text


def parse_texts(raw, *, field: str) -> list[str]:
    """A list of non-empty texts, each once."""
    return list(
        dict.fromkeys(parse_list(raw, lambda item: _required_text(item, field=field), field=field))
    )


# The EU Clinical Trials Register names its member states by code; ClinicalTrials.gov by name.
EEA_COUNTRY_CODES = {
    "AT": "Austria",
    "BE": "Belgium",
    "BG": "Bulgaria",
    "CY": "Cyprus",
    "CZ": "Czechia",
    "DE": "Germany",
    "DK": "Denmark",
    "EE": "Estonia",
    "EL": "Greece",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GB": "United Kingdom",
    "GR": "Greece",
    "HR": "Croatia",
    "HU": "Hungary",
    "IE": "Ireland",
    "IS": "Iceland",
    "IT": "Italy",
    "LI": "Liechtenstein",
    "LT": "Lithuania",
    "LU": "Luxembourg",
    "LV": "Latvia",
    "MT": "Malta",
    "NL": "Netherlands",
    "NO": "Norway",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SE": "Sweden",
    "SI": "Slovenia",
    "SK": "Slovakia",
}


def parse_country(raw, *, field: str = "countries") -> str:
    """A country's name, as ClinicalTrials.gov writes it ("DE" -> "Germany")."""
    text = _required_text(raw, field=field)
    if re.fullmatch(r"[A-Z]{2}", text):
        if text not in EEA_COUNTRY_CODES:
            raise ParseError(field, raw, "is a country code NKKB does not know; give the name.")
        return EEA_COUNTRY_CODES[text]
    return text


def parse_sponsor(raw, *, field: str = "lead_sponsor") -> tuple[str, str | None]:
    """A sponsor's name, and its class where the name ends in one ("X (Industry)")."""
    text = _required_text(raw, field=field)
    bracket = trailing_bracket(text)
    if bracket and _words(bracket[1]) in SPONSOR_CLASS_WORDS:
        return bracket[0], SPONSOR_CLASS_WORDS[_words(bracket[1])]
    return text, None


def intervention(*, kind: str | None, name: str, other_names: list[str]) -> dict:
    """An intervention as a record stores it."""
    return {"type": kind, "name": name, "other_names": other_names}


def parse_intervention_label(raw, *, field: str = "interventions") -> dict:
    """An intervention as registry pages list it: "Drug: AFM13" or just "Gemcitabine"."""
    text = _required_text(raw, field=field)
    kind, separator, name = text.partition(":")
    if separator and _words(kind) in INTERVENTION_TYPE_WORDS and name.strip():
        return intervention(
            kind=INTERVENTION_TYPE_WORDS[_words(kind)], name=name.strip(), other_names=[]
        )
    return intervention(kind=None, name=text, other_names=[])


def trailing_bracket(text: str) -> tuple[str, str] | None:
    """`text` split before a bracketed ending, brackets inside it included:
    "2022-12-09 ('by: NCI (NIH)')" -> ("2022-12-09", "'by: NCI (NIH)'"); None without one."""
    if not text.endswith(")"):
        return None
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[index], 0)
        if depth == 0:
            head = text[:index].rstrip()
            return (head, text[index + 1 : -1].strip()) if head else None
    return None


def parse_registry_nct_id(raw, *, field: str = "nct_id") -> str:
    try:
        return parse_nct_id(raw)
    except ValidationError as error:
        raise ParseError(field, raw, error.messages[0]) from None


def parse_pmid(raw, *, field: str = "pmids") -> str:
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise ParseError(field, raw, "is not a PubMed ID (digits).")
    return text


def record_text(raw, *, field: str) -> str | None:
    """A text for the record's `field`, within that field's length."""
    return parse_text(raw, field=field, max_length=RegistryRecord._meta.get_field(field).max_length)


class _Reader:
    """Collects a record's values and every problem met while reading them."""

    def __init__(self):
        self.values: dict = dict.fromkeys(RECORD_FIELDS)
        self.errors: list[ParseError] = []

    @contextmanager
    def at(self, path: str) -> Iterator[None]:
        """A read that fails inside the block is noted, located at `path`, and skipped."""
        try:
            yield
        except ParseError as error:
            self.errors.append(error.at(path))
        except ParseErrors as errors:
            self.errors.extend(error.at(path) for error in errors.errors)

    def finish(self) -> dict:
        if self.errors:
            raise ParseErrors(self.errors, nct_id=self.values["nct_id"])
        return self.values


# API v2 study records

_KIND_NAMES = {
    str: "a text",
    int: "a whole number",
    bool: "true or false",
    list: "a list",
    dict: "an object",
    object: "a value",
}
IDENTIFICATION = "protocolSection.identificationModule."
STATUS = "protocolSection.statusModule."
DESIGN = "protocolSection.designModule."
SPONSORS = "protocolSection.sponsorCollaboratorsModule."
CONDITIONS = "protocolSection.conditionsModule."
ARMS = "protocolSection.armsInterventionsModule."
V2_TEXTS = {
    "brief_title": f"{IDENTIFICATION}briefTitle",
    "official_title": f"{IDENTIFICATION}officialTitle",
    "acronym": f"{IDENTIFICATION}acronym",
    "why_stopped": f"{STATUS}whyStopped",
    "lead_sponsor": f"{SPONSORS}leadSponsor.name",
}
V2_DATES = {
    "start_date": f"{STATUS}startDateStruct",
    "primary_completion_date": f"{STATUS}primaryCompletionDateStruct",
    "completion_date": f"{STATUS}completionDateStruct",
    "first_posted": f"{STATUS}studyFirstPostDateStruct",
    "last_update_posted": f"{STATUS}lastUpdatePostDateStruct",
}


def _get(data, path: str, field: str, kind: type):
    """The value at dotted `path` in `data`, None where the path ends early (silence)."""
    value = data
    for part in path.split("."):
        if not isinstance(value, dict):
            raise ParseError(field, value, "is not an object.")
        value = value.get(part)
        if value is None:
            return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ParseError(field, value, f"is not {_KIND_NAMES[kind]}.")
    return value


def parse_study(study) -> dict:
    """The RegistryRecord field values of an API v2 study record (`raw` included).

    Raises ParseErrors naming every value that cannot be read by its JSON path."""
    reader = _Reader()
    values = reader.values

    def read(path: str, field: str, parse: Callable, kind: type = str):
        with reader.at(path):
            raw = _get(study, path, field, kind)
            if raw is not None:
                values[field] = parse(raw, field=field)

    read(f"{IDENTIFICATION}nctId", "nct_id", parse_registry_nct_id)
    if values["nct_id"] is None and not reader.errors:
        reader.errors.append(
            ParseError("nct_id", None, "is missing.", path=f"{IDENTIFICATION}nctId")
        )
    for field, path in V2_TEXTS.items():
        read(path, field, record_text)
    read(f"{STATUS}overallStatus", "overall_status", parse_status)
    read(f"{STATUS}lastKnownStatus", "last_known_status", parse_status)
    for field, path in V2_DATES.items():
        read(f"{path}.date", field, lambda raw, field: parse_date(raw, field=field)[0])
        if field in ("first_posted", "last_update_posted"):
            continue  # a posting date has happened: its type says nothing
        read(f"{path}.type", f"{field}_type", parse_actuality)
    read(f"{DESIGN}phases", "phases", parse_phases, list)
    read(f"{DESIGN}studyType", "study_type", parse_study_type)
    read(f"{DESIGN}designInfo.allocation", "allocation", parse_allocation)
    read(
        f"{DESIGN}enrollmentInfo.count",
        "enrollment",
        lambda raw, field: parse_enrollment(raw, field=field)[0],
        int,
    )
    read(f"{DESIGN}enrollmentInfo.type", "enrollment_type", parse_actuality)
    read(f"{SPONSORS}leadSponsor.class", "lead_sponsor_class", parse_sponsor_class)
    read(f"{SPONSORS}collaborators", "collaborators", _named("name"), list)
    read(f"{CONDITIONS}conditions", "conditions", parse_texts, list)
    read(f"{CONDITIONS}keywords", "keywords", parse_texts, list)
    read(f"{ARMS}interventions", "interventions", _v2_interventions, list)
    read(f"{ARMS}armGroups", "arm_groups", _v2_arm_groups, list)
    read("protocolSection.contactsLocationsModule.locations", "countries", _v2_countries, list)
    read("protocolSection.referencesModule.references", "pmids", _v2_pmids, list)
    read(f"{IDENTIFICATION}secondaryIdInfos", "secondary_ids", _named("id"), list)
    read("hasResults", "has_results", lambda raw, field: raw, bool)
    values = reader.finish()
    return {**values, "raw": study}


def _member(item, key: str, field: str, kind: type = str, *, required=False):
    if not isinstance(item, dict):
        raise ParseError(field, item, "is not an object.")
    try:
        value = _get(item, key, field, kind)
    except ParseError as error:
        raise error.at(f".{key}") from None
    if value is None and required:
        raise ParseError(field, item, f"has no {key}.")
    return value


def _named(key: str) -> Callable:
    """Reads a list of objects as the list of their `key` texts (collaborators' names...)."""

    def parse(raw, *, field: str) -> list[str]:
        def name(item) -> str:
            return _required_text(_member(item, key, field, required=True), field=field)

        return list(dict.fromkeys(parse_list(raw, name, field=field)))

    return parse


def _v2_interventions(raw, *, field: str) -> list[dict]:
    def parse(item) -> dict:
        kind = _member(item, "type", field)
        return intervention(
            kind=kind and parse_intervention_type(kind, field=field),
            name=_required_text(_member(item, "name", field, required=True), field=field),
            other_names=parse_texts(_member(item, "otherNames", field, list) or [], field=field),
        )

    return parse_list(raw, parse, field=field)


def _v2_arm_groups(raw, *, field: str) -> list[dict]:
    def parse(item) -> dict:
        kind = _member(item, "type", field)
        names = _member(item, "interventionNames", field, list)
        return {
            "label": _required_text(_member(item, "label", field, required=True), field=field),
            "type": kind and parse_arm_group_type(kind, field=field),
            "interventions": None if names is None else parse_texts(names, field=field),
        }

    return parse_list(raw, parse, field=field)


def _optional_members(raw, key: str, parse: Callable, *, field: str) -> list:
    """The `key` of each object in `raw` that has one, read by `parse`, each once: a study's
    locations name their countries, its references their PubMed IDs."""

    def member(item):
        value = _member(item, key, field, object)
        return None if value is None else parse(value, field=field)

    values = parse_list(raw, member, field=field)
    return list(dict.fromkeys(value for value in values if value is not None))


def _v2_countries(raw, *, field: str) -> list[str]:
    return _optional_members(raw, "country", parse_country, field=field)


def _v2_pmids(raw, *, field: str) -> list[str]:
    return _optional_members(raw, "pmid", parse_pmid, field=field)


# Registry snapshot entries (fixtures/registry/snapshot.json; its `about` describes them)

# Each snapshot field, onto the record field it gives; None: kept in `raw` only.
SNAPSHOT_FIELDS = {
    **{field: field for field in RECORD_FIELDS if field not in ("nct_id", "arm_groups")},
    "arms": "arm_groups",
    "results": "has_results",
    "results_first_posted": "has_results",
    "responsible_party": None,
    "first_submitted": None,
}
SNAPSHOT_ENTRY_KEYS = {
    "nct_id",
    "source_url",
    "source_kind",
    "as_of",
    "fields",
    "field_sources",
    "field_notes",
    "conflicts_between_sources",
    # Kept in `raw` only: every source seen, and the status on the most recent of them.
    "newest_status_seen",
    "all_sources",
}
# Remarks the snapshot's compiler added in brackets after a free text; a name's own brackets
# ("National Cancer Institute (NCI)", "Placebo (Historical Controls)") are part of it.
SNAPSHOT_REMARKS = {
    "from title",
    "from official title",
    "disease site",
    "list truncated in excerpt",
    "eu protocol countries",
    "responsible party",
}
ACTUALITY_FIELDS = (
    "enrollment_type",
    "start_date_type",
    "primary_completion_date_type",
    "completion_date_type",
)
REGISTRY_PAGE = "registry page"
SOURCE_KIND_PREFIXES = {"mirror": SourceKind.MIRROR, "other registry": SourceKind.OTHER_REGISTRY}


def parse_snapshot_source(raw, *, field: str = "source_kind") -> tuple[str, str]:
    """A snapshot's source kind, as a SourceKind and the source's name:
    "mirror: meddatax.com" -> (mirror, "meddatax.com")."""
    text = _required_text(raw, field=field)
    if text == REGISTRY_PAGE:
        return SourceKind.ARCHIVED_PAGE, "ClinicalTrials.gov"
    prefix, separator, name = text.partition(":")
    if not separator or prefix not in SOURCE_KIND_PREFIXES or not name.strip():
        raise ParseError(
            field, raw, "is not 'registry page', 'mirror: <site>' or 'other registry: <name>'."
        )
    return SOURCE_KIND_PREFIXES[prefix], name.strip()


def parse_snapshot_entry(entry) -> dict | None:
    """The RegistryRecord field values of a snapshot entry, with its provenance (source_kind,
    source_url, source_name, as_of, field_sources, field_notes, source_conflicts, raw); None for
    an entry without a source, which has no values either.

    Values are read as their pages word them; where the compiler added a remark in brackets
    ("Phase I (from official title)", "2024-01-11 (EU 'Global end of trial date')"), the value
    before it is kept and the remark joins the field's notes. Raises ParseErrors naming every
    value that cannot be read by its path in the entry."""
    return _SnapshotReader(entry).record()


class _SnapshotReader(_Reader):
    def __init__(self, entry):
        super().__init__()
        self.entry = entry
        self.notes: dict[str, list[str]] = {}

    def record(self) -> dict | None:
        entry = self.entry
        if not isinstance(entry, dict):
            raise ParseErrors([ParseError("nct_id", entry, "is not a snapshot entry (an object).")])
        with self.at("nct_id"):
            self.values["nct_id"] = parse_registry_nct_id(entry.get("nct_id"))
        for key in sorted(set(entry) - SNAPSHOT_ENTRY_KEYS):
            self.errors.append(
                ParseError(key, entry[key], "is not a key of snapshot entries.", path=key)
            )
        fields = entry.get("fields")
        if not isinstance(fields, dict):
            self.errors.append(ParseError("fields", fields, "is not an object.", path="fields"))
            fields = {}
        if entry.get("source_kind") is None:
            stated = sorted(key for key, value in fields.items() if value is not None)
            if stated:
                self.errors.append(
                    ParseError(
                        "source_kind",
                        None,
                        f"is missing, yet {', '.join(stated)} are given.",
                        path="source_kind",
                    )
                )
            self.finish()
            return None
        provenance = self.provenance(entry)
        for key, raw in fields.items():
            if raw is not None:
                with self.at(f"fields.{key}"):
                    self.field(key, raw)
        with self.at("field_notes"):
            stated = self.by_record_field(entry.get("field_notes") or {}, "field_notes")
            for field, note in stated.items():
                self.notes.setdefault(field, []).insert(0, note)
        values = self.finish()
        notes = {field: "; ".join(dict.fromkeys(notes)) for field, notes in self.notes.items()}
        return {**values, **provenance, "field_notes": notes}

    def provenance(self, entry: dict) -> dict:
        provenance = {"raw": entry, "source_conflicts": [], "field_sources": {}}
        with self.at("source_kind"):
            provenance["source_kind"], provenance["source_name"] = parse_snapshot_source(
                entry["source_kind"]
            )
        provenance["source_url"] = provenance["as_of"] = None
        with self.at("source_url"):
            if entry.get("source_url") is not None:
                provenance["source_url"] = record_text(entry["source_url"], field="source_url")
        with self.at("as_of"):
            if entry.get("as_of") is not None:
                provenance["as_of"] = parse_full_date(entry["as_of"], field="as_of")
        with self.at("conflicts_between_sources"):
            conflicts = entry.get("conflicts_between_sources") or []
            if not isinstance(conflicts, list):
                raise ParseError("source_conflicts", conflicts, "is not a list.")
            provenance["source_conflicts"] = conflicts
        with self.at("field_sources"):
            provenance["field_sources"] = self.by_record_field(
                entry.get("field_sources") or {}, "field_sources"
            )
        return provenance

    def by_record_field(self, raw, field: str) -> dict[str, str]:
        """A mapping of snapshot fields to texts, onto record fields (the first text of each)."""
        if not isinstance(raw, dict):
            raise ParseError(field, raw, "is not an object.")
        mapped = {}
        for key, text in raw.items():
            if key not in SNAPSHOT_FIELDS:
                raise ParseError(field, key, "is not a snapshot field.", path=f".{key}")
            if SNAPSHOT_FIELDS[key] is not None:
                mapped.setdefault(SNAPSHOT_FIELDS[key], _required_text(text, field=field))
        return mapped

    def remarked(self, parse: Callable, raw, *, field: str, **options):
        """`parse(raw)`; failing that, the value before a bracketed ending, the ending being a
        remark of the compiler ("Phase I (from official title)"), noted for `field`."""
        try:
            return parse(raw, field=field, **options)
        except ParseError as error:
            bracket = trailing_bracket(raw) if isinstance(raw, str) else None
            if bracket is None:
                raise
            try:
                value = parse(bracket[0], field=field, **options)
            except ParseError:
                raise error from None
            self.notes.setdefault(field, []).append(bracket[1])
            return value

    def unremarked(self, raw, *, field: str) -> str:
        """A free text without a remark of the compiler's at its end, the remark noted."""
        text = _required_text(raw, field=field)
        bracket = trailing_bracket(text)
        if bracket and bracket[1].casefold() in SNAPSHOT_REMARKS:
            self.notes.setdefault(field, []).append(bracket[1])
            return bracket[0]
        return text

    def texts(self, raw, parse: Callable, *, field: str) -> list:
        """A list of free texts, each without its remark, read by `parse`."""
        items = parse_list(
            raw, lambda item: parse(self.unremarked(item, field=field), field=field), field=field
        )
        return list({json.dumps(item, sort_keys=True): item for item in items}.values())

    def field(self, key: str, raw):
        values = self.values
        if key not in SNAPSHOT_FIELDS:
            raise ParseError(key, raw, "is not a snapshot field.")
        field = SNAPSHOT_FIELDS[key]
        if field is None:
            return
        if key in ("brief_title", "official_title", "acronym", "why_stopped"):
            values[field] = record_text(self.unremarked(raw, field=field), field=field)
        elif key in ("overall_status", "last_known_status"):
            values[field] = self.remarked(parse_status, raw, field=field)
        elif key == "phases":
            items = raw if isinstance(raw, list) else [raw]
            codes = [self.remarked(parse_phases, item, field=field) for item in items]
            values[field] = parse_phases([code for item in codes for code in item], field=field)
        elif key == "study_type":
            values[field] = self.remarked(parse_study_type, raw, field=field)
        elif key == "allocation":
            values[field] = self.remarked(parse_allocation, raw, field=field)
        elif key == "enrollment":
            values[field], enrollment_type = self.remarked(parse_enrollment, raw, field=field)
            self.set_type("enrollment_type", enrollment_type)
        elif key in ("start_date", "primary_completion_date", "completion_date"):
            values[field], date_type = self.remarked(parse_date, raw, field=field)
            self.set_type(f"{field}_type", date_type)
        elif key in ACTUALITY_FIELDS:
            self.set_type(field, self.remarked(parse_actuality, raw, field=field))
        elif key in ("first_posted", "last_update_posted"):
            values[field] = self.remarked(parse_date, raw, field=field)[0]
        elif key == "lead_sponsor":
            name, sponsor_class = parse_sponsor(self.unremarked(raw, field=field), field=field)
            values[field], values["lead_sponsor_class"] = (
                record_text(name, field=field),
                sponsor_class,
            )
        elif key == "lead_sponsor_class":
            values[field] = self.remarked(parse_sponsor_class, raw, field=field)
        elif key in ("collaborators", "conditions", "keywords", "secondary_ids"):
            values[field] = self.texts(raw, _required_text, field=field)
        elif key == "countries":
            values[field] = self.texts(raw, parse_country, field=field)
        elif key == "pmids":
            values[field] = parse_list(raw, parse_pmid, field=field)
        elif key == "interventions":
            values[field] = self.texts(raw, parse_intervention_label, field=field)
        elif key == "arms":
            values[field] = parse_list(raw, self.arm_group, field=field)
        elif key == "results":
            if _words(raw if isinstance(raw, str) else "") not in RESULTS_WORDS:
                raise ParseError(
                    field, raw, "is not 'Results available' or 'No results available'."
                )
            values[field] = RESULTS_WORDS[_words(raw)]
        elif key == "results_first_posted":
            self.remarked(parse_date, raw, field=field)
            values[field] = True
        elif key == "has_results":
            if not isinstance(raw, bool):
                raise ParseError(field, raw, "is not true or false.")
            values[field] = raw

    def arm_group(self, raw) -> dict:
        field = "arm_groups"
        if not isinstance(raw, dict) or not set(raw) <= {"label", "type", "interventions"}:
            raise ParseError(field, raw, "is not an arm group {label, type, interventions}.")
        kind, names = raw.get("type"), raw.get("interventions")
        return {
            "label": self.unremarked(raw.get("label"), field=field),
            "type": kind and self.remarked(parse_arm_group_type, kind, field=field),
            "interventions": None
            if names is None
            else self.texts(names, _required_text, field=field),
        }

    def set_type(self, field: str, value: str | None):
        """Set an enrollment's or a date's type, which a value worded with its own type
        ("40 (Estimated)") and a type given beside it must agree on."""
        if value is None:
            return
        if self.values[field] not in (None, value):
            raise ParseError(field, value, "contradicts the type given with the value.")
        self.values[field] = value


def parse_full_date(raw, *, field: str) -> date:
    """A day: the date a source's data is as of."""
    text, _ = parse_date(raw, field=field)
    if len(text) != len("YYYY-MM-DD"):
        raise ParseError(field, raw, "is not a day (YYYY-MM-DD).")
    return date.fromisoformat(text)
