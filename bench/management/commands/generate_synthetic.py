from django.core.management.base import BaseCommand, CommandError

from bench.synthetic import SyntheticRefused, synthetic_generate
from nkkb.core.stored_facets import refresh_every


class Command(BaseCommand):
    help = (
        "Fill a benchmark database with N synthetic trials shaped like the curated seed's "
        "(NCT9xxxxxxx, marked synthetic in their provenance). Point DATABASE_URL at an empty "
        "database: it gets the seed first. A database with curated trials and no synthetic ones "
        "is refused. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--trials", type=int, required=True, metavar="N")
        parser.add_argument(
            "--random-seed",
            type=int,
            default=0,
            help="Seed of the random draws: the same seed gives the same trials.",
        )

    def handle(self, *args, trials: int, random_seed: int, **options):
        try:
            report = synthetic_generate(trials=trials, random_seed=random_seed)
        except (SyntheticRefused, ValueError) as error:
            raise CommandError(f"{error} Nothing was written.") from error
        # Derived here, as a sync does, rather than by the first request that filters by them.
        refresh_every()
        counts = ", ".join(
            f"{count} {name.replace('_', ' ')}" for name, count in report.counts.items()
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {report.created} synthetic trials in {report.seconds:.1f} s; "
                f"the knowledge base now holds {counts}."
            )
        )
