"""Data releases: every knowledge-base model as loaddata JSON and as CSV, with a manifest."""

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

from django.core import serializers
from django.utils import timezone

from .exports import ReleaseJSONEncoder, write_records_csv
from .knowledge_base import knowledge_base_models, with_relations
from .problems import ProblemsError

RELEASE_TAG = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")


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
        (staging / "json").mkdir()
        (staging / "csv").mkdir()
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
        manifest = {
            "release": release.name,
            "created": timezone.now().isoformat(),
            "load": f"python manage.py loaddata {release.name}/json/*.json",
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
