"""import_ctgov: creates new trials, diffs existing ones, applies on request, all or nothing."""

import copy
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from nkkb.core.accounts import curator_create
from trials.models import Condition, Trial
from trials.services.ctgov_import import CTGOV_CHANGE_REASON, CTGOV_IMPORT_USERNAME

from .test_admin import admin_url, form_data
from .test_validate_kb import validate_kb

pytestmark = pytest.mark.django_db

STUDIES = Path(__file__).parent / "ctgov"
NEW_STUDY = STUDIES / "NCT09900001.json"
EXISTING_STUDY = STUDIES / "NCT02138734.json"
PAGE = STUDIES / "studies_page.json"


def import_ctgov(*arguments) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_ctgov", *map(str, arguments), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def knowledge_base_state():
    trials = Trial.objects.order_by("nct_id").values()
    return list(trials), Condition.objects.count(), Trial.history.count()


def test_a_new_study_becomes_a_trial_with_registry_provenance_and_history():
    out, _ = import_ctgov(NEW_STUDY)

    trial = Trial.objects.get(nct_id="NCT09900001")
    assert (trial.title, trial.phase, trial.status, trial.enrollment, trial.start_year) == (
        "N-803 With Pembrolizumab in Advanced Non-small Cell Lung Cancer",
        "1-2",
        "RECRUITING",
        40,
        2025,
    )
    assert [c.name for c in trial.conditions.all()] == ["Non-small Cell Lung Cancer"]
    assert {(link.agent.slug, link.role) for link in trial.trial_agents.all()} == {
        ("n-803", "investigational"),
        ("pembrolizumab", "investigational"),
    }
    assert trial.source_summary.startswith("Imported from ClinicalTrials.gov (NCT09900001")
    assert (trial.source_section, trial.source_quote) == ("", "")
    assert "interventions not in the knowledge base: Cyclophosphamide" in out
    records = [*trial.history.all(), *Condition.history.filter(name="Non-small Cell Lung Cancer")]
    assert {(r.history_user.username, r.history_change_reason) for r in records} == {
        (CTGOV_IMPORT_USERNAME, CTGOV_CHANGE_REASON)
    }
    # Registry provenance is honest provenance: the knowledge base stays valid.
    assert validate_kb() == (True, ["The knowledge base is valid."])


def test_a_page_of_studies_is_read_and_known_conditions_and_products_are_reused():
    conditions = Condition.objects.count()

    out, _ = import_ctgov(PAGE)

    trial = Trial.objects.get(nct_id="NCT09900002")
    assert trial.phase == "1"  # CT.gov's Early Phase 1 is phase I in the review's vocabulary
    assert [product.slug for product in trial.nk_products.all()] == ["nk-92"]
    assert "Acute myeloid leukemia" in [c.name for c in trial.conditions.all()]
    assert Condition.objects.count() == conditions + 1
    assert "NCT03019640: matches ClinicalTrials.gov." in out


def test_an_existing_trial_is_diffed_field_by_field_and_left_alone_without_apply():
    before = knowledge_base_state()

    out, _ = import_ctgov(EXISTING_STUDY)

    assert out.splitlines() == [
        "NCT02138734: differs from ClinicalTrials.gov:",
        "  status: (empty) -> Completed",
        "  enrollment: 9 -> 10",
        "Nothing was changed in existing trials; run again with --apply.",
    ]
    assert knowledge_base_state() == before


def test_apply_writes_the_registry_values_as_the_import_user_and_keeps_curated_fields():
    trial = Trial.objects.get(nct_id="NCT02138734")
    curated = (trial.title, trial.phase, trial.status_note, list(trial.conditions.all()))

    out, _ = import_ctgov(EXISTING_STUDY, "--apply")

    assert "NCT02138734: updated:" in out
    trial.refresh_from_db()
    assert (trial.status, trial.enrollment, trial.start_year) == ("COMPLETED", 10, 2014)
    # "Ib" says what CT.gov's PHASE1 says, more precisely; titles and conditions are curated.
    assert (trial.title, trial.phase, trial.status_note, list(trial.conditions.all())) == curated
    latest = trial.history.latest()
    assert (latest.history_user.username, latest.history_change_reason) == (
        CTGOV_IMPORT_USERNAME,
        CTGOV_CHANGE_REASON,
    )
    assert import_ctgov(EXISTING_STUDY)[0] == "NCT02138734: matches ClinicalTrials.gov.\n"


def with_change(path: str, value):
    """A copy of the new study with the field at `path` set to `value` (None: removed)."""

    def change(study):
        study = copy.deepcopy(study)
        *parents, name = path.split(".")
        node = study
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[name]
        else:
            node[name] = value
        return json.dumps(study)

    return change


IDENTIFICATION = "protocolSection.identificationModule"
DESIGN = "protocolSection.designModule"
INTERVENTIONS = "protocolSection.armsInterventionsModule.interventions"


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (lambda study: "{not json", "is not valid JSON (line 1"),
        (lambda study: '{"study": {}}', "is neither a study record"),
        (lambda study: '{"studies": {}}', "studies: must be a list of study records."),
        (
            lambda study: json.dumps({"studies": [study, {"protocolSection": {}}]}),
            f"studies[1].{IDENTIFICATION}.nctId: is missing.",
        ),
        (with_change(f"{IDENTIFICATION}.nctId", None), f"{IDENTIFICATION}.nctId: is missing."),
        (
            with_change(f"{IDENTIFICATION}.nctId", "NCT123"),
            "nctId: 'NCT123' is not an NCT number. NCT number must be 'NCT'",
        ),
        (
            with_change("protocolSection.statusModule.overallStatus", "FINISHED"),
            "statusModule.overallStatus: 'FINISHED' is not one of NOT_YET_RECRUITING",
        ),
        (
            with_change(f"{DESIGN}.phases", ["PHASE1", "PHASE3"]),
            "designModule.phases: ['PHASE1', 'PHASE3'] is not a ClinicalTrials.gov phase",
        ),
        (
            with_change(f"{DESIGN}.enrollmentInfo.count", "forty"),
            "enrollmentInfo.count: must be a whole number, not 'forty'.",
        ),
        (with_change(f"{DESIGN}.enrollmentInfo.count", -1), "enrollmentInfo.count: is negative."),
        (
            with_change("protocolSection.statusModule.startDateStruct.date", "soon"),
            "startDateStruct.date: 'soon' is not a date",
        ),
        (
            with_change("protocolSection.conditionsModule.conditions", "Lung cancer"),
            "conditionsModule.conditions: must be a list, not 'Lung cancer'.",
        ),
        (with_change(f"{INTERVENTIONS}.0.name", None), f"{INTERVENTIONS}[0].name: is missing."),
        (
            with_change("protocolSection.armsInterventionsModule", {"interventions": []}),
            "interventions: names no agent or NK cell product of the knowledge base",
        ),
    ],
    ids=[
        "json",
        "shape",
        "page",
        "page-entry",
        "no-nct",
        "nct-format",
        "status",
        "phases",
        "enrollment",
        "negative",
        "date",
        "conditions",
        "intervention",
        "unlinked",
    ],
)
def test_a_malformed_file_is_reported_by_file_and_field_and_nothing_is_imported(
    tmp_path, make_file, message
):
    study = json.loads(NEW_STUDY.read_text())
    study[IDENTIFICATION.split(".")[0]]["identificationModule"]["nctId"] = "NCT09900003"
    bad = tmp_path / "bad.json"
    bad.write_text(make_file(study))
    before = knowledge_base_state()

    # The good files come first: what they would have written is undone too.
    with pytest.raises(CommandError) as error:
        import_ctgov("--apply", NEW_STUDY, EXISTING_STUDY, bad)

    assert f"{bad}: " in str(error.value) and message in str(error.value)
    assert knowledge_base_state() == before


def test_a_study_given_twice_is_refused(tmp_path):
    copy_of_new = tmp_path / "again.json"
    copy_of_new.write_text(NEW_STUDY.read_text())
    with pytest.raises(CommandError, match=f"{copy_of_new}: NCT09900001 is also in {NEW_STUDY}"):
        import_ctgov(NEW_STUDY, copy_of_new)
    assert not Trial.objects.filter(nct_id="NCT09900001").exists()


def test_many_files_show_a_progress_bar():
    _, err = import_ctgov(NEW_STUDY, EXISTING_STUDY, PAGE)
    assert "Reading" in err and "3/3" in err
    assert import_ctgov(EXISTING_STUDY)[1] == ""


def test_an_imported_trial_is_edited_in_admin_without_inventing_review_provenance(client):
    import_ctgov(NEW_STUDY)
    trial = Trial.objects.get(nct_id="NCT09900001")
    client.force_login(curator_create(username="carol", password="lantern-orbit-velvet-42"))

    data = form_data(client.get(admin_url(Trial, "change", trial.pk)))
    data["status"] = "ACTIVE_NOT_RECRUITING"
    response = client.post(admin_url(Trial, "change", trial.pk), data)

    assert response.status_code == 302
    trial.refresh_from_db()
    assert (trial.status, trial.source_section, trial.source_quote) == (
        "ACTIVE_NOT_RECRUITING",
        "",
        "",
    )
