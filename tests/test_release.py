"""export_release: a versioned release that loaddata turns back into the same knowledge base."""

import csv
import hashlib
import io
import json
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.utils import timezone

from nkkb.core.knowledge_base import knowledge_base_models
from nkkb.core.models import StoredFacetOption
from nkkb.core.releases import history_models
from trials.models import Trial
from trials.stored_facets import STORED_FACETS

pytestmark = pytest.mark.django_db

MODELS = {model._meta.label_lower for model in knowledge_base_models()}


def export_release(directory, *arguments):
    call_command("export_release", str(directory), *arguments, stdout=io.StringIO())


def release_files(release) -> dict[str, bytes]:
    return {
        path.relative_to(release).as_posix(): path.read_bytes()
        for path in sorted(release.rglob("*"))
        if path.is_file() and path.name != "manifest.json"
    }


def test_a_release_holds_json_and_csv_per_model_and_a_manifest_with_counts_and_checksums(
    tmp_path,
):
    export_release(tmp_path, "--tag", "2025.1")

    release = tmp_path / "nkkb-release-2025.1"
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["release"] == "nkkb-release-2025.1"
    assert {entry["path"] for entry in manifest["files"]} == set(release_files(release))
    histories = {model._meta.label_lower for model in history_models()}
    assert {entry["model"] for entry in manifest["files"]} == MODELS | histories
    for entry in manifest["files"]:
        content = (release / entry["path"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        count = apps.get_model(entry["model"]).objects.count()
        assert entry["records"] == count
        # Only registry candidates, which the seed holds none of, and some histories are empty.
        assert count > 0 or entry["model"] in histories | {"registry.studycandidate"}
        if entry["path"].endswith(".json"):
            records = json.loads(content)
            assert len(records) == count
            assert {record["model"] for record in records} <= {entry["model"]}
        else:
            records = list(csv.DictReader(io.StringIO(content.decode())))
        assert len(records) == count


@pytest.fixture
def first_release(tmp_path):
    # A timestamp less than a millisecond past a whole second (releases keep milliseconds).
    just_past_a_second = datetime(2026, 1, 1, 12, 0, 0, 400, tzinfo=UTC)
    Trial.objects.filter(nct_id="NCT02138734").update(last_updated=just_past_a_second)
    export_release(tmp_path, "--tag", "first")
    return tmp_path / "nkkb-release-first"


def test_export_flush_restore_export_gives_identical_data_and_history(
    tmp_path, first_release, request
):
    # Emptied only after the first release was exported from the seed.
    request.getfixturevalue("empty_knowledge_base")
    assert not any(apps.get_model(label).objects.exists() for label in MODELS)

    for model in history_models():
        model.objects.all().delete()
    # Options of trials that are no more, left from before the restore.
    StoredFacetOption.objects.update(result_id=F("result_id") + 1_000_000_000)
    call_command("restore_release", str(first_release), stdout=io.StringIO())
    for facet in STORED_FACETS.values():
        options = StoredFacetOption.objects.filter(facet_id=facet.name)
        assert set(options.values_list("value", "result_id")) == set(facet.rows(None))
    export_release(tmp_path, "--tag", "second")

    second_release = tmp_path / "nkkb-release-second"
    assert release_files(second_release) == release_files(first_release)
    first, second = (
        json.loads((r / "manifest.json").read_text()) for r in (first_release, second_release)
    )
    assert second["files"] == first["files"]


def test_the_default_tag_is_today_and_a_release_is_never_overwritten(tmp_path):
    export_release(tmp_path)
    release = tmp_path / f"nkkb-release-{timezone.now().date().isoformat()}"
    before = release_files(release)

    with pytest.raises(CommandError, match="already exists; a release is never overwritten"):
        export_release(tmp_path)
    assert release_files(release) == before
    assert [path.name for path in tmp_path.iterdir()] == [release.name]


def test_a_tag_that_is_not_a_plain_name_is_refused(tmp_path):
    with pytest.raises(CommandError, match="may hold only letters"):
        export_release(tmp_path, "--tag", "../elsewhere")
    assert list(tmp_path.iterdir()) == []


def test_a_release_carries_the_history_and_a_restore_adds_none(tmp_path, request):
    trial = Trial.objects.get(nct_id="NCT02138734")
    trial.title = "An edit the release must remember"
    trial.save()
    exported = {model: model.objects.count() for model in history_models()}
    export_release(tmp_path, "--tag", "with-history")
    request.getfixturevalue("empty_knowledge_base")
    for model in history_models():
        model.objects.all().delete()

    call_command(
        "restore_release", str(tmp_path / "nkkb-release-with-history"), stdout=io.StringIO()
    )

    restored = Trial.objects.get(nct_id="NCT02138734")
    assert restored.title == "An edit the release must remember"
    assert restored.history.first().title == "An edit the release must remember"
    assert {model: model.objects.count() for model in history_models()} == exported
