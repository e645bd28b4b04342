"""The trial facets that code derives, kept in the database and mended after each write
(nkkb.core.stored_facets), by the filter they serve."""

from django.db.models import JSONField, OuterRef, QuerySet, Subquery

from nkkb.core.queries import IdsQuery
from nkkb.core.stored_facets import DerivedFacet
from registry.models import RegistryRecord

from . import best_known
from .discrepancies import DISCREPANCIES
from .models import WARNINGS, Trial, touched_trials


def _with_countries(trials: QuerySet) -> QuerySet:
    """(id, countries of its registry record) of each of `trials`."""
    countries = RegistryRecord.objects.filter(nct_id=OuterRef("nct_id")).values("countries")
    rows = trials.order_by().annotate(countries=Subquery(countries, output_field=JSONField()))
    return rows.values_list("pk", "countries")


# After a write, the countries of the trials it touched: compiled once, as a page's relations
# are (its ORM build cost more than its query).
TRIALS_COUNTRIES = IdsQuery(lambda ids: _with_countries(Trial.objects.filter(pk__in_ids=ids)))


def country_rows(trial_ids: list[int] | None = None):
    """(country, id) of each country where the registry lists a site of the trials `trial_ids`
    names (every trial where None): the options of the stored facet COUNTRIES."""
    if trial_ids is None:
        rows = _with_countries(Trial.objects.all()).iterator()
    else:
        rows = TRIALS_COUNTRIES(trial_ids)
    for trial_id, names in rows:
        for name in dict.fromkeys(names or ()):
            yield name, trial_id


# The countries are a list in each registry record's JSON: a filter by country read and parsed
# every record.
COUNTRIES = DerivedFacet(
    "trials.countries", country_rows, touched_trials, statements=(TRIALS_COUNTRIES,)
)

# Each trial's best-known phase and status: each worker read them for every trial through the
# best-known conditions (the curated value, else the registry's) on its first count.
PHASES = DerivedFacet(
    "trials.phases",
    best_known.phase_rows.rows,
    touched_trials,
    statements=(best_known.phase_rows.chosen_for,),
)
STATUSES = DerivedFacet(
    "trials.statuses",
    best_known.status_rows.rows,
    touched_trials,
    statements=(best_known.status_rows.chosen_for,),
)

STORED_FACETS = {
    "phase": PHASES,
    "status": STATUSES,
    "country": COUNTRIES,
    "has_discrepancy": DISCREPANCIES,
    "has_warning": WARNINGS,
}
