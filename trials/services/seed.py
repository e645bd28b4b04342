"""The curated seed: fixtures/*.yaml into an empty knowledge base, all or nothing."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.text import slugify

from agents.models import Agent, NKCellProduct, Target
from nkkb.core.history import SEED_CHANGE_REASON
from nkkb.core.knowledge_base import knowledge_base_counts
from nkkb.core.problems import ProblemsError
from nkkb.core.stored_facets import refresh_every
from registry.services import registry_snapshot_load

from ..choices import Phase
from ..models import Caveat, Condition, Result, Trial, TrialAgent

PROVENANCE_FIELDS = {
    "section": "source_section",
    "references": "source_references",
    "quote": "source_quote",
    "summary": "source_summary",
}
# A condition's provenance is that of its place in the hierarchy, which a classification may give.
CONDITION_PROVENANCE_FIELDS = {
    "basis": "placement_basis",
    **PROVENANCE_FIELDS,
    "classification": "classification",
}
PHASE_BY_LABEL = {label: value for value, label in Phase.choices}


@dataclass(frozen=True)
class SeedReport:
    loaded: bool
    counts: dict[str, int]


def seed_load(*, directory: Path) -> SeedReport:
    """Load the curated seed in `directory` into an empty knowledge base, all or nothing.

    A knowledge base that already holds records is left alone: the seed is a starting point,
    and reloading it over curators' later edits would undo them.
    """
    if any(knowledge_base_counts().values()):
        return SeedReport(loaded=False, counts=knowledge_base_counts())
    loader = _SeedLoader(directory)
    with transaction.atomic():
        loader.load()
        if loader.problems:
            transaction.set_rollback(True)
    if loader.problems:
        raise ProblemsError(loader.problems)
    refresh_every()
    return SeedReport(loaded=True, counts=knowledge_base_counts())


class _SeedLoader:
    def __init__(self, directory: Path):
        self.directory = directory
        self.problems: list[str] = []

    def load(self):
        self._load_named(Target, "targets.yaml", relations={})
        self._load_named(Agent, "agents.yaml", relations={"targets": Target})
        self._load_named(NKCellProduct, "nk_products.yaml", relations={"targets": Target})
        self._load_conditions()
        for location, entry in self._entries("trials.yaml"):
            self._load_trial(location, entry)
        snapshot = self.directory / "registry" / "snapshot.json"
        if snapshot.exists():
            self._load_registry_snapshot(snapshot)

    def _load_registry_snapshot(self, path: Path):
        """What archived registry pages and mirrors said of the seed's trials: registry records
        beside the curated facts, never in them."""
        try:
            report = registry_snapshot_load(path=path)
        except ProblemsError as error:
            self.problems += error.problems
            return
        seeded = set(Trial.objects.values_list("nct_id", flat=True))
        self.problems += [
            f"{path}: {nct_id}: is not a trial of the seed."
            for nct_id in [*report.created, *report.updated, *report.unchanged]
            if nct_id not in seeded
        ]

    def _entries(self, filename: str):
        path = self.directory / filename
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            self.problems.append(f"{filename}: cannot be read ({error.strerror}).")
            return
        except yaml.YAMLError as error:
            self.problems.append(f"{filename}: is not valid YAML ({error}).")
            return
        if not isinstance(entries, list):
            self.problems.append(f"{filename}: must be a list of entries.")
            return
        for index, entry in enumerate(entries, start=1):
            key = entry.get("nct_id") or entry.get("slug") if isinstance(entry, dict) else None
            location = f"{filename} entry {index}" + (f" ({key})" if key else "")
            if isinstance(entry, dict):
                yield location, entry
            else:
                self.problems.append(f"{location}: must be a mapping of fields.")

    def _load_conditions(self):
        """The condition hierarchy (conditions.yaml), each group before the conditions under
        it, whatever their order in the file; a parent that no entry names, or parents that
        form a cycle, are problems."""
        entries = [(location, dict(entry)) for location, entry in self._entries("conditions.yaml")]
        parents = {
            entry["slug"]: entry.get("parent")
            for _, entry in entries
            if isinstance(entry.get("slug"), str)
        }
        loaded: dict[str, Condition] = {}
        waiting = []
        for location, entry in entries:
            parent = entry.pop("parent", None)
            if parent is not None and not isinstance(parent, str):
                self.problems.append(f"{location}: parent must be a condition slug or null.")
            else:
                waiting.append((location, entry, parent))
        while ready := [item for item in waiting if item[2] is None or item[2] in loaded]:
            waiting = [item for item in waiting if item not in ready]
            for location, entry, parent in ready:
                fields = {**entry, "parent": loaded.get(parent)}
                condition = self._save(Condition, location, fields, CONDITION_PROVENANCE_FIELDS)
                if condition is not None:
                    loaded[condition.slug] = condition
        for location, entry, parent in waiting:
            cycle = _cycle_through(entry.get("slug"), parents)
            if parent not in parents:
                self.problems.append(
                    f"{location}: parent {parent!r} is not a condition of conditions.yaml."
                )
            elif cycle:
                self.problems.append(
                    f"{location}: its parents lead round a cycle ({' is under '.join(cycle)}): "
                    "a condition cannot lie below itself."
                )
            else:
                self.problems.append(f"{location}: its parent {parent!r} was not loaded.")

    def _load_named(self, model, filename: str, *, relations: dict[str, type[models.Model]]):
        for location, entry in self._entries(filename):
            entry = dict(entry)
            related = {field: entry.pop(field, []) for field in relations}
            instance = self._save(model, location, entry)
            if instance is not None:
                for field, related_model in relations.items():
                    getattr(instance, field).set(
                        self._lookup(related_model, related[field], location, field)
                    )

    def _load_trial(self, location: str, entry: dict):
        entry = dict(entry)
        conditions = entry.pop("conditions", [])
        agent_links = entry.pop("agents", [])
        products = entry.pop("nk_products", [])
        results = entry.pop("results", [])
        caveats = entry.pop("caveats", [])
        phase = entry.pop("phase", None)
        if phase is not None:
            if phase in PHASE_BY_LABEL:
                entry["phase"] = PHASE_BY_LABEL[phase]
            else:
                # Reported here, in the seed's own labels; the rest of the entry is still checked.
                self.problems.append(
                    f"{location}: phase {phase!r} is not one of {', '.join(PHASE_BY_LABEL)}."
                )
        trial = self._save(Trial, location, entry)
        if trial is None:
            return
        trial.conditions.set(self._conditions(conditions, location))
        trial.nk_products.set(self._lookup(NKCellProduct, products, location, "nk_products"))
        for link in agent_links:
            link = dict(link)
            agents = self._lookup(Agent, [link.pop("agent", None)], location, "agents")
            if agents:
                self._save(TrialAgent, location, {"trial": trial, "agent": agents[0], **link})
        for index, result in enumerate(results, start=1):
            result = dict(result)
            try:
                result["value"] = Decimal(str(result.get("value")))
            except InvalidOperation:
                self.problems.append(f"{location} result {index}: value must be a number.")
                continue
            self._save(Result, f"{location} result {index}", {"trial": trial, **result})
        for index, caveat in enumerate(caveats, start=1):
            caveat = dict(caveat)
            caveat_location = f"{location} caveat {index}"
            slug = caveat.pop("agent", None)
            if slug is not None:
                agents = self._lookup(Agent, [slug], caveat_location, "agent")
                if not agents:
                    continue
                caveat["agent"] = agents[0]
            self._save(Caveat, caveat_location, {"trial": trial, **caveat})

    def _save(self, model, location: str, entry: dict, provenance_fields=PROVENANCE_FIELDS):
        """Validate like a form would, then save; report any problem at `location`."""
        fields = dict(entry)
        provenance = fields.pop("provenance", None)
        if provenance is not None:
            if not isinstance(provenance, dict) or set(provenance) - set(provenance_fields):
                self.problems.append(
                    f"{location}: provenance takes only {', '.join(provenance_fields)}."
                )
                return None
            fields.update({provenance_fields[key]: value for key, value in provenance.items()})
        known = {field.name for field in model._meta.concrete_fields}
        unknown = sorted(set(fields) - known)
        if unknown:
            self.problems.append(f"{location}: unknown field(s) {', '.join(unknown)}.")
            return None
        instance = model(**fields)
        try:
            instance.full_clean()
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                label = "" if field == "__all__" else f"{field}: "
                self.problems.extend(f"{location}: {label}{message}" for message in messages)
            return None
        instance._change_reason = SEED_CHANGE_REASON
        instance.save()
        return instance

    def _lookup(self, model, slugs, location: str, field: str) -> list:
        if not isinstance(slugs, list):
            self.problems.append(f"{location}: {field} must be a list of slugs.")
            return []
        found = {obj.slug: obj for obj in model.objects.filter(slug__in=[s for s in slugs if s])}
        missing = [slug for slug in slugs if slug not in found]
        if missing:
            self.problems.append(
                f"{location}: {field} names unknown {model._meta.verbose_name} "
                f"{', '.join(map(str, missing))}."
            )
        return [found[slug] for slug in slugs if slug in found]

    def _conditions(self, names, location: str) -> list[Condition]:
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            self.problems.append(f"{location}: conditions must be a list of names.")
            return []
        conditions = []
        for name in names:
            condition = Condition.objects.filter(slug=slugify(name)).first()
            if condition is None:
                self.problems.append(
                    f"{location}: condition {name!r} is not in conditions.yaml: give it its "
                    "place in the hierarchy there."
                )
                continue
            if condition.name != name:
                self.problems.append(
                    f"{location}: condition {name!r} differs from {condition.name!r} "
                    "only in spelling; use one."
                )
            conditions.append(condition)
        return conditions


def _cycle_through(slug, parents: dict) -> list[str]:
    """The slugs of the cycle of `parents` ({slug: parent slug}) that `slug` lies in or below,
    from where it closes; none where following parents reaches the top."""
    seen = []
    while slug in parents and slug not in seen:
        seen.append(slug)
        slug = parents[slug]
    return [*seen[seen.index(slug) :], slug] if slug in seen else []
