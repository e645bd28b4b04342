from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from nkkb.core.problems import ProblemsError
from registry.services import registry_snapshot_load


class Command(BaseCommand):
    help = (
        "Load the registry snapshot (ClinicalTrials.gov facts compiled from archived registry "
        "pages and mirror sites) as registry records of the knowledge base's trials. Curated "
        "fields are never written; loads all or nothing; loading again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--path",
            type=Path,
            default=settings.NKKB_FIXTURES_DIR / "registry" / "snapshot.json",
            help="The snapshot file (default: fixtures/registry/snapshot.json).",
        )

    def handle(self, *args, path: Path, **options):
        try:
            report = registry_snapshot_load(path=path)
        except ProblemsError as error:
            raise CommandError(
                f"The registry snapshot {path} has problems; nothing was loaded:\n  "
                + "\n  ".join(error.problems)
            ) from error
        counts = report.counts
        self.stdout.write(
            self.style.SUCCESS(
                f"Registry snapshot {path}: {counts['created']} records created, "
                f"{counts['updated']} updated, {counts['unchanged']} unchanged"
                + (
                    f", {counts['kept_live']} kept (read from the registry itself)"
                    if counts["kept_live"]
                    else ""
                )
                + f"; {counts['without_source']} trials without a source (not yet synced)."
            )
        )
