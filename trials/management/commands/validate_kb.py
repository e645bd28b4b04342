from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from nkkb.core.review import Review
from trials.services.validation import kb_validate


class Command(BaseCommand):
    help = (
        "Check the whole knowledge base: formats, vocabularies, links, result figures and "
        "provenance (against the review when NKKB_REVIEW_PATH exists). Prints every problem "
        "with its record and field; exits with status 1 when there is any."
    )

    def handle(self, *args, **options):
        path = settings.NKKB_REVIEW_PATH
        review = Review.from_path(path) if path.exists() else None
        if review is None:
            self.stderr.write(
                f"The review is not at {path}; provenance is checked for presence only."
            )
        problems = kb_validate(review=review)
        for problem in problems:
            self.stdout.write(str(problem))
        if problems:
            raise CommandError(f"{len(problems)} problem(s) found in the knowledge base.")
        self.stdout.write(self.style.SUCCESS("The knowledge base is valid."))
