import os
import sys
from getpass import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from nkkb.core.accounts import curator_create


class Command(BaseCommand):
    help = (
        "Create a curator: a staff account in the 'curators' group, which may add, change and "
        "delete knowledge-base records and nothing else."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="Read the password from this environment variable instead of asking for it.",
        )

    def handle(self, *args, username: str, email: str, password_from_env: str | None, **options):
        if password_from_env:
            password = os.environ.get(password_from_env)
            if not password:
                raise CommandError(f"The environment variable {password_from_env} is not set.")
        elif sys.stdin.isatty():
            password = getpass("Password: ")
            if password != getpass("Password (again): "):
                raise CommandError("The passwords differ; no curator was created.")
        else:
            raise CommandError("No terminal to ask for a password: use --password-from-env VAR.")
        try:
            curator_create(username=username, email=email, password=password)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(f"Curator {username!r} created."))
