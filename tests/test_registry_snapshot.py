"""registry_snapshot_load: registry records beside the curated trials, all or nothing, once."""

import io
import json
from datetime import date

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from nkkb.core.problems import ProblemsError
from registry.models import RegistryRecord
from registry.services import registry_snapshot_load
from trials.models import Trial, TrialAgent

pytestmark = pytest.mark.django_db

SNAPSHOT = settings.NKKB_FIXTURES_DIR / "registry" / "snapshot.json"


def entries() -> list[dict]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))["trials"]


def curated_state():
    """Every curated trial row and agent link, as stored."""
    return (
        list(Trial.objects.order_by("nct_id").values()),
        list(TrialAgent.objects.order_by("pk").values()),
        Trial.history.count(),
    )


def registry_state():
    return (
        list(RegistryRecord.objects.order_by("nct_id").values()),
        RegistryRecord.history.count(),
    )


@pytest.fixture(autouse=True)
def no_registry_records():
    """The seed loads the snapshot; these tests load it themselves, into a knowledge base
    without registry records (rolled back after each test)."""
    RegistryRecord.objects.all().delete()


def test_each_trial_with_a_source_gets_a_record_as_the_file_says():
    report = registry_snapshot_load(path=SNAPSHOT)

    sourced = {entry["nct_id"]: entry for entry in entries() if entry["source_kind"]}
    records = {record.nct_id: record for record in RegistryRecord.objects.all()}
    assert set(records) == set(sourced)
    assert len(records) == 27
    assert report.counts == {
        "created": 27,
        "updated": 0,
        "unchanged": 0,
        "kept_live": 0,
        "without_source": 31,
    }
    for nct_id, record in records.items():
        entry = sourced[nct_id]
        assert record.source_url == entry["source_url"]
        assert record.as_of == (entry["as_of"] and date.fromisoformat(entry["as_of"]))
        assert record.raw == entry
        assert record.source_conflicts == entry["conflicts_between_sources"]
    # Each is the record of the trial with its NCT number, and only of those trials.
    assert Trial.objects.filter(nct_id__in=records).count() == 27
    unsourced = Trial.objects.filter(
        nct_id__in=[e["nct_id"] for e in entries() if not e["source_kind"]]
    )
    assert [trial.registry_record for trial in unsourced] == [None] * 31


def test_a_loaded_record_reads_as_the_registry_says():
    registry_snapshot_load(path=SNAPSHOT)

    record = RegistryRecord.objects.get(nct_id="NCT05086315")
    assert (record.phases, record.overall_status) == (["PHASE1", "PHASE2"], "RECRUITING")
    assert (record.enrollment, record.enrollment_type) == (82, "ESTIMATED")
    assert (record.start_date, record.start_date_type, record.start_year) == (
        "2021-12-08",
        "ACTUAL",
        2021,
    )
    assert (record.source_kind, record.source_name) == ("archived-page", "ClinicalTrials.gov")
    assert record.history.get().history_change_reason == "Registry snapshot"


def test_curated_trials_are_unchanged_by_the_load():
    before = curated_state()

    registry_snapshot_load(path=SNAPSHOT)

    assert curated_state() == before


def test_loading_twice_changes_nothing():
    registry_snapshot_load(path=SNAPSHOT)
    before = registry_state()

    report = registry_snapshot_load(path=SNAPSHOT)

    assert registry_state() == before
    assert (report.counts["created"], report.counts["updated"], report.counts["unchanged"]) == (
        0,
        0,
        27,
    )


def write_snapshot(tmp_path, change) -> str:
    data = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    change(data["trials"])
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def entry(trials: list[dict], nct_id: str) -> dict:
    return next(e for e in trials if e["nct_id"] == nct_id)


def test_a_changed_value_updates_its_record_with_one_history_row(tmp_path):
    registry_snapshot_load(path=SNAPSHOT)
    path = write_snapshot(
        tmp_path,
        lambda trials: entry(trials, "NCT05086315")["fields"].update(overall_status="TERMINATED"),
    )

    report = registry_snapshot_load(path=path)

    assert (report.updated, len(report.unchanged)) == (["NCT05086315"], 26)
    record = RegistryRecord.objects.get(nct_id="NCT05086315")
    assert record.overall_status == "TERMINATED"
    assert record.history.count() == 2


def test_a_broken_snapshot_writes_nothing_and_names_nct_number_field_and_value(tmp_path):
    def break_it(trials):
        entry(trials, "NCT04623944")["fields"]["phases"] = ["Phase 5"]
        entry(trials, "NCT02321592")["fields"]["start_date"] = "sometime in 2015"

    path = write_snapshot(tmp_path, break_it)
    history = RegistryRecord.history.count()

    with pytest.raises(ProblemsError) as raised:
        registry_snapshot_load(path=path)

    assert RegistryRecord.objects.count() == 0
    assert RegistryRecord.history.count() == history
    problems = raised.value.problems
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}: NCT02321592: start_date: 'sometime in 2015' is not")
    assert problems[1].startswith(f"{path}: NCT04623944: phases: 'Phase 5' is not a phase")
    assert "(at trials[" in problems[1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1"),
        ('{"studies": []}', "is not a registry snapshot"),
    ],
)
def test_a_file_that_is_no_snapshot_is_reported(tmp_path, content, message):
    path = tmp_path / "snapshot.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ProblemsError) as raised:
        registry_snapshot_load(path=path)

    assert message in raised.value.problems[0]


def test_a_record_read_from_the_registry_itself_is_not_replaced_by_the_snapshot():
    trial = Trial.objects.get(nct_id="NCT05086315")
    live = RegistryRecord.objects.create(
        nct_id=trial.nct_id, source_kind="api", overall_status="TERMINATED"
    )

    report = registry_snapshot_load(path=SNAPSHOT)

    assert report.kept_live == ["NCT05086315"]
    live.refresh_from_db()
    assert (live.source_kind, live.overall_status) == ("api", "TERMINATED")


def test_the_command_loads_the_snapshot_from_the_fixtures_and_reports_counts():
    out = io.StringIO()

    call_command("load_registry_snapshot", stdout=out)

    assert out.getvalue() == (
        f"Registry snapshot {SNAPSHOT}: 27 records created, 0 updated, 0 unchanged; "
        "31 trials without a source (not yet synced).\n"
    )
    assert RegistryRecord.objects.count() == 27


def test_the_command_lists_the_problems_of_a_broken_snapshot(tmp_path):
    path = write_snapshot(
        tmp_path,
        lambda trials: entry(trials, "NCT04623944")["fields"].update(enrollment="forty"),
    )

    with pytest.raises(CommandError, match="NCT04623944: enrollment: 'forty'"):
        call_command("load_registry_snapshot", "--path", str(path))


def deep(levels: int):
    node = "bottom"
    for _ in range(levels):
        node = [node]
    return node


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("brief_title", "A title\x00"),
        ("brief_title", "x" * 501),
        ("nct_id", "NCT123"),
        ("phases", ["PHASE1", "PHASE3"]),
        ("phases", ["PHASE2", "PHASE1"]),
        ("start_date", "2021-13"),
        ("start_date", "December 2015"),
        ("first_posted", "2021-02-30"),
        ("overall_status", "FINISHED"),
        ("enrollment_type", "GUESSED"),
        ("conditions", ["Melanoma"] * 501),
        ("conditions", ["Melanoma", ""]),
        ("conditions", "Melanoma"),
        ("countries", ["Germany\x00"]),
        ("interventions", [{"type": "DRUG", "name": "X"}]),
        ("interventions", [{"type": "PILL", "name": "X", "other_names": []}]),
        ("arm_groups", [{"label": "A", "type": "Experimental", "interventions": None}]),
        ("field_sources", {"not_a_field": "https://example.org"}),
        ("raw", {"text": "\x00"}),
        ("raw", deep(40)),
        ("source_conflicts", ["x" * 1_000_001]),
    ],
)
def test_a_record_refuses_values_out_of_bounds(field, value):
    record = RegistryRecord(**{"nct_id": "NCT02138734", "source_kind": "mirror", field: value})

    with pytest.raises(ValidationError) as raised:
        record.full_clean(validate_unique=False)

    assert field in raised.value.message_dict


def test_a_record_type_needs_its_date():
    record = RegistryRecord(nct_id="NCT02138734", source_kind="mirror", start_date_type="ACTUAL")

    with pytest.raises(ValidationError, match="start_date_type needs a start_date"):
        record.full_clean(validate_unique=False)
