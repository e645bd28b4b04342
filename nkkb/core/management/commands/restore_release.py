from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from nkkb.core.problems import ProblemsError
from nkkb.core.releases import release_restore


class Command(BaseCommand):
    help = (
        "Load a release written by export_release (its data and its edit history) into an "
        "empty knowledge base, all or nothing, recording no history of its own."
    )

    def add_arguments(self, parser):
        parser.add_argument("release", type=Path, metavar="RELEASE_DIR")

    def handle(self, *args, release: Path, **options):
        try:
            release_restore(release=release)
        except ProblemsError as error:
            raise CommandError("\n".join(error.problems)) from error
        self.stdout.write(self.style.SUCCESS(f"Restored {release}."))
