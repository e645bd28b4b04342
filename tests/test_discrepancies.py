"""trials.discrepancies and registry_report: where the registry and the curators differ."""

import csv
import io
import math
from dataclasses import asdict
from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.core.management import call_command

import trials.discrepancies
from agents.models import Agent
from registry.matching import normalise_name, split_names
from registry.models import RegistryRecord
from registry.services import registry_snapshot_load
from trials.discrepancies import Discrepancy, discrepancies, trial_discrepancies
from trials.models import Trial, TrialAgent

pytestmark = pytest.mark.django_db

SNAPSHOT = settings.NKKB_FIXTURES_DIR / "registry" / "snapshot.json"


@pytest.fixture
def trial() -> Trial:
    """A seeded trial, its curated facts cleared (in memory only) for each case to set."""
    trial = Trial.objects.get(nct_id="NCT05096663")
    trial.phase = trial.status = trial.enrollment = None
    trial.last_updated = datetime(2024, 3, 31, 12, tzinfo=UTC)
    return trial


def found(trial: Trial, **registry) -> list[tuple[str, str]]:
    record = RegistryRecord(nct_id=trial.nct_id, source_kind="mirror", **registry)
    return [(d.field, d.kind) for d in trial_discrepancies(trial, record)]


@pytest.mark.parametrize(
    ("curated", "phases", "expected"),
    [
        # The review names the first part of the registry's range, more precisely: consistent.
        ("1b", ["PHASE1"], []),
        ("1b", ["PHASE1", "PHASE2"], []),
        ("1-2a", ["PHASE1", "PHASE2"], []),
        ("1b-2", ["PHASE1", "PHASE2"], []),
        ("1", ["PHASE1", "PHASE2"], []),
        ("1", ["EARLY_PHASE1"], []),
        ("1-2", ["PHASE1", "PHASE2"], []),
        ("2-3", ["PHASE2", "PHASE3"], []),
        # The review leaves out the start of the registry's range, or reaches outside it.
        ("2", ["PHASE1", "PHASE2"], [("phase", "conflict")]),
        ("3", ["PHASE2", "PHASE3"], [("phase", "conflict")]),
        ("1-2", ["PHASE2"], [("phase", "conflict")]),
        ("1-2", ["PHASE1"], [("phase", "conflict")]),
        ("1b-2", ["PHASE1"], [("phase", "conflict")]),
        ("2", ["PHASE3"], [("phase", "conflict")]),
        ("4", ["PHASE3"], [("phase", "conflict")]),
        # Either side silent (NA is no phase): nothing to compare.
        ("3", ["NA"], []),
        ("3", [], []),
        ("3", None, []),
        (None, ["PHASE1"], []),
    ],
)
def test_phase(trial, curated, phases, expected):
    trial.phase = curated

    assert found(trial, phases=phases) == expected


def test_a_phase_conflict_shows_both_sides():
    trial = Trial.objects.get(nct_id="NCT05096663")
    trial.phase = "1-2"
    record = RegistryRecord(nct_id=trial.nct_id, phases=["PHASE2"], as_of=date(2025, 1, 2))

    (discrepancy,) = [d for d in trial_discrepancies(trial, record) if d.field == "phase"]

    assert discrepancy == Discrepancy(
        "NCT05096663",
        "phase",
        "conflict",
        "I/II",
        "Phase 2",
        "The review says phase I/II; the registry (as of 2025-01-02) says Phase 2.",
    )


@pytest.mark.parametrize(
    ("curated", "registry", "expected"),
    [
        ("COMPLETED", "RECRUITING", [("status", "backward")]),
        ("TERMINATED", "ACTIVE_NOT_RECRUITING", [("status", "backward")]),
        ("WITHDRAWN", "NOT_YET_RECRUITING", [("status", "backward")]),
        ("COMPLETED", "ENROLLING_BY_INVITATION", [("status", "backward")]),
        # The registry has moved on since the review, or says something else: a conflict.
        ("RECRUITING", "COMPLETED", [("status", "conflict")]),
        ("COMPLETED", "SUSPENDED", [("status", "conflict")]),
        ("COMPLETED", "TERMINATED", [("status", "conflict")]),
        ("ACTIVE_NOT_RECRUITING", "UNKNOWN", [("status", "conflict")]),
        ("COMPLETED", "COMPLETED", []),
        (None, "RECRUITING", []),
        ("COMPLETED", None, []),
    ],
)
def test_status(trial, curated, registry, expected):
    trial.status = curated

    assert found(trial, overall_status=registry) == expected


@pytest.mark.parametrize(
    ("curated", "registry", "registry_type", "expected"),
    [
        (22, 40, "ACTUAL", [("enrollment", "conflict")]),
        # An estimate is a plan, never preferred to the review's figure: only noted.
        (22, 40, "ESTIMATED", [("enrollment", "estimate")]),
        (22, 40, None, [("enrollment", "untyped")]),
        (22, 22, "ESTIMATED", []),
        (22, 22, "ACTUAL", []),
        (None, 40, "ACTUAL", []),
        (22, None, None, []),
    ],
)
def test_enrollment(trial, curated, registry, registry_type, expected):
    trial.enrollment = curated

    assert found(trial, enrollment=registry, enrollment_type=registry_type) == expected


def intervention(name: str, *other_names: str, kind="DRUG") -> dict:
    return {"type": kind, "name": name, "other_names": list(other_names)}


def test_registry_interventions_are_matched_by_normalised_name_and_split_combinations(trial):
    # The trial is linked to N-803, a cancer vaccine and pembrolizumab; link two more.
    for slug in ("daratumumab", "il-2"):
        TrialAgent.objects.create(trial=trial, agent=Agent.objects.get(slug=slug))

    record = RegistryRecord(
        nct_id=trial.nct_id,
        interventions=[
            intervention("Daratumumab SC"),
            intervention("IL-2 (aldesleukin)", kind="BIOLOGICAL"),
            intervention("Pembrolizumab + Carboplatin + Pemetrexed"),
            intervention("ALT-803", "N-803", kind="BIOLOGICAL"),
            intervention("Aldesleukin (Interleukin-2)"),
            intervention("Placebo", kind="OTHER"),
        ],
    )

    unlinked = [(d.field, d.kind, d.registry) for d in trial_discrepancies(trial, record)]

    assert unlinked == [
        ("interventions", "unlinked", "Carboplatin"),
        ("interventions", "unlinked", "Pemetrexed"),
        ("interventions", "unlinked", "Placebo"),
    ]


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("Daratumumab SC", "daratumumab"),
        ("daratumumab IV", "daratumumab"),
        ("IL-2 (aldesleukin)", "il2"),
        ("IL 2", "il2"),
        ("N-803", "n803"),
        ("Anti-PD(L)1", "antipdl1"),
        ("FT576 [BCMA CAR NK]", "ft576"),
    ],
)
def test_normalise_name(name, normalised):
    assert normalise_name(name) == normalised


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        (
            "Pembrolizumab + Carboplatin + Pemetrexed",
            ["Pembrolizumab", "Carboplatin", "Pemetrexed"],
        ),
        ("Fludarabine and Cyclophosphamide", ["Fludarabine", "Cyclophosphamide"]),
        ("Nivolumab or Pembrolizumab", ["Nivolumab", "Pembrolizumab"]),
        ("Gemcitabine/Abraxane", ["Gemcitabine", "Abraxane"]),
        ("Monalizumab", ["Monalizumab"]),
    ],
)
def test_split_names(name, parts):
    assert split_names(name) == parts


@pytest.mark.parametrize(
    ("registry", "expected"),
    [
        ({"last_update_posted": "2024-04-01"}, [("last_updated", "updated")]),
        # A month's date is after a day only if all of the month is.
        ({"last_update_posted": "2024-04"}, [("last_updated", "updated")]),
        ({"last_update_posted": "2024-03"}, []),
        ({"last_update_posted": "2024-03-31"}, []),
        ({"as_of": date(2024, 5, 1)}, [("last_updated", "updated")]),
        ({"as_of": date(2024, 3, 1)}, []),
        ({}, []),
    ],
)
def test_a_registry_record_updated_after_the_curated_data(trial, registry, expected):
    assert found(trial, **registry) == expected


def test_a_trial_without_a_registry_record_has_no_discrepancy(trial):
    trial.phase, trial.status = "2", "COMPLETED"

    assert trial_discrepancies(trial, None) == []
    assert discrepancies(Trial.objects.filter(pk=trial.pk)) == []


def test_discrepancies_of_all_trials_take_a_fixed_number_of_queries_per_batch(
    django_assert_num_queries, monkeypatch
):
    registry_snapshot_load(path=SNAPSHOT)
    # The trials' ids, then three reads per batch of trials.
    with django_assert_num_queries(4):
        many = discrepancies()
    recorded = RegistryRecord.objects.filter(nct_id__in=Trial.objects.values("nct_id")).count()
    monkeypatch.setattr(trials.discrepancies, "BATCH_SIZE", 4)
    with django_assert_num_queries(1 + 3 * math.ceil(recorded / 4)):
        assert discrepancies() == many
    RegistryRecord.objects.exclude(nct_id__in=["NCT04590963", "NCT05221840"]).delete()

    with django_assert_num_queries(4):
        two = discrepancies()

    assert len({d.nct_id for d in many}) > len({d.nct_id for d in two}) == 2
    assert two == [d for d in many if d.nct_id in ("NCT04590963", "NCT05221840")]


# registry_report


def registry_report(*arguments) -> str:
    out = io.StringIO()
    call_command("registry_report", *arguments, stdout=out)
    return out.getvalue()


@pytest.fixture
def loaded():
    registry_snapshot_load(path=SNAPSHOT)
    return discrepancies()


def test_the_report_lists_the_seed_discrepancies_as_text(loaded):
    records = list(RegistryRecord.objects.values())

    lines = registry_report().splitlines()

    assert len(lines) == len(loaded) + 1
    assert (
        "NCT04590963  status  backward  curated: Terminated  registry: Active, not recruiting  "
        "Curated as Terminated, but the registry (as of 2022-10-24) still shows Active, "
        "not recruiting: an older registry copy, or a trial reopened."
    ) in lines
    assert (
        "NCT05221840  enrollment  estimate  curated: 189  registry: 999 (Estimated)  "
        "The review gives 189 participants; the registry (as of 2024-04-16) gives an estimated "
        "(planned) enrollment of 999."
    ) in lines
    kinds = [d.kind for d in loaded]
    summary = ", ".join(
        f"{kinds.count(kind)} {kind}"
        for kind in ("conflict", "backward", "estimate", "untyped", "unlinked", "updated")
        if kind in kinds
    )
    assert lines[-1] == (
        f"{len(loaded)} discrepancies in {len({d.nct_id for d in loaded})} trials: {summary}."
    )
    assert list(RegistryRecord.objects.values()) == records


def test_the_report_as_csv(loaded):
    rows = list(csv.DictReader(io.StringIO(registry_report("--format", "csv"))))

    assert rows == [
        {key: "" if value is None else value for key, value in asdict(d).items()} for d in loaded
    ]


def test_the_report_filters_by_kind_and_trial(loaded):
    rows = list(
        csv.DictReader(
            io.StringIO(
                registry_report(
                    "--format", "csv", "--kind", "backward", "--nct", "NCT04590963", "NCT02321592"
                )
            )
        )
    )

    assert [(row["nct_id"], row["field"], row["kind"]) for row in rows] == [
        ("NCT02321592", "status", "backward"),
        ("NCT04590963", "status", "backward"),
    ]
    assert registry_report("--kind", "updated").splitlines() == ["0 discrepancies in 0 trials."]


def test_a_record_deleted_while_discrepancies_are_compared_leaves_its_trial_without_any(
    monkeypatch,
):
    registry_snapshot_load(path=SNAPSHOT)
    expected = [d for d in discrepancies() if d.nct_id != "NCT04590963"]
    read_records = trials.discrepancies.RECORDS.__call__

    def records_read_after_a_deletion(ids):
        RegistryRecord.objects.filter(nct_id="NCT04590963").delete()
        return read_records(ids)

    monkeypatch.setattr(trials.discrepancies, "RECORDS", records_read_after_a_deletion)
    assert discrepancies() == expected
