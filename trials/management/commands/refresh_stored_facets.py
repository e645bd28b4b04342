from django.core.management.base import BaseCommand

from nkkb.core.stored_facets import refresh_every, stored_options
from trials.stored_facets import STORED_FACETS


class Command(BaseCommand):
    help = (
        "Derive the stored facets (each trial's best-known phase and status, its countries, "
        "whether it differs from its registry record, whether the compatibility rules warn "
        "about it) afresh for every trial. Requests mend them after each write; after data "
        "loaded in bulk by other means than the seed load, the registry sync or a release's "
        "restore, run this so that no request has to derive them for every trial."
    )

    def handle(self, *args, **options):
        refresh_every(afresh=True)
        for name, facet in STORED_FACETS.items():
            found = stored_options(facet)
            trials = found.values("result_id").distinct().count()
            self.stdout.write(f"{name}: {trials} trials, {found.count()} options")
