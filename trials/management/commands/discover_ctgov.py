import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from registry.ctgov import CtgovClient, CtgovError
from registry.sync import registry_discover
from trials.models import Trial

from .sync_ctgov import PREVIEW_NOTE

# How many not-relevant studies and unmatched names the report shows by name.
SHOWN = 20


class Command(BaseCommand):
    help = (
        "Ask ClinicalTrials.gov (API v2) for studies that may belong in the knowledge base: "
        "interventions naming an NK cell product or NK-directed agent of the knowledge base, or "
        "NK cells. Relevant ones become study candidates for curators to accept or reject; a "
        "combination partner alone (pembrolizumab, chemotherapy, BCG) never makes a study "
        "relevant. Previews by default: --apply stores the candidates and their registry records."
    )
    stealth_options = ("client",)

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Store the candidates.")
        parser.add_argument(
            "--max-pages", type=int, metavar="N", help="Read at most N pages of results."
        )

    def handle(self, *args, apply, max_pages, **options):
        if max_pages is not None and max_pages < 1:
            raise CommandError("--max-pages must be at least 1.")
        client = options.get("client") or CtgovClient(base_url=settings.NKKB_CTGOV_API_URL)

        def progress(total):
            return tqdm(
                total=total,
                desc="Queries",
                unit="query",
                file=options.get("stderr") or sys.stderr,
                disable=options["verbosity"] == 0,
            )

        try:
            report = registry_discover(
                client=client,
                known_nct_ids=Trial.objects.values_list("nct_id", flat=True),
                apply=apply,
                max_pages=max_pages,
                progress=progress,
            )
        except CtgovError as error:
            raise CommandError(f"{error}\nCandidates of the pages read so far were kept.") from (
                error
            )

        would = "" if apply else "would be "
        for nct_id, matches in report.candidates.items():
            found = "; ".join(f"{m['name']} -> {m['matched']} ({m['how']})" for m in matches)
            self.stdout.write(self.style.SUCCESS(f"{nct_id}: {would}a candidate: {found}"))
        if report.not_relevant:
            shown = [
                f"{nct_id} ({', '.join(matched) or 'nothing'})"
                for nct_id, matched in list(report.not_relevant.items())[:SHOWN]
            ]
            self.stdout.write(
                f"Not relevant (no NK cell product, NK-directed agent or NK cells): "
                f"{len(report.not_relevant)}, e.g. {'; '.join(shown)}"
            )
        if report.unmatched_names:
            names = ", ".join(
                f"{name} ({count})" for name, count in report.unmatched_names.most_common(SHOWN)
            )
            self.stdout.write(f"Intervention names of candidates matching nothing: {names}")
        for problem in report.problems:
            self.stderr.write(f"problem: {problem}")
        self.stdout.write(
            f"{report.queries} queries, {report.pages} pages: {len(report.candidates)} new "
            f"candidates, {len(report.already_candidates)} already candidates, "
            f"{len(report.known)} knowledge-base trials, {len(report.not_relevant)} not relevant, "
            f"{len(report.problems)} problems."
        )
        if not apply:
            self.stdout.write(PREVIEW_NOTE)
