import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from nkkb.core.stored_facets import refresh_every
from registry.ctgov import MAX_PAGE_SIZE, CtgovClient, CtgovError
from registry.sync import DEFAULT_BATCH_SIZE, SyncReport, registry_files_read, registry_sync
from trials.models import Trial

PREVIEW_NOTE = "preview: nothing written; run with --apply"


class Command(BaseCommand):
    help = (
        "Read what ClinicalTrials.gov (API v2) says about the knowledge base's trials into "
        "registry records, never into curated fields. Previews by default: --apply writes. "
        "--from-file reads saved API v2 JSON (a study or a /studies page per file) instead."
    )
    # Tests hand in a client of their own (a local server, fast retries).
    stealth_options = ("client",)

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Write the registry records.")
        parser.add_argument(
            "--from-file",
            dest="paths",
            nargs="+",
            action="extend",
            type=Path,
            default=[],
            metavar="PATH",
            help="Saved API v2 JSON files to read instead of the API.",
        )
        parser.add_argument(
            "--nct",
            dest="nct_ids",
            nargs="+",
            action="extend",
            default=[],
            metavar="NCT",
            help="Only these NCT numbers (default: every trial of the knowledge base).",
        )
        parser.add_argument(
            "--state",
            type=Path,
            metavar="FILE",
            help="Where to keep the progress of the run: an interrupted run continues there.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"NCT numbers per request (1 to {MAX_PAGE_SIZE}; default {DEFAULT_BATCH_SIZE}).",
        )

    def handle(self, *args, apply, paths, nct_ids, state, batch_size, **options):
        if not 1 <= batch_size <= MAX_PAGE_SIZE:
            raise CommandError(f"--batch-size must be 1 to {MAX_PAGE_SIZE}.")
        if paths and (nct_ids or state):
            raise CommandError("--from-file reads files only: --nct and --state do not apply.")
        stderr = options.get("stderr") or sys.stderr

        def progress(unit):
            return lambda total: tqdm(
                total=total,
                desc="Reading",
                unit=unit,
                file=stderr,
                disable=total < 2 or options["verbosity"] == 0,
            )

        if paths:
            report = registry_files_read(paths=paths, apply=apply, progress=progress("file"))
        else:
            client = options.get("client") or CtgovClient(base_url=settings.NKKB_CTGOV_API_URL)
            ids = nct_ids or list(Trial.objects.values_list("nct_id", flat=True))
            try:
                report = registry_sync(
                    nct_ids=ids,
                    client=client,
                    apply=apply,
                    batch_size=batch_size,
                    state_path=state,
                    progress=progress("study"),
                )
            except (CtgovError, KeyboardInterrupt) as error:
                stopped = "Interrupted." if isinstance(error, KeyboardInterrupt) else str(error)
                if state:
                    stopped += (
                        f"\nRun the same command again to continue where it stopped ({state})."
                    )
                elif apply:
                    stopped += "\nPages read so far are stored; --state FILE lets a run resume."
                raise CommandError(stopped) from error
        if report.applied:
            # Mended here, not by the first request after a sync of thousands of records.
            refresh_every()
        self.write_report(report)

    def write_report(self, report: SyncReport):
        would = "" if report.applied else "would be "
        if report.resumed_at_batch is not None:
            self.stdout.write(f"Resumed at batch {report.resumed_at_batch + 1}.")
        for nct_id in report.created:
            self.stdout.write(self.style.SUCCESS(f"{nct_id}: {would}created."))
        for nct_id, fields in report.updated.items():
            self.stdout.write(
                self.style.WARNING(f"{nct_id}: {would}updated ({', '.join(fields)}).")
            )
        for nct_id in report.kept_newer:
            self.stdout.write(f"{nct_id}: kept: the stored record is from a later version.")
        if report.not_found:
            self.stdout.write(
                self.style.WARNING(
                    f"Not returned by ClinicalTrials.gov: {', '.join(report.not_found)}"
                )
            )
        for problem in report.problems:
            self.stderr.write(f"problem: {problem}")
        counts = ", ".join(
            f"{count} {name.replace('_', ' ')}" for name, count in report.counts.items()
        )
        self.stdout.write(f"Registry records: {counts}.")
        if not report.applied:
            self.stdout.write(PREVIEW_NOTE)
        if report.problems:
            raise CommandError(
                f"{len(report.problems)} problem(s), listed above; the other studies were "
                f"{'stored' if report.applied else 'read'}."
            )
