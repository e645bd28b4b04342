import csv
from collections import Counter

from django.core.management.base import BaseCommand

from trials.choices import DiscrepancyKind
from trials.discrepancies import discrepancies
from trials.models import Trial

COLUMNS = ("nct_id", "field", "kind", "curated", "registry", "message")


class Command(BaseCommand):
    help = (
        "List where the registry records differ from the curated trials: one line (or CSV row) "
        "per trial and field. Reads only; trials without a registry record are not listed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--format", dest="output_format", choices=("text", "csv"), default="text"
        )
        parser.add_argument(
            "--kind",
            action="append",
            choices=DiscrepancyKind.values,
            help="Only discrepancies of this kind (repeat for several).",
        )
        parser.add_argument(
            "--nct",
            nargs="+",
            metavar="NCT",
            help="Only these trials (NCT numbers).",
        )

    def handle(
        self, *args, output_format: str, kind: list[str] | None, nct: list[str] | None, **options
    ):
        trials = Trial.objects.all() if nct is None else Trial.objects.filter(nct_id__in=nct)
        found = [d for d in discrepancies(trials) if kind is None or d.kind in kind]
        if output_format == "csv":
            writer = csv.writer(self.stdout)
            writer.writerow(COLUMNS)
            writer.writerows([getattr(d, column) or "" for column in COLUMNS] for d in found)
            return
        for d in found:
            self.stdout.write(
                f"{d.nct_id}  {d.field}  {d.kind}  curated: {d.curated or '-'}  "
                f"registry: {d.registry or '-'}  {d.message}"
            )
        by_kind = Counter(d.kind for d in found)
        summary = ", ".join(f"{by_kind[k]} {k}" for k in DiscrepancyKind.values if by_kind[k])
        self.stdout.write(
            f"{len(found)} discrepancies in {len({d.nct_id for d in found})} trials"
            + (f": {summary}." if summary else ".")
        )
