import os
import sys
from getpass import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from nkkb.core.accounts import ROLES, account_create


class Command(BaseCommand):
    help = (
        "Create a curator: a staff account in the 'curators' group, which may add, change and "
        "delete knowledge-base records and review proposals, nothing else. With --role "
        "contributor: an account in the 'contributors' group, which may read the knowledge base "
        "in admin and propose changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--role", choices=list(ROLES), default="curator")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="Read the password from this environment variable instead of asking for it.",
        )

    def handle(
        self, *args, username: str, email: str, role: str, password_from_env: str | None, **options
    ):
        if password_from_env:
            password = os.environ.get(password_from_env)
            if not password:
                raise CommandError(f"The environment variable {password_from_env} is not set.")
        elif sys.stdin.isatty():
            password = getpass("Password: ")
            if password != getpass("Password (again): "):
                raise CommandError(f"The passwords differ; no {role} was created.")
        else:
            raise CommandError("No terminal to ask for a password: use --password-from-env VAR.")
        try:
            account_create(username=username, email=email, password=password, role=role)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(self.style.SUCCESS(f"{role.capitalize()} {username!r} created."))
