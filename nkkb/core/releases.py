"""Data releases: every knowledge-base model as loaddata JSON and as CSV, its edit history as
JSON, with a manifest; and their restore into an empty knowledge base."""

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management import call_command
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .exports import ReleaseJSONEncoder, write_records_csv
from .knowledge_base import knowledge_base_models, with_relations
from .problems import ProblemsError
from .stored_facets import refresh_every

RELEASE_TAG = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")


def history_models() -> dict[type, str]:
    """{historical model: its file stem}, in the order a restore loads them: each model's
    history, then the histories of its many-to-many links, which point into it."""
    records, links = {}, {}
    for model, stem in knowledge_base_models().items():
        history = model.history.model
        records[history] = stem
        for field in history._history_m2m_fields:
            links[HistoricalRecords.m2m_models[field]] = f"{stem}_{field.name}"
    return {**records, **links}


def release_export(*, directory: Path, tag: str | None = None) -> Path:
    """Write a data release into `directory`/nkkb-release-<tag>/ and return its path.

    Per model a JSON file in dumpdata format (json/, which `manage.py loaddata` restores) and a
    CSV file (csv/); manifest.json lists every file with its model, record count and SHA-256.
    The tag defaults to today's date; an existing release is never overwritten.
    """
    tag = tag or timezone.now().date().isoformat()
    if not RELEASE_TAG.match(tag):
        raise ProblemsError([f"Release tag {tag!r} may hold only letters, digits, '.', '_', '-'."])
    release = directory / f"nkkb-release-{tag}"
    if release.exists():
        raise ProblemsError([f"{release} already exists; a release is never overwritten."])
    directory.mkdir(parents=True, exist_ok=True)
    # Written aside, then renamed: a failed export leaves no half release behind.
    staging = Path(tempfile.mkdtemp(prefix=".nkkb-release-", dir=directory))
    staging.chmod(0o755)  # mkdtemp's folder is private; a release is for publishing
    try:
        for folder in ("json", "csv", "history"):
            (staging / folder).mkdir()
        files = []
        for model, stem in knowledge_base_models().items():
            json_path = staging / "json" / f"{stem}.json"
            with json_path.open("w", encoding="utf-8") as stream:
                serializers.serialize(
                    "json",
                    with_relations(model.objects.order_by("pk")),
                    indent=2,
                    stream=stream,
                    cls=ReleaseJSONEncoder,
                )
            csv_path = staging / "csv" / f"{stem}.csv"
            with csv_path.open("w", encoding="utf-8", newline="") as stream:
                count = write_records_csv(model.objects.all(), stream)
            for path in (json_path, csv_path):
                files.append(
                    {
                        "path": path.relative_to(staging).as_posix(),
                        "model": model._meta.label_lower,
                        "records": count,
                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    }
                )
        for model, stem in history_models().items():
            # Authors by username (natural keys): user ids differ from one database to another.
            path = staging / "history" / f"{stem}.json"
            with path.open("w", encoding="utf-8") as stream:
                serializers.serialize(
                    "json",
                    model.objects.order_by("pk"),
                    indent=2,
                    stream=stream,
                    cls=ReleaseJSONEncoder,
                    use_natural_foreign_keys=True,
                )
            files.append(
                {
                    "path": path.relative_to(staging).as_posix(),
                    "model": model._meta.label_lower,
                    "records": model.objects.count(),
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                }
            )
        manifest = {
            "release": release.name,
            "created": timezone.now().isoformat(),
            "load": f"python manage.py restore_release {release.name}",
            "files": files,
        }
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2) + "\n", encoding="utf-8"
        )
        staging.rename(release)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return release


def release_restore(*, release: Path) -> None:
    """Load a release (data and history) into an empty knowledge base, all or nothing.

    No history is recorded while loading (the release's own history is loaded instead, so a
    restore adds no rows of its own); authors missing here are created as inactive accounts
    without a password, so that the history still names them.
    """
    data = sorted((release / "json").glob("*.json"))
    history = [release / "history" / f"{stem}.json" for stem in history_models().values()]
    if not data:
        raise ProblemsError([f"{release} holds no json/*.json: is it a release?"])
    if any(model.objects.exists() for model in knowledge_base_models()):
        raise ProblemsError(
            ["The knowledge base is not empty; a release restores into an empty one."]
        )
    authors = {
        record["fields"]["history_user"][0]
        for path in history
        if path.exists()
        for record in json.loads(path.read_text(encoding="utf-8"))
        if record["fields"].get("history_user")
    }
    users = get_user_model()
    with transaction.atomic(), override_settings(SIMPLE_HISTORY_ENABLED=False):
        for username in sorted(authors):
            if not users.objects.filter(username=username).exists():
                user = users(username=username, is_active=False)
                user.set_unusable_password()
                user.save()
        call_command("loaddata", *data, *(path for path in history if path.exists()), verbosity=0)
    # The history a release restores is not this database's: what it says was written since
    # the stored facets' moment is not what was.
    refresh_every(afresh=True)
