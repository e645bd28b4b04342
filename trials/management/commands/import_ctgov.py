import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from nkkb.core.problems import ProblemsError
from trials.services.ctgov_import import ctgov_import

# From this many files on, reading them shows a progress bar.
PROGRESS_FROM_FILES = 2


class Command(BaseCommand):
    help = (
        "Import ClinicalTrials.gov study records (API v2 JSON: one study per file, or a page "
        "holding 'studies'). New trials are created; for existing trials the registry's phase, "
        "status, enrollment and start year are compared with the curated values and written only "
        "with --apply. All or nothing: a malformed file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument(
            "--apply",
            action="store_true",
            help="Write the registry's values over the differing curated ones.",
        )

    def handle(self, *args, paths: list[Path], apply: bool, **options):
        def progress(files):
            return tqdm(
                files,
                desc="Reading",
                unit="file",
                file=options.get("stderr") or sys.stderr,
                disable=len(files) < PROGRESS_FROM_FILES or options["verbosity"] == 0,
            )

        try:
            report = ctgov_import(paths=paths, apply=apply, progress=progress)
        except ProblemsError as error:
            raise CommandError("Nothing was imported:\n  " + "\n  ".join(error.problems)) from error

        for nct_id, study in report.created.items():
            self.stdout.write(self.style.SUCCESS(f"{nct_id}: created from {study.source}."))
            if unlinked := report.unlinked.get(nct_id):
                self.stdout.write(
                    f"  interventions not in the knowledge base: {', '.join(unlinked)}"
                )
        for nct_id, changes in report.changed.items():
            verb = "updated" if report.applied else "differs from ClinicalTrials.gov"
            self.stdout.write(self.style.WARNING(f"{nct_id}: {verb}:"))
            for change in changes:
                self.stdout.write(f"  {change}")
        for nct_id in report.unchanged:
            self.stdout.write(f"{nct_id}: matches ClinicalTrials.gov.")
        if report.changed and not report.applied:
            self.stdout.write("Nothing was changed in existing trials; run again with --apply.")
