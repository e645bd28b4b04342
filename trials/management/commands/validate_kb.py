from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from nkkb.core.review import Review
from trials.discrepancies import discrepancies
from trials.services.validation import ERROR, kb_validate


class Command(BaseCommand):
    help = (
        "Check the whole knowledge base: formats, vocabularies, links, result figures and "
        "provenance (against the review when NKKB_REVIEW_PATH exists). Prints every problem "
        "with its record and field, then every warning (a likely slip, such as titles shared by "
        "several trials); exits with status 1 when there is any problem, 0 on warnings alone."
    )

    def handle(self, *args, **options):
        path = settings.NKKB_REVIEW_PATH
        review = Review.from_path(path) if path.exists() else None
        if review is None:
            self.stderr.write(
                f"The review is not at {path}; provenance is checked for presence only."
            )
        found = kb_validate(review=review)
        for problem in found:
            self.stdout.write(str(problem))
        errors = sum(problem.severity == ERROR for problem in found)
        warnings = len(found) - errors
        # Not faults of the data: the registry says something else, which curators weigh.
        differing = discrepancies()
        if differing:
            trials = len({difference.nct_id for difference in differing})
            self.stdout.write(
                self.style.WARNING(
                    f"Registry discrepancies: the registry differs from the curated data in "
                    f"{len(differing)} place(s) of {trials} trial(s); `manage.py registry_report` "
                    "lists them."
                )
            )
        if errors:
            raise CommandError(
                f"{errors} problem(s) found in the knowledge base"
                + (f", and {warnings} warning(s)." if warnings else ".")
            )
        if warnings:
            self.stdout.write(
                self.style.WARNING(
                    f"The knowledge base is valid, with {warnings} warning(s) to look at."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS("The knowledge base is valid."))
