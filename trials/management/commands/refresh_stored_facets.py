from django.core.management.base import BaseCommand

from nkkb.core.stored_facets import rederive, stored_options
from trials.stored_facets import STORED_FACETS


class Command(BaseCommand):
    help = (
        "Derive the stored facets (which trials differ from their registry record, which the "
        "compatibility rules warn about) afresh for every trial. Requests mend them after each "
        "write; after data loaded in bulk into a large knowledge base, run this so that no "
        "request has to derive them for every trial (the registry sync does it by itself)."
    )

    def handle(self, *args, **options):
        for name, facet in STORED_FACETS.items():
            rederive(facet)
            found = stored_options(facet)
            trials = found.values("result_id").distinct().count()
            self.stdout.write(f"{name}: {trials} trials, {found.count()} options")
