"""sync_ctgov: registry records from the API v2 (batches, retries, pacing, resume) and from saved
files (--from-file), previewed by default, never touching a curated table."""

import copy
import hashlib
import io
import json
from itertools import pairwise
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from nkkb.core.caching import data_version
from nkkb.core.models import StoredFacet, StoredFacetOption
from nkkb.core.stored_facets import refresh
from registry.ctgov import CtgovClient, CtgovError
from registry.models import RegistryRecord
from registry.sync import registry_files_read, registry_sync
from trials.discrepancies import DISCREPANCIES
from trials.models import Trial

from .ctgov_server import CtgovServer

pytestmark = pytest.mark.django_db

STUDIES = Path(__file__).parent / "ctgov"
RECORDED_PAGE = STUDIES / "recorded" / "NCT06341426_page.json"


def study(nct_id: str, *, interventions=("NK-92",), enrollment=(12, "ESTIMATED"), **status):
    """A constructed API v2 study record."""
    return {
        "protocolSection": {
            "identificationModule": {"nctId": nct_id, "briefTitle": f"Study {nct_id}"},
            "statusModule": {
                "overallStatus": status.get("overall_status", "RECRUITING"),
                "lastUpdatePostDateStruct": {"date": status.get("updated", "2025-03-04")},
            },
            "designModule": {
                "studyType": "INTERVENTIONAL",
                "phases": ["PHASE1"],
                "enrollmentInfo": {"count": enrollment[0], "type": enrollment[1]},
            },
            "conditionsModule": {"conditions": ["Acute myeloid leukemia"]},
            "armsInterventionsModule": {
                "interventions": [{"type": "BIOLOGICAL", "name": name} for name in interventions]
            },
        },
        "hasResults": False,
    }


def ids(*numbers: int) -> list[str]:
    return [f"NCT0990{number:04d}" for number in numbers]


def fast_client(server: CtgovServer, **knobs) -> CtgovClient:
    options = {
        "base_url": server.url,
        "timeout": 0.5,
        "requests_per_minute": 60_000,
        "max_attempts": 5,
        "backoff_initial": 0.02,
        "backoff_max": 1.0,
        "jitter": 0.001,
        **knobs,
    }
    return CtgovClient(**options)


def database_state(prefixes: tuple[str, ...] = ("",)) -> dict[str, tuple[int, str]]:
    """(row count, checksum of every row) of each table whose name starts with a prefix."""
    state = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if not table.startswith(prefixes):
                continue
            cursor.execute(f'SELECT * FROM "{table}"')
            rows = sorted(map(repr, cursor.fetchall()))
            state[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return state


CURATED = ("trials_", "agents_")


def sync(*arguments, client=None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    options = {"client": client} if client else {}
    call_command("sync_ctgov", *map(str, arguments), stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def server():
    with CtgovServer([study(nct_id) for nct_id in ids(1, 2, 3, 4, 5, 6)]) as server:
        yield server


# The live sync


def test_a_preview_changes_no_row_of_any_table(server):
    server.add([study("NCT02138734", enrollment=(40, "ESTIMATED"))])
    before = database_state()

    out, _ = sync("--nct", *ids(1, 2), "NCT02138734", client=fast_client(server))

    assert "NCT09900001: would be created." in out
    # The snapshot's record of an archived page gives way to the API's.
    assert "NCT02138734: would be updated (brief_title, " in out
    assert out.rstrip().endswith("preview: nothing written; run with --apply")
    assert database_state() == before


def test_apply_stores_registry_records_and_never_a_curated_field(server):
    # The registry's estimated enrollment of 40 beside the review's actual 22... of 9 here.
    server.add([study("NCT02138734", enrollment=(40, "ESTIMATED"), overall_status="COMPLETED")])
    curated = database_state(CURATED)
    trial_before = Trial.objects.values().get(nct_id="NCT02138734")

    out, _ = sync("--apply", "--nct", "NCT02138734", *ids(1), client=fast_client(server))

    assert "NCT02138734: updated (" in out and "preview" not in out
    record = RegistryRecord.objects.get(nct_id="NCT02138734")
    assert (record.enrollment, record.enrollment_type, record.overall_status) == (
        40,
        "ESTIMATED",
        "COMPLETED",
    )
    assert (record.source_kind, record.source_url, str(record.as_of)) == (
        "api",
        "https://clinicaltrials.gov/study/NCT02138734",
        "2025-03-04",
    )
    assert record.raw["protocolSection"]["identificationModule"]["nctId"] == "NCT02138734"
    assert record.history.latest().history_change_reason == "ClinicalTrials.gov sync"
    assert Trial.objects.values().get(nct_id="NCT02138734") == trial_before
    assert Trial.objects.get(nct_id="NCT02138734").enrollment == 9
    assert database_state(CURATED) == curated

    # Again: nothing changed, so nothing is written, not even a history row.
    history = RegistryRecord.history.count()
    out, _ = sync("--apply", "--nct", "NCT02138734", *ids(1), client=fast_client(server))
    assert "2 unchanged" in out and RegistryRecord.history.count() == history


def test_a_changed_study_is_updated_field_by_field(server):
    sync("--apply", "--nct", *ids(1), client=fast_client(server))
    server.add([study(ids(1)[0], overall_status="TERMINATED", updated="2025-06-01")])

    out, _ = sync("--apply", "--nct", *ids(1), client=fast_client(server))

    assert "NCT09900001: updated (overall_status, last_update_posted, raw, as_of)." in out
    assert RegistryRecord.objects.get(nct_id=ids(1)[0]).overall_status == "TERMINATED"


def test_an_applied_sync_leaves_the_stored_facets_current(server):
    """The trials a sync made differ are stored as differing by the sync itself, not by the
    first request that filters by them."""
    refresh(DISCREPANCIES)
    trial = Trial.objects.get(nct_id="NCT02138734")
    server.add([study(trial.nct_id, interventions=("An unheard-of drug",))])

    sync("--apply", "--nct", trial.nct_id, client=fast_client(server))

    assert StoredFacet.objects.get(name=DISCREPANCIES.name).version == data_version()[0]
    options = StoredFacetOption.objects.filter(facet_id=DISCREPANCIES.name, result_id=trial.pk)
    assert options.filter(value="interventions:unlinked").exists()


def test_the_default_is_every_trial_of_the_knowledge_base_in_batches(server):
    client = fast_client(server)

    report = registry_sync(
        nct_ids=Trial.objects.values_list("nct_id", flat=True), client=client, batch_size=25
    )

    requests = server.page_requests()
    asked = [request.params["filter.ids"].split(",") for request in requests]
    assert [len(batch) for batch in asked] == [25, 25, 8]
    assert sorted(sum(asked, [])) == sorted(Trial.objects.values_list("nct_id", flat=True))
    assert {request.params["pageSize"] for request in requests} == {"25", "8"}
    fields = requests[0].params["fields"].split(",")
    assert {"IdentificationModule", "ArmsInterventionsModule", "LocationCountry"} <= set(fields)
    assert "EligibilityModule" not in fields  # trimmed to what parse_study reads
    assert len(report.not_found) == 58  # the local server holds none of them


def test_one_bad_study_in_a_page_leaves_the_others_stored(server):
    bad = study(ids(2)[0])
    bad["protocolSection"]["designModule"]["phases"] = ["PHASE1", "PHASE3"]
    server.add([bad])

    report = registry_sync(nct_ids=ids(1, 2, 3), client=fast_client(server), apply=True)

    assert sorted(report.created) == ids(1, 3)
    assert len(report.problems) == 1 and "NCT09900002: phases" in report.problems[0]
    assert not RegistryRecord.objects.filter(nct_id=ids(2)[0]).exists()


def test_a_429_waits_as_long_as_retry_after_says(server):
    server.fail("429", retry_after=1)
    client = fast_client(server)

    registry_sync(nct_ids=ids(1), client=client)

    first, second = server.page_requests()
    assert (first.answer, second.answer) == ("429", "page")
    assert client.waits == [1.0]
    assert second.time - first.time >= 0.95


def test_500_timeout_and_truncated_body_are_retried_with_growing_waits(server):
    server.timeout_delay = 1.0  # twice the client's timeout
    server.fail("500", "timeout", "truncated", "500")
    client = fast_client(server, backoff_initial=0.05)

    report = registry_sync(nct_ids=ids(1, 2), client=client)

    answers = [request.answer for request in server.page_requests()]
    assert answers == ["500", "timeout", "truncated", "500", "page"]
    assert sorted(report.created) == ids(1, 2)
    assert len(client.waits) == 4
    assert all(later > earlier for earlier, later in pairwise(client.waits))
    times = [request.time for request in server.page_requests()]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert gaps[0] >= 0.05 and gaps[3] >= 0.4 and gaps[3] > gaps[0]


def test_a_request_that_keeps_failing_stops_the_sync_with_a_clear_error(server):
    server.fail(*["500"] * 3)
    with pytest.raises(CommandError, match="kept failing: HTTP 500"):
        sync("--nct", *ids(1), client=fast_client(server, max_attempts=3))
    assert len(server.page_requests()) == 3


def test_requests_are_spaced_by_the_rate_limit(server):
    registry_sync(
        nct_ids=ids(1, 2, 3, 4), client=fast_client(server, requests_per_minute=600), batch_size=1
    )

    times = [request.time for request in server.page_requests()]
    assert len(times) == 4
    assert all(later - earlier >= 0.09 for earlier, later in pairwise(times))


def test_an_interrupted_run_resumes_from_its_last_batch_and_asks_nothing_twice(server, tmp_path):
    state = tmp_path / "sync.json"
    server.fail("page", *["500"] * 2)  # the first batch is served, then the API fails

    with pytest.raises(CommandError, match="continue where it stopped"):
        sync(
            "--apply", "--state", state, "--batch-size", 2, "--nct", *ids(1, 2, 3, 4, 5),
            client=fast_client(server, max_attempts=2),
        )  # fmt: skip

    assert json.loads(state.read_text())["next_batch"] == 1
    assert sorted(RegistryRecord.objects.filter(nct_id__in=ids(1, 2, 3, 4, 5)).values_list(
        "nct_id", flat=True
    )) == ids(1, 2)  # fmt: skip
    asked_first = len(server.page_requests())

    out, _ = sync(
        "--apply", "--state", state, "--batch-size", 2, "--nct", *ids(1, 2, 3, 4, 5),
        client=fast_client(server),
    )  # fmt: skip

    resumed = [r.params["filter.ids"] for r in server.page_requests()[asked_first:]]
    assert resumed == [",".join(ids(3, 4)), ids(5)[0]]
    assert "Resumed at batch 2." in out and "5 created" in out
    assert not state.exists()


def test_an_interrupted_page_sequence_resumes_from_its_page_token(tmp_path):
    """A batch served over several pages continues from the saved nextPageToken."""
    state = tmp_path / "sync.json"
    wanted = ids(1, 2, 3, 4, 5, 6)

    class SmallPages(CtgovServer):
        def _answer(self, params):
            return super()._answer({**params, "pageSize": "2"})

    with SmallPages([study(nct_id) for nct_id in wanted]) as server:
        server.fail("page", *["500"] * 2)
        with pytest.raises(CtgovError):
            registry_sync(
                nct_ids=wanted,
                client=fast_client(server, max_attempts=2),
                apply=True,
                state_path=state,
            )
        assert json.loads(state.read_text())["page_token"] == "p2"
        asked_first = len(server.page_requests())

        report = registry_sync(
            nct_ids=wanted, client=fast_client(server), apply=True, state_path=state
        )

        tokens = [r.params.get("pageToken") for r in server.page_requests()[asked_first:]]
        assert tokens == ["p2", "p4"]
        assert sorted(report.created) == wanted and report.resumed_at_batch == 0


def test_a_state_file_of_another_run_is_ignored(server, tmp_path):
    state = tmp_path / "sync.json"
    state.write_text(json.dumps({"key": "another run", "next_batch": 5, "page_token": "p9"}))

    report = registry_sync(nct_ids=ids(1), client=fast_client(server), state_path=state)

    assert report.created == ids(1) and report.resumed_at_batch is None
    assert "pageToken" not in server.page_requests()[0].params


def test_many_studies_show_a_progress_bar(server):
    _, err = sync("--nct", *ids(1, 2, 3), "--batch-size", 1, client=fast_client(server))
    assert "Reading" in err and "3/3" in err


def test_invalid_nct_numbers_are_reported_and_the_others_read(server):
    with pytest.raises(CommandError, match="1 problem"):
        out, _ = sync("--nct", "NCT123", *ids(1), client=fast_client(server))
    assert [r.params["filter.ids"] for r in server.page_requests()] == ids(1)


# Saved files (--from-file): the same parse and store path


def test_files_a_study_a_page_and_several_files_are_read_as_the_api_is(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps(study(ids(1)[0])))
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"studies": [study(ids(7)[0]), study(ids(8)[0])]}))
    before = database_state()

    out, _ = sync("--from-file", one, page, RECORDED_PAGE, STUDIES / "studies_page.json")

    assert database_state() == before
    assert "preview: nothing written" in out

    report = registry_files_read(
        paths=[one, page, RECORDED_PAGE, STUDIES / "studies_page.json"], apply=True
    )

    # studies_page.json holds a new study and one the snapshot holds (from archived pages).
    assert sorted(report.created) == ["NCT06341426", *ids(1, 2, 7, 8)]
    assert list(report.updated) == ["NCT03019640"] and not report.problems
    record = RegistryRecord.objects.get(nct_id=ids(7)[0])
    assert (record.source_kind, record.source_name) == ("file", "API v2 file page.json")


def test_a_real_recorded_study_is_stored_as_a_registry_record_only():
    trials = database_state(CURATED)

    report = registry_files_read(paths=[RECORDED_PAGE], apply=True)

    assert report.created == ["NCT06341426"] and not report.problems
    record = RegistryRecord.objects.get(nct_id="NCT06341426")
    assert (record.phases, record.enrollment, record.enrollment_type) == (
        ["PHASE2"],
        92,
        "ESTIMATED",
    )
    assert (record.start_date, record.completion_date_type) == ("2024-02-05", "ESTIMATED")
    assert record.countries == ["Canada"] and record.lead_sponsor_class == "OTHER"
    assert database_state(CURATED) == trials


def test_a_study_given_twice_is_read_once_and_reported(tmp_path):
    again = tmp_path / "again.json"
    again.write_text((STUDIES / "NCT09900001.json").read_text())

    report = registry_files_read(paths=[STUDIES / "NCT09900001.json", again], apply=True)

    assert report.created == ["NCT09900001"]
    assert report.problems == [
        f"{again}: NCT09900001: is also in {STUDIES / 'NCT09900001.json'}; read there only."
    ]


def test_an_older_saved_file_never_replaces_a_newer_live_record(server, tmp_path):
    registry_sync(nct_ids=ids(1), client=fast_client(server), apply=True)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(study(ids(1)[0], overall_status="COMPLETED", updated="2020-01")))

    report = registry_files_read(paths=[old], apply=True)

    assert report.kept_newer == ids(1)
    assert RegistryRecord.objects.get(nct_id=ids(1)[0]).overall_status == "RECRUITING"


def with_change(path: str, value):
    """A copy of a constructed study with the field at dotted `path` set to `value`."""
    changed = copy.deepcopy(study(ids(9)[0]))
    *parents, name = path.split(".")
    node = changed
    for part in parents:
        node = node[part]
    node[name] = value
    return json.dumps(changed)


IDENTIFICATION = "protocolSection.identificationModule"
FORMAT_HINT = "NKKB reads ClinicalTrials.gov API v2 JSON"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('<?xml version="1.0"?>\n<clinical_study>', "is classic ClinicalTrials.gov XML"),
        ("<clinical_study rank='1'>", "is classic ClinicalTrials.gov XML"),
        ('{"FullStudiesResponse": {"APIVrs": "1.01.03"}}', "is an API v1 FullStudiesResponse"),
        ("NCT Number,Study Title\nNCT02138734,A title\n", "is CSV"),
        ("Rank,NCT,Title\n1,NCT02138734,x\n", "is CSV"),
        ("<html><body>Not found</body></html>", "is HTML or XML, not JSON"),
        ("{not json", "is not valid JSON (line 1"),
        ('{"study": {}}', "is neither a study record"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
        ('{"protocolSection": {"identificationModule": {"nctId": "NCT1\x00"}}}', "NUL bytes"),
        ("[" * 200 + "]" * 200, "nests deeper than 64 levels"),
        ('{"studies": {}}', "studies: must be a list of study records."),
        (
            with_change("protocolSection.conditionsModule.conditions", ["Cancer"] * 20_000),
            "conditionsModule.conditions): '20000 items' exceeds 500 items.",
        ),
        (with_change(f"{IDENTIFICATION}.nctId", "NCT123"), "'NCT123' is not an NCT number"),
        (
            with_change("protocolSection.statusModule.overallStatus", "FINISHED"),
            "overall_status (protocolSection.statusModule.overallStatus): 'FINISHED'",
        ),
        (
            with_change("protocolSection.designModule.enrollmentInfo.count", "forty"),
            "enrollment (protocolSection.designModule.enrollmentInfo.count): 'forty' is not a",
        ),
    ],
    ids=[
        "xml",
        "clinical-study",
        "v1",
        "csv",
        "csv-commas",
        "html",
        "json",
        "shape",
        "encoding",
        "nul",
        "depth",
        "page",
        "list-length",
        "nct",
        "status",
        "enrollment",
    ],
)
def test_a_bad_file_is_named_with_its_problem_and_the_good_files_are_stored(
    tmp_path, content, message
):
    bad = tmp_path / "bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content)

    with pytest.raises(CommandError, match="1 problem"):
        _, err = sync("--apply", "--from-file", STUDIES / "NCT09900001.json", bad)

    assert RegistryRecord.objects.filter(nct_id="NCT09900001").exists()
    report = registry_files_read(paths=[bad])
    assert len(report.problems) == 1 and str(bad) in report.problems[0]
    assert message in report.problems[0]
    if "legacy" in message or message.startswith("is "):
        assert FORMAT_HINT in report.problems[0]


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr("registry.sync.MAX_FILE_BYTES", 1000)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"studies": [study(ids(n)[0]) for n in range(1, 10)]}))

    report = registry_files_read(paths=[big], apply=True)

    assert report.problems and "more than the 0 MB a file may hold" in report.problems[0]
    assert not report.created
