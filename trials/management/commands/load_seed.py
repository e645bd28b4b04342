from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from nkkb.core.problems import ProblemsError
from trials.services.seed import seed_load


class Command(BaseCommand):
    help = (
        "Load the curated seed (fixtures/*.yaml) into an empty knowledge base. "
        "Does nothing when the knowledge base already holds records; loads all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--directory",
            type=Path,
            default=settings.NKKB_FIXTURES_DIR,
            help="Folder holding targets.yaml, agents.yaml, nk_products.yaml and trials.yaml.",
        )

    def handle(self, *args, directory: Path, **options):
        try:
            report = seed_load(directory=directory)
        except ProblemsError as error:
            raise CommandError(
                f"The seed in {directory} is broken; nothing was loaded:\n  "
                + "\n  ".join(error.problems)
            ) from error
        counts = ", ".join(
            f"{count} {name.replace('_', ' ')}" for name, count in report.counts.items()
        )
        if report.loaded:
            self.stdout.write(self.style.SUCCESS(f"Loaded the seed: {counts}."))
        else:
            self.stdout.write(
                f"The knowledge base already holds records ({counts}); seed not loaded."
            )
