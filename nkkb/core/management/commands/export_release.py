from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from nkkb.core.problems import ProblemsError
from nkkb.core.releases import release_export


class Command(BaseCommand):
    help = (
        "Write a versioned data release into DIR/nkkb-release-<tag>/: per model a JSON file "
        "(dumpdata format) and a CSV file, and manifest.json with record counts and SHA-256."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, metavar="DIR")
        parser.add_argument(
            "--tag", help="The release's name (letters, digits, . _ -); default: today's date."
        )

    def handle(self, *args, directory: Path, tag: str | None, **options):
        try:
            release = release_export(directory=directory, tag=tag)
        except ProblemsError as error:
            raise CommandError("\n".join(error.problems)) from error
        self.stdout.write(self.style.SUCCESS(f"Release written to {release}."))
