"""What ClinicalTrials.gov says, read into registry records: the live sync of known NCT numbers,
saved API v2 files, and discovery of studies that may belong in the knowledge base.

All three read API v2 study records through `parse_study` and store them through
`record_store`, a study at a time: one study's problem is reported and never blocks the others.
Each previews by default (computes what it would do and writes nothing) and writes only when
applied; none touches a curated table.
"""

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from agents.choices import AgentClass, TargetKind
from agents.models import Agent, NKCellProduct
from nkkb.core.limits import json_depth

from .choices import SourceKind
from .ctgov import MAX_PAGE_SIZE, CtgovClient, Page
from .matching import name_keys, names_of, normalise_name, split_names
from .models import RegistryRecord, StudyCandidate, first_day, parse_nct_id
from .parsing import ParseErrors, parse_study
from .services import record_store, validation_problems

SYNC_CHANGE_REASON = "ClinicalTrials.gov sync"
FILE_CHANGE_REASON = "ClinicalTrials.gov API v2 file"
DISCOVERY_CHANGE_REASON = "ClinicalTrials.gov discovery"
SOURCE_NAME = "ClinicalTrials.gov"
DEFAULT_BATCH_SIZE = 100
# Studies stored in one transaction when reading files: bounds memory and a failure's reach.
FILE_CHUNK = 500


def _no_progress(total: int):
    class _Silent:
        def update(self, count: int = 1):
            pass

        def close(self):
            pass

    return _Silent()


@dataclass
class SyncReport:
    """What a sync or a file read did (or, in a preview, would do), NCT numbers by outcome."""

    applied: bool
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # NCT number: changed fields
    unchanged: list[str] = field(default_factory=list)
    # A record read live that is newer than the study given (an older saved file).
    kept_newer: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    resumed_at_batch: int | None = None

    @property
    def counts(self) -> dict[str, int]:
        return {
            name: len(getattr(self, name))
            for name in ("created", "updated", "unchanged", "kept_newer", "not_found", "problems")
        }


def _values(study, *, where: str, source_kind: str, source_name: str) -> tuple[dict | None, list]:
    """The record values of one API v2 study, with its provenance; or the problems found."""
    try:
        values = parse_study(study)
    except ParseErrors as errors:
        nct_id = errors.nct_id or "study"
        return None, [f"{where}: {nct_id}: {error}" for error in errors.errors]
    nct_id = values["nct_id"]
    return {
        **values,
        "source_kind": source_kind,
        "source_url": f"https://clinicaltrials.gov/study/{nct_id}",
        "source_name": source_name,
        "as_of": first_day(values["last_update_posted"]) if values["last_update_posted"] else None,
        # Per-field notes belong to the archived pages of a snapshot record, not to the API.
        "field_sources": {},
        "field_notes": {},
        "source_conflicts": [],
    }, []


def _newer(record: RegistryRecord | None, values: dict) -> bool:
    """Whether `record` was read live from a later version of the study than `values`."""
    return (
        record is not None
        and record.source_kind in (SourceKind.API, SourceKind.FILE)
        and bool(record.last_update_posted and values["last_update_posted"])
        and first_day(record.last_update_posted) > first_day(values["last_update_posted"])
    )


def _store_all(entries: list[tuple[str, dict]], report: SyncReport, *, reason: str) -> None:
    """Store (or, in a preview, weigh) each (where, values), one transaction for all of them."""
    with transaction.atomic():
        existing = RegistryRecord.objects.in_bulk(
            [values["nct_id"] for _, values in entries], field_name="nct_id"
        )
        for where, values in entries:
            nct_id = values["nct_id"]
            record = existing.get(nct_id)
            if _newer(record, values):
                report.kept_newer.append(nct_id)
                continue
            try:
                _, outcome, changed = record_store(
                    record, values, reason=reason, write=report.applied
                )
            except ValidationError as error:
                report.problems += validation_problems(f"{where}: {nct_id}", error)
                continue
            if outcome == "updated":
                report.updated[nct_id] = changed
            else:
                getattr(report, outcome).append(nct_id)


# The live sync


class _SyncState:
    """Where an interrupted sync stopped: the next batch, the page token within it, and the
    report so far, in a JSON file written after each stored page.

    `key` names the run (its NCT numbers, batch size and whether it applies); a state file of
    another run is ignored, so a changed list of trials starts afresh.
    """

    def __init__(self, path: Path | None, key: str, report: SyncReport):
        self.path, self.key, self.report = path, key, report
        self.batch, self.page_token = 0, None

    @classmethod
    def load(cls, path: Path | None, key: str, report: SyncReport) -> "_SyncState":
        state = cls(path, key, report)
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path else None
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict) and data.get("key") == key:
            state.batch, state.page_token = data["next_batch"], data["page_token"]
            state.report = SyncReport(**data["report"])
            state.report.resumed_at_batch = state.batch
        return state

    def save(self, *, batch: int, page_token: str | None):
        self.batch, self.page_token = batch, page_token
        if self.path is None:
            return
        data = {
            "about": "Where an interrupted sync_ctgov run stopped; the next run continues here.",
            "key": self.key,
            "next_batch": batch,
            "page_token": page_token,
            "report": asdict(self.report),
        }
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, self.path)  # never a half-written state file

    def clear(self):
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def registry_sync(
    *,
    nct_ids: Iterable[str],
    client: CtgovClient,
    apply: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    state_path: Path | None = None,
    progress: Callable[[int], object] = _no_progress,
) -> SyncReport:
    """Read the studies `nct_ids` name from the API, `batch_size` a request (`filter.ids`), and
    store each as a registry record when `apply` is true; otherwise report what would change.

    With `state_path`, a run that stops half-way (an error, Ctrl-C) is continued by the next
    run with the same arguments from the last page it stored; the file goes once a run ends.
    `progress(total)` gives an object whose `update(n)` is told of each n studies read.
    """
    if not 1 <= batch_size <= MAX_PAGE_SIZE:
        raise ValueError(f"A batch holds 1 to {MAX_PAGE_SIZE} NCT numbers.")
    ids, bad = set(), []
    for text in nct_ids:
        try:
            ids.add(parse_nct_id(text))
        except ValidationError as error:
            bad += error.messages
    ids = sorted(ids)
    batches = [ids[start : start + batch_size] for start in range(0, len(ids), batch_size)]
    key = hashlib.sha256(json.dumps([ids, batch_size, apply]).encode()).hexdigest()
    state = _SyncState.load(state_path, key, SyncReport(applied=apply, problems=bad))
    report = state.report
    bar = progress(len(ids))
    bar.update(sum(map(len, batches[: state.batch])))
    try:
        for index in range(state.batch, len(batches)):
            batch = batches[index]
            params = {"filter.ids": ",".join(batch), "pageSize": str(len(batch))}
            token = state.page_token if index == state.batch else None
            for page in client.pages(params, page_token=token):
                _store_page(page, report, where=f"batch {index + 1}", wanted=set(batch))
                state.save(batch=index, page_token=page.next_page_token)
                bar.update(len(page.studies))
            state.save(batch=index + 1, page_token=None)
    finally:
        bar.close()
    seen = {*report.created, *report.updated, *report.unchanged, *report.kept_newer}
    report.not_found = [
        nct_id
        for nct_id in ids
        if nct_id not in seen and not any(f" {nct_id}: " in p for p in report.problems)
    ]
    state.clear()
    return report


def _store_page(page: Page, report: SyncReport, *, where: str, wanted: set[str]):
    entries = []
    for index, study in enumerate(page.studies):
        at = f"{where}, studies[{index}]"
        values, problems = _values(
            study, where=at, source_kind=SourceKind.API, source_name=SOURCE_NAME
        )
        report.problems += problems
        if values is None:
            continue
        if values["nct_id"] not in wanted:
            report.problems.append(f"{at}: {values['nct_id']}: was not asked for; skipped.")
            continue
        wanted.discard(values["nct_id"])
        entries.append((at, values))
    _store_all(entries, report, reason=SYNC_CHANGE_REASON)


# Saved API v2 files (`sync_ctgov --from-file`)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FILE_DEPTH = 64
MAX_STUDIES_PER_FILE = 10_000
API_V2_HINT = (
    "NKKB reads ClinicalTrials.gov API v2 JSON: one study "
    "(https://clinicaltrials.gov/api/v2/studies/NCT02138734) or a page of them "
    "(https://clinicaltrials.gov/api/v2/studies?filter.ids=NCT02138734,NCT03019640)."
)


def _legacy_format(head: bytes) -> str | None:
    """The older ClinicalTrials.gov format a file's first bytes show, if any."""
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    first_line = text.split("\n", 1)[0]
    if text.startswith("<"):
        if "<clinical_study" in text or text.startswith("<?xml"):
            return "classic ClinicalTrials.gov XML (<clinical_study>), retired with API v1"
        return "HTML or XML, not JSON"
    if text.startswith("{") and "FullStudiesResponse" in text[:200]:
        return "an API v1 FullStudiesResponse (retired in 2024)"
    if "NCT Number" in first_line or (not text.startswith(("{", "[")) and "," in first_line):
        return "CSV (a ClinicalTrials.gov download table)"
    return None


def _file_studies(path: Path) -> tuple[list[tuple[str, object]], list[str]]:
    """The (where, study) pairs of one saved file, or why it cannot be read."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [], [
                f"{path}: is {size / 1024 / 1024:.0f} MB, more than the "
                f"{MAX_FILE_BYTES // 1024 // 1024} MB a file may hold; save smaller pages "
                "(pageSize=1000) instead."
            ]
        content = path.read_bytes()
    except OSError as error:
        return [], [f"{path}: cannot be read ({error.strerror})."]
    if b"\x00" in content:
        return [], [f"{path}: holds NUL bytes: not a text file. {API_V2_HINT}"]
    if legacy := _legacy_format(content[:4096]):
        return [], [f"{path}: is {legacy}. {API_V2_HINT}"]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return [], [f"{path}: is not UTF-8 text. {API_V2_HINT}"]
    # Counted before parsing: Python's parser recurses once per level.
    if json_depth(text) > MAX_FILE_DEPTH:
        return [], [f"{path}: nests deeper than {MAX_FILE_DEPTH} levels."]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return [], [f"{path}: is not valid JSON (line {error.lineno}: {error.msg}). {API_V2_HINT}"]
    if isinstance(data, dict) and "studies" in data:
        studies = data["studies"]
        if not isinstance(studies, list):
            return [], [f"{path}: studies: must be a list of study records."]
        if len(studies) > MAX_STUDIES_PER_FILE:
            return [], [
                f"{path}: holds {len(studies)} studies, more than the {MAX_STUDIES_PER_FILE} "
                "a file may hold; save it as several pages."
            ]
        return [(f"{path} studies[{index}]", study) for index, study in enumerate(studies)], []
    if isinstance(data, dict) and "protocolSection" in data:
        return [(str(path), data)], []
    return [], [
        f"{path}: is neither a study record (protocolSection) nor a page of them (studies). "
        + API_V2_HINT
    ]


def registry_files_read(
    *,
    paths: Sequence[Path],
    apply: bool = False,
    progress: Callable[[int], object] = _no_progress,
) -> SyncReport:
    """Read saved API v2 JSON files (a study, or a `/studies` page, each) as the live sync
    reads the API: each study parsed and stored (source: a saved file) when `apply` is true.

    A file or a study that cannot be read is reported and skipped; a study given twice is read
    once, where it first appears. `progress(total)` is told of each file read.
    """
    report = SyncReport(applied=apply)
    first_seen: dict[str, str] = {}
    bar = progress(len(paths))
    try:
        for path in paths:
            studies, problems = _file_studies(Path(path))
            report.problems += problems
            for start in range(0, len(studies), FILE_CHUNK):
                entries = []
                for where, study in studies[start : start + FILE_CHUNK]:
                    values, problems = _values(
                        study,
                        where=where,
                        source_kind=SourceKind.FILE,
                        source_name=f"API v2 file {Path(path).name}"[:200],
                    )
                    report.problems += problems
                    if values is None:
                        continue
                    nct_id = values["nct_id"]
                    if nct_id in first_seen:
                        report.problems.append(
                            f"{where}: {nct_id}: is also in {first_seen[nct_id]}; read there only."
                        )
                        continue
                    first_seen[nct_id] = where
                    entries.append((where, values))
                _store_all(entries, report, reason=FILE_CHANGE_REASON)
            bar.update(1)
    finally:
        bar.close()
    return report


# Discovery

# Words that name NK cells in an intervention ("Allogeneic NK cells", "CAR-NK", "natural
# killer cells"), not NKT cells, NKG2A or NK-92 (a product, matched by name).
NK_TERM = re.compile(r"\bnatural[\s-]+killer\b|\bnk[\s-]*cells?\b|\bcar[\s-]*nk\b", re.IGNORECASE)
NK_QUERY_TERMS = ("NK cell", "NK cells", "natural killer", "CAR-NK")
# TIGIT is curated as an immune checkpoint (T cells carry it too) but blocking it is the NK
# checkpoint blockade the review discusses; PD-1, PD-L1, CTLA-4, LAG-3 and TIM-3 blockers are
# T-cell drugs first.
NK_CHECKPOINT_TARGETS = frozenset({"tigit"})
NK_RECEPTOR_KINDS = frozenset(
    {TargetKind.NK_ACTIVATING_RECEPTOR, TargetKind.NK_INHIBITORY_RECEPTOR}
)
# Names joined into one `query.intr` expression; keeps each request's URL short.
NAMES_PER_QUERY = 25
DISCOVERY_PAGE_SIZE = 1000


def agent_role(agent: Agent) -> str:
    """What an agent of the knowledge base says about a study that gives it, the one rule of
    discovery (a study that gives an NK cell product is always relevant):

    - "nk-directed": it acts on NK cells, so a study giving it is relevant on its own: NK cell
      engagers, cytokines, and any agent against an NK receptor (NKG2A, CD94, NKp46, CD16...)
      or TIGIT;
    - "with-nk-cells": a tumor-targeting antibody, which kills through NK cells' CD16 but is
      given in many studies that have nothing to do with them: relevant only beside an NK cell
      product or NK cells named in an intervention (or in the title);
    - "partner": everything else (chemotherapy, BCG, PD-1/PD-L1/CTLA-4 checkpoint inhibitors,
      pembrolizumab...): a combination partner, which never makes a study relevant.

    Reads `agent.targets.all()` (prefetch it).
    """
    targets = agent.targets.all()
    if agent.agent_class in (AgentClass.ENGAGER, AgentClass.CYTOKINE) or any(
        target.kind in NK_RECEPTOR_KINDS or target.slug in NK_CHECKPOINT_TARGETS
        for target in targets
    ):
        return "nk-directed"
    if agent.agent_class == AgentClass.TUMOR_TARGETING_MAB:
        return "with-nk-cells"
    return "partner"


class _Index:
    """The knowledge base's agents and NK cell products by every form of their names."""

    def __init__(self):
        self.agents = list(Agent.objects.prefetch_related("targets"))
        self.products = list(NKCellProduct.objects.all())
        self.roles = {agent.pk: agent_role(agent) for agent in self.agents}
        self.exact: dict[str, object] = {}
        self.alias: dict[str, object] = {}
        self.normalised: dict[str, object] = {}
        for item in [*self.products, *self.agents]:
            self.exact.setdefault(item.name.casefold(), item)
            for alias in names_of(item)[1:]:
                self.alias.setdefault(alias.casefold(), item)
            for name in names_of(item):
                for key in name_keys(name):
                    self.normalised.setdefault(key, item)

    def query_names(self) -> list[str]:
        """The names to ask the API about: NK cell products' and NK-directed agents'."""
        items = [*self.products, *(a for a in self.agents if self.roles[a.pk] == "nk-directed")]
        names = {name for item in items for name in (item.name, *item.aliases)}
        return sorted(names | set(NK_QUERY_TERMS), key=str.casefold)

    def find(self, name: str) -> tuple[object, str] | None:
        text = name.strip().casefold()
        if text in self.exact:
            return self.exact[text], "exact name"
        if text in self.alias:
            return self.alias[text], "alias"
        for key in name_keys(name):
            if key in self.normalised:
                return self.normalised[key], "normalised"
        return None

    def match(self, values: dict) -> tuple[list[dict], list, list, list[str]]:
        """What a study's interventions match: (matches, agents, products, unmatched names)."""
        matches, agents, products, unmatched = [], [], [], []

        def note(name: str, item, how: str):
            kind = "product" if isinstance(item, NKCellProduct) else "agent"
            matches.append({"name": name, "matched": f"{kind}:{item.slug}", "how": how})
            found = products if kind == "product" else agents
            if item not in found:
                found.append(item)

        for intervention in values["interventions"] or []:
            names = [intervention["name"], *intervention["other_names"]]
            linked = False
            for name in names:
                if found := self.find(name):
                    note(name, *found)
                    linked = True
                if NK_TERM.search(name):
                    matches.append({"name": name, "matched": "NK term", "how": "NK term"})
                    linked = True
            if linked:
                continue
            for part in split_names(intervention["name"]):
                if found := self.find(part):
                    note(part, *found[:1], "split part")
                elif normalise_name(part):
                    unmatched.append(part)
        for title in (values["brief_title"], values["official_title"]):
            if title and NK_TERM.search(title):
                matches.append({"name": title, "matched": "NK term", "how": "NK term in title"})
                break
        return matches, agents, products, unmatched

    def relevant(self, matches: list[dict], agents: list, products: list) -> bool:
        roles = {self.roles[agent.pk] for agent in agents}
        in_interventions = any(m["how"] == "NK term" for m in matches)
        in_title = any(m["how"] == "NK term in title" for m in matches)
        return bool(
            products
            or "nk-directed" in roles
            or in_interventions
            or ("with-nk-cells" in roles and in_title)
        )


@dataclass
class DiscoveryReport:
    """What discovery found: new candidates (or those it would create), and what it passed by."""

    applied: bool
    candidates: dict[str, list[dict]] = field(default_factory=dict)  # NCT number: matches
    already_candidates: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)  # knowledge-base trials already
    # Studies the API found that match no NK cell product, NK-directed agent or NK term.
    not_relevant: dict[str, list[str]] = field(default_factory=dict)  # NCT number: names
    unmatched_names: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    pages: int = 0
    queries: int = 0


def registry_discover(
    *,
    client: CtgovClient,
    known_nct_ids: Iterable[str],
    apply: bool = False,
    max_pages: int | None = None,
    progress: Callable[[int], object] = _no_progress,
) -> DiscoveryReport:
    """Ask the API for studies whose interventions name an NK cell product or an NK-directed
    agent of the knowledge base (by name or alias) or NK cells, and keep those the rule of
    `agent_role` finds relevant as candidates (with their registry records) when `apply` is
    true. Studies in `known_nct_ids` (the knowledge base's trials) are passed by, and so is a
    study matched only through combination partners. Reads at most `max_pages` pages.
    """
    index = _Index()
    known = set(known_nct_ids)
    report = DiscoveryReport(applied=apply)
    names = index.query_names()
    queries = [names[i : i + NAMES_PER_QUERY] for i in range(0, len(names), NAMES_PER_QUERY)]
    seen: set[str] = set()
    bar = progress(len(queries))
    try:
        for terms in queries:
            if max_pages is not None and report.pages >= max_pages:
                break
            report.queries += 1
            expression = " OR ".join(f'"{term}"' for term in terms)
            params = {"query.intr": expression, "pageSize": str(DISCOVERY_PAGE_SIZE)}
            for page in client.pages(params):
                report.pages += 1
                _discover_page(page, index, report, known=known, seen=seen)
                if max_pages is not None and report.pages >= max_pages:
                    break
            bar.update(1)
    finally:
        bar.close()
    return report


def _discover_page(page: Page, index: _Index, report: DiscoveryReport, *, known, seen):
    found = []
    for position, study in enumerate(page.studies):
        where = f"page {report.pages}, studies[{position}]"
        values, problems = _values(
            study, where=where, source_kind=SourceKind.API, source_name=SOURCE_NAME
        )
        report.problems += problems
        if values is None or values["nct_id"] in seen:
            continue
        nct_id = values["nct_id"]
        seen.add(nct_id)
        if nct_id in known:
            report.known.append(nct_id)
            continue
        matches, agents, products, unmatched = index.match(values)
        if not index.relevant(matches, agents, products):
            report.not_relevant[nct_id] = [m["matched"] for m in matches]
            continue
        report.unmatched_names.update(unmatched)
        found.append((where, values, matches, agents, products))
    if not found:
        return
    with transaction.atomic():
        nct_ids = [values["nct_id"] for _, values, *_ in found]
        existing = RegistryRecord.objects.in_bulk(nct_ids, field_name="nct_id")
        candidates = set(
            StudyCandidate.objects.filter(record__nct_id__in=nct_ids).values_list(
                "record__nct_id", flat=True
            )
        )
        for where, values, matches, agents, products in found:
            nct_id = values["nct_id"]
            if nct_id in candidates:
                report.already_candidates.append(nct_id)
                continue
            record = existing.get(nct_id)
            try:
                if not _newer(record, values):
                    record, *_ = record_store(
                        record, values, reason=DISCOVERY_CHANGE_REASON, write=report.applied
                    )
            except ValidationError as error:
                report.problems += validation_problems(f"{where}: {nct_id}", error)
                continue
            report.candidates[nct_id] = matches
            if report.applied:
                _candidate_create(record, matches, agents, products)


def _candidate_create(record: RegistryRecord, matches, agents, products) -> StudyCandidate:
    candidate = StudyCandidate(record=record, matches=matches)
    candidate._change_reason = DISCOVERY_CHANGE_REASON
    candidate.save()
    if agents:
        candidate.matched_agents.add(*agents)
    if products:
        candidate.matched_products.add(*products)
    return candidate
