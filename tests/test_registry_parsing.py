"""registry.parsing: every format the snapshot uses is read; what cannot be read is reported."""

import copy
import json
from datetime import date

import pytest
from django.conf import settings

from registry.models import RegistryRecord
from registry.parsing import (
    RECORD_FIELDS,
    SNAPSHOT_FIELDS,
    ParseError,
    ParseErrors,
    parse_allocation,
    parse_country,
    parse_date,
    parse_enrollment,
    parse_intervention_label,
    parse_phases,
    parse_snapshot_entry,
    parse_sponsor,
    parse_status,
    parse_study,
    parse_study_type,
)

SNAPSHOT = settings.NKKB_FIXTURES_DIR / "registry" / "snapshot.json"


def snapshot_entries() -> list[dict]:
    return json.loads(SNAPSHOT.read_text(encoding="utf-8"))["trials"]


def test_the_fixture_is_the_shared_snapshot_unchanged():
    shared = settings.BASE_DIR.parent / "shared" / "registry" / "snapshot.json"
    if not shared.exists():
        pytest.skip(f"The shared snapshot is not at {shared}.")
    assert SNAPSHOT.read_bytes() == shared.read_bytes()


def test_every_snapshot_entry_is_read_without_a_problem():
    records = [parse_snapshot_entry(entry) for entry in snapshot_entries()]

    with_source = [record for record in records if record is not None]
    assert (len(with_source), records.count(None)) == (27, 31)
    for record in with_source:
        # What the parser gives is what the model accepts, field by field.
        RegistryRecord(**record).full_clean(validate_unique=False, validate_constraints=False)


def test_a_snapshot_entry_gives_its_values_and_provenance():
    entry = next(e for e in snapshot_entries() if e["nct_id"] == "NCT04101331")

    record = parse_snapshot_entry(entry)

    assert {field: record[field] for field in RECORD_FIELDS if record[field] is not None} == {
        "nct_id": "NCT04101331",
        "official_title": entry["fields"]["official_title"],
        "overall_status": "COMPLETED",
        "phases": ["PHASE2"],
        "primary_completion_date": "2022-05-11",
        "completion_date": "2024-01-11",
        "lead_sponsor": "Affimed GmbH",
        "countries": ["Spain", "Germany", "Poland", "Italy"],
        "secondary_ids": ["AFM13-202", "EudraCT 2019-001003-20"],
    }
    assert (record["source_kind"], record["as_of"], record["source_url"]) == (
        "other-registry",
        date(2024, 10, 17),
        entry["source_url"],
    )
    # The compiler's remarks are kept as notes, not lost and not part of the value.
    assert record["field_notes"] == {
        "overall_status": "EU DE record",
        "phases": "from title",
        "completion_date": "EU 'Global end of trial date'",
        "countries": "EU protocol countries",
    }
    assert record["raw"] == entry


def test_snapshot_source_kinds_and_field_sources_are_mapped():
    records = {
        entry["nct_id"]: parse_snapshot_entry(entry)
        for entry in snapshot_entries()
        if entry["source_kind"]
    }

    assert {(r["source_kind"], r["source_name"]) for r in records.values()} >= {
        ("archived-page", "ClinicalTrials.gov"),
        ("mirror", "meddatax.com"),
        ("mirror", "healthtree.org (trial listing; NCT in URL)"),
    }
    bladder = records["NCT02138734"]
    assert bladder["field_sources"]["first_posted"] == "https://clinconnect.io/trials/NCT02138734"
    assert len(bladder["source_conflicts"]) == 3
    afm13 = records["NCT02321592"]
    assert afm13["arm_groups"] == [
        {"label": "Arm A", "type": "ACTIVE_COMPARATOR", "interventions": ["Drug: AFM13"]}
    ]


@pytest.mark.parametrize(
    ("raw", "phases"),
    [
        ("Phase 1", ["PHASE1"]),
        ("PHASE1", ["PHASE1"]),
        ("Phase I", ["PHASE1"]),
        ("Phase II", ["PHASE2"]),
        ("Phase 3", ["PHASE3"]),
        ("Phase 4", ["PHASE4"]),
        ("Phase 1/Phase 2", ["PHASE1", "PHASE2"]),
        ("Phase 1/2", ["PHASE1", "PHASE2"]),
        ("Phase II/III", ["PHASE2", "PHASE3"]),
        ("Phase 2/Phase 3", ["PHASE2", "PHASE3"]),
        ("Early Phase 1", ["EARLY_PHASE1"]),
        ("EARLY_PHASE1", ["EARLY_PHASE1"]),
        ("N/A", ["NA"]),
        ("NA", ["NA"]),
        ("Not Applicable", ["NA"]),
        (["Phase 1", "Phase 2"], ["PHASE1", "PHASE2"]),
        (["PHASE2", "PHASE1"], ["PHASE1", "PHASE2"]),
        (["PHASE1", "Phase 1"], ["PHASE1"]),
        ([], []),
    ],
)
def test_phases(raw, phases):
    assert parse_phases(raw) == phases


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("RECRUITING", "RECRUITING"),
        ("Recruiting", "RECRUITING"),
        ("Active - Recruiting", "RECRUITING"),
        ("Active, not recruiting", "ACTIVE_NOT_RECRUITING"),
        ("ACTIVE_NOT_RECRUITING", "ACTIVE_NOT_RECRUITING"),
        ("closed to accrual", "ACTIVE_NOT_RECRUITING"),
        ("Not yet recruiting", "NOT_YET_RECRUITING"),
        ("Enrolling by invitation", "ENROLLING_BY_INVITATION"),
        ("Completed", "COMPLETED"),
        ("SUSPENDED", "SUSPENDED"),
        ("Unknown status", "UNKNOWN"),
        ("Unknown", "UNKNOWN"),
        ("Available", "AVAILABLE"),
        ("No longer available", "NO_LONGER_AVAILABLE"),
        ("TEMPORARILY_NOT_AVAILABLE", "TEMPORARILY_NOT_AVAILABLE"),
        ("Approved for marketing", "APPROVED_FOR_MARKETING"),
        ("Withheld", "WITHHELD"),
    ],
)
def test_statuses(raw, status):
    assert parse_status(raw) == status


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2021-12-08", ("2021-12-08", None)),
        ("2021-12", ("2021-12", None)),
        ("2021", ("2021", None)),
        ("December 2015", ("2015-12", None)),
        ("Dec 2015", ("2015-12", None)),
        ("December 8, 2015", ("2015-12-08", None)),
        ("May 13, 2014", ("2014-05-13", None)),
        ("2021-12-08 (Actual)", ("2021-12-08", "ACTUAL")),
        ("May 13, 2014 (Estimated)", ("2014-05-13", "ESTIMATED")),
        ("July 2023 (Estimated)", ("2023-07", "ESTIMATED")),
        ("2026-05-29 (Anticipated)", ("2026-05-29", "ESTIMATED")),
    ],
)
def test_dates_keep_their_precision_and_type(raw, expected):
    assert parse_date(raw, field="start_date") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (40, (40, None)),
        (0, (0, None)),
        ("40", (40, None)),
        ("40 (Estimated)", (40, "ESTIMATED")),
        ("40 (Actual)", (40, "ACTUAL")),
    ],
)
def test_enrollment(raw, expected):
    assert parse_enrollment(raw) == expected


@pytest.mark.parametrize(
    ("parse", "raw", "expected"),
    [
        (parse_study_type, "Interventional (Clinical Trial)", "INTERVENTIONAL"),
        (parse_study_type, "Interventional", "INTERVENTIONAL"),
        (parse_study_type, "EXPANDED_ACCESS", "EXPANDED_ACCESS"),
        (parse_allocation, "Non-Randomized", "NON_RANDOMIZED"),
        (parse_allocation, "N/A", "NA"),
        (parse_allocation, "NA", "NA"),
        (
            parse_sponsor,
            "Medicenna Therapeutics, Inc. (industry)",
            ("Medicenna Therapeutics, Inc.", "INDUSTRY"),
        ),
        (
            parse_sponsor,
            "National Cancer Institute (NCI)",
            ("National Cancer Institute (NCI)", None),
        ),
        (parse_country, "DE", "Germany"),
        (parse_country, "Canada", "Canada"),
        (
            parse_intervention_label,
            "Drug: FT576 (Allogenic CAR NK cells with BCMA expression)",
            {
                "type": "DRUG",
                "name": "FT576 (Allogenic CAR NK cells with BCMA expression)",
                "other_names": [],
            },
        ),
        (
            parse_intervention_label,
            "Gemcitabine",
            {"type": None, "name": "Gemcitabine", "other_names": []},
        ),
    ],
)
def test_other_value_formats(parse, raw, expected):
    assert parse(raw) == expected


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (parse_phases, "Phase 5"),
        (parse_phases, "Phase 1b"),
        (parse_phases, "Early Phase 2"),
        (parse_phases, ["PHASE1", "PHASE3"]),
        (parse_phases, ["NA", "PHASE2"]),
        (parse_phases, 2),
        (parse_status, "sometime"),
        (parse_status, "Recruitment Complete"),
        (parse_enrollment, "forty"),
        (parse_enrollment, -1),
        (parse_enrollment, True),
        (parse_enrollment, "40 (Guessed)"),
        (parse_study_type, "Interventionalish"),
        (parse_country, "XX"),
    ],
)
def test_unreadable_values_are_reported_with_field_and_raw_value(parse, raw):
    with pytest.raises(ParseError) as error:
        parse(raw)

    assert error.value.raw == raw
    assert error.value.field == parse.__kwdefaults__["field"]
    assert repr(raw) in str(error.value)


@pytest.mark.parametrize(
    "raw", ["sometime in 2015", "2015-02-30", "Smarch 2015", "15/03/2015", "2015-1", 2015]
)
def test_unreadable_dates_are_reported(raw):
    with pytest.raises(ParseError) as error:
        parse_date(raw, field="completion_date")

    assert (error.value.field, error.value.raw) == ("completion_date", raw)


def snapshot_entry(**fields) -> dict:
    return {
        "nct_id": "NCT02138734",
        "source_url": "https://clinicaltrials.gov/ct2/show/NCT02138734",
        "source_kind": "registry page",
        "as_of": "2022-01-21",
        "fields": fields,
        "field_sources": {},
        "conflicts_between_sources": [],
    }


def test_a_snapshot_entry_reports_every_unreadable_value_by_its_path():
    entry = snapshot_entry(
        phases=["Phase 1", "Phase 5 (from title)"],
        overall_status="Finished-ish",
        start_date="sometime in 2015",
        enrollment="forty",
        conditions=["Melanoma", 7],
        surprise="?",
    )

    with pytest.raises(ParseErrors) as raised:
        parse_snapshot_entry(entry)

    found = {(error.field, error.path, error.raw) for error in raised.value.errors}
    assert found == {
        ("phases", "fields.phases", "Phase 5 (from title)"),
        ("overall_status", "fields.overall_status", "Finished-ish"),
        ("start_date", "fields.start_date", "sometime in 2015"),
        ("enrollment", "fields.enrollment", "forty"),
        ("conditions", "fields.conditions[1]", 7),
        ("surprise", "fields.surprise", "?"),
    }
    assert raised.value.nct_id == "NCT02138734"


def test_a_remark_is_split_off_only_where_the_value_reads_without_it():
    record = parse_snapshot_entry(
        snapshot_entry(
            phases=["Phase I (from official title)"],
            last_update_posted="2022-12-09 ('updated by: Kevin Conlon, MD, NCI (NIH)')",
            conditions=["Acute Myeloid Leukemia (from title)", "Adult T-Cell Leukemia (ATL)"],
            lead_sponsor="M.D. Anderson Cancer Center (Responsible Party)",
        )
    )

    assert record["phases"] == ["PHASE1"]
    assert record["last_update_posted"] == "2022-12-09"
    # A name's own brackets are part of it.
    assert record["conditions"] == ["Acute Myeloid Leukemia", "Adult T-Cell Leukemia (ATL)"]
    assert record["lead_sponsor"] == "M.D. Anderson Cancer Center"
    assert record["field_notes"] == {
        "phases": "from official title",
        "last_update_posted": "'updated by: Kevin Conlon, MD, NCI (NIH)'",
        "conditions": "from title",
        "lead_sponsor": "Responsible Party",
    }


def test_an_enrollment_worded_with_its_type_must_agree_with_enrollment_type():
    agreed = parse_snapshot_entry(snapshot_entry(enrollment="40 (Estimated)"))
    assert (agreed["enrollment"], agreed["enrollment_type"]) == (40, "ESTIMATED")

    with pytest.raises(ParseErrors) as raised:
        parse_snapshot_entry(snapshot_entry(enrollment="40 (Estimated)", enrollment_type="Actual"))
    assert [error.field for error in raised.value.errors] == ["enrollment_type"]


def test_an_entry_without_a_source_gives_no_record_and_may_state_nothing():
    empty = {**snapshot_entry(brief_title=None), "source_kind": None, "source_url": None}
    assert parse_snapshot_entry(empty) is None

    with pytest.raises(ParseErrors, match="source_kind"):
        parse_snapshot_entry({**empty, "fields": {"brief_title": "A title from nowhere"}})


def test_every_snapshot_field_is_read():
    values = {
        "brief_title": "A title",
        "official_title": "An official title",
        "acronym": "ACR",
        "overall_status": "Terminated",
        "last_known_status": "Recruiting",
        "why_stopped": "Sponsor decision",
        "start_date": "2020-01",
        "start_date_type": "Actual",
        "primary_completion_date": "2021",
        "primary_completion_date_type": "Estimated",
        "completion_date": "2022-02-02",
        "completion_date_type": "Estimated",
        "first_posted": "2019-12-01",
        "last_update_posted": "2022-03-01",
        "phases": "Phase 2",
        "study_type": "Interventional",
        "allocation": "Randomized",
        "enrollment": 12,
        "enrollment_type": "Actual",
        "lead_sponsor": "Sponsor",
        "lead_sponsor_class": "Industry",
        "collaborators": ["Partner"],
        "conditions": ["Melanoma"],
        "keywords": ["NK cells"],
        "interventions": ["Drug: X"],
        "arms": [{"label": "A", "type": "Experimental", "interventions": ["Drug: X"]}],
        "countries": ["France"],
        "pmids": ["123456"],
        "secondary_ids": ["X-1"],
        "has_results": True,
        "results": "Results available",
        "results_first_posted": "2023-03-09",
        "responsible_party": "Someone",
        "first_submitted": "2019-11-01",
    }
    assert set(values) == set(SNAPSHOT_FIELDS)

    record = parse_snapshot_entry(snapshot_entry(**values))

    assert [field for field in RECORD_FIELDS if record[field] is None] == []


# API v2 study records

STUDY = {
    "protocolSection": {
        "identificationModule": {
            "nctId": "NCT05086315",
            "briefTitle": "First-in-human Study of SAR443579",
            "officialTitle": "A Phase 1/2 Study of SAR443579",
            "acronym": "SAR",
            "secondaryIdInfos": [{"id": "TED16981"}, {"id": "2021-000866-12"}],
        },
        "statusModule": {
            "overallStatus": "TERMINATED",
            "lastKnownStatus": "RECRUITING",
            "whyStopped": "Sponsor decision",
            "startDateStruct": {"date": "2021-12-08", "type": "ACTUAL"},
            "primaryCompletionDateStruct": {"date": "2025-06", "type": "ACTUAL"},
            "completionDateStruct": {"date": "2025-06-13", "type": "ACTUAL"},
            "studyFirstPostDateStruct": {"date": "2021-10-21", "type": "ACTUAL"},
            "lastUpdatePostDateStruct": {"date": "2025-12-15", "type": "ACTUAL"},
        },
        "sponsorCollaboratorsModule": {
            "leadSponsor": {"name": "Sanofi", "class": "INDUSTRY"},
            "collaborators": [{"name": "Innate Pharma"}],
        },
        "conditionsModule": {
            "conditions": ["Acute Myeloid Leukaemia Refractory"],
            "keywords": ["NK cell engager"],
        },
        "designModule": {
            "studyType": "INTERVENTIONAL",
            "phases": ["PHASE1", "PHASE2"],
            "designInfo": {"allocation": "NON_RANDOMIZED"},
            "enrollmentInfo": {"count": 101, "type": "ACTUAL"},
        },
        "armsInterventionsModule": {
            "armGroups": [
                {
                    "label": "SAR443579",
                    "type": "EXPERIMENTAL",
                    "interventionNames": ["Drug: SAR443579"],
                }
            ],
            "interventions": [
                {"type": "DRUG", "name": "SAR443579", "otherNames": ["IPH6101"]},
            ],
        },
        "contactsLocationsModule": {
            "locations": [
                {"country": "France"},
                {"country": "United States"},
                {"country": "France"},
                {},
            ]
        },
        "referencesModule": {"references": [{"pmid": "12345678"}, {"citation": "no pmid"}]},
    },
    "hasResults": False,
}


def test_an_api_v2_study_gives_every_field():
    values = parse_study(STUDY)

    assert values == {
        "nct_id": "NCT05086315",
        "brief_title": "First-in-human Study of SAR443579",
        "official_title": "A Phase 1/2 Study of SAR443579",
        "acronym": "SAR",
        "overall_status": "TERMINATED",
        "last_known_status": "RECRUITING",
        "why_stopped": "Sponsor decision",
        "start_date": "2021-12-08",
        "start_date_type": "ACTUAL",
        "primary_completion_date": "2025-06",
        "primary_completion_date_type": "ACTUAL",
        "completion_date": "2025-06-13",
        "completion_date_type": "ACTUAL",
        "first_posted": "2021-10-21",
        "last_update_posted": "2025-12-15",
        "phases": ["PHASE1", "PHASE2"],
        "study_type": "INTERVENTIONAL",
        "allocation": "NON_RANDOMIZED",
        "enrollment": 101,
        "enrollment_type": "ACTUAL",
        "lead_sponsor": "Sanofi",
        "lead_sponsor_class": "INDUSTRY",
        "collaborators": ["Innate Pharma"],
        "conditions": ["Acute Myeloid Leukaemia Refractory"],
        "keywords": ["NK cell engager"],
        "interventions": [{"type": "DRUG", "name": "SAR443579", "other_names": ["IPH6101"]}],
        "arm_groups": [
            {"label": "SAR443579", "type": "EXPERIMENTAL", "interventions": ["Drug: SAR443579"]}
        ],
        "countries": ["France", "United States"],
        "pmids": ["12345678"],
        "secondary_ids": ["TED16981", "2021-000866-12"],
        "has_results": False,
        "raw": STUDY,
    }
    RegistryRecord(**values, source_kind="file").full_clean(
        validate_unique=False, validate_constraints=False
    )


def test_an_api_v2_study_and_a_snapshot_entry_of_the_same_facts_give_the_same_values():
    entry = snapshot_entry(
        brief_title="First-in-human Study of SAR443579",
        overall_status="Terminated",
        phases=["Phase 1", "Phase 2"],
        enrollment="101 (Actual)",
        start_date="December 8, 2021 (Actual)",
        lead_sponsor="Sanofi (Industry)",
        interventions=["Drug: SAR443579"],
        countries=["FR"],
    )
    entry["nct_id"] = "NCT05086315"
    study = {
        "protocolSection": {
            "identificationModule": {
                "nctId": "NCT05086315",
                "briefTitle": entry["fields"]["brief_title"],
            },
            "statusModule": {
                "overallStatus": "TERMINATED",
                "startDateStruct": {"date": "2021-12-08", "type": "ACTUAL"},
            },
            "designModule": {
                "phases": ["PHASE1", "PHASE2"],
                "enrollmentInfo": {"count": 101, "type": "ACTUAL"},
            },
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Sanofi", "class": "INDUSTRY"}},
            "armsInterventionsModule": {"interventions": [{"type": "DRUG", "name": "SAR443579"}]},
            "contactsLocationsModule": {"locations": [{"country": "France"}]},
        }
    }

    from_snapshot, from_api = parse_snapshot_entry(entry), parse_study(study)

    assert {f: from_snapshot[f] for f in RECORD_FIELDS} == {f: from_api[f] for f in RECORD_FIELDS}


def changed(path: str, value) -> dict:
    study = copy.deepcopy(STUDY)
    *parents, name = path.split(".")
    node = study
    for part in parents:
        node = node[part]
    node[name] = value
    return study


def test_an_api_v2_study_reports_every_problem_by_its_json_path():
    study = changed("protocolSection.designModule.phases", ["PHASE1", "PHASE5"])
    study["protocolSection"]["statusModule"]["overallStatus"] = "FINISHED"
    study["protocolSection"]["statusModule"]["startDateStruct"] = {"date": "soon", "type": "MAYBE"}
    study["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = "forty"
    study["protocolSection"]["armsInterventionsModule"]["interventions"].append({"type": "DRUG"})
    study["protocolSection"]["identificationModule"]["briefTitle"] = "x\x00"

    with pytest.raises(ParseErrors) as raised:
        parse_study(study)

    module = "protocolSection."
    assert {(e.path, e.field, repr(e.raw)) for e in raised.value.errors} == {
        (f"{module}designModule.phases", "phases", "'PHASE5'"),
        (f"{module}statusModule.overallStatus", "overall_status", "'FINISHED'"),
        (f"{module}statusModule.startDateStruct.date", "start_date", "'soon'"),
        (f"{module}statusModule.startDateStruct.type", "start_date_type", "'MAYBE'"),
        (f"{module}designModule.enrollmentInfo.count", "enrollment", "'forty'"),
        (
            f"{module}armsInterventionsModule.interventions[1]",
            "interventions",
            "{'type': 'DRUG'}",
        ),
        (f"{module}identificationModule.briefTitle", "brief_title", "'x\\x00'"),
    }


@pytest.mark.parametrize("study", [[], {"protocolSection": {}}, {"protocolSection": []}])
def test_a_study_without_an_nct_number_is_reported(study):
    with pytest.raises(ParseErrors) as raised:
        parse_study(study)

    assert raised.value.errors[0].field == "nct_id"


def test_the_readers_give_every_field_of_a_record_but_its_provenance():
    provenance = {
        "source_kind",
        "source_url",
        "source_name",
        "as_of",
        "fetched",
        "field_sources",
        "field_notes",
        "source_conflicts",
        "raw",
    }
    fields = {field.name for field in RegistryRecord._meta.concrete_fields}

    assert fields == {"id", *RECORD_FIELDS, *provenance}
