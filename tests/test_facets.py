"""Facet counts (nkkb/facets.py) equal the lists their options lead to, whatever the filters."""

import pytest
from django.http import QueryDict

from nkkb.core.facets import facet_counts
from trials.filtersets import TrialFilterSet
from trials.models import Trial

SELECTIONS = [
    "",
    "therapy_class=engager",
    "therapy_class=cytokine&therapy_class=nk-cell-product",
    "phase=1&phase=2&status=COMPLETED",
    "target=cd16&nk_product=cord-blood-nk",
    "q=leukemia&cd16_status=high-affinity-non-cleavable",
    "agent=no-such-agent",
    "therapy_class=cytokine&start_year_min=2015",
    "enrollment_max=40&has_registry_record=true",
    # One invalid value among valid ones: the list is empty, so are the other facets' counts.
    "phase=1&phase=9z&therapy_class=engager",
]


def listed(query: QueryDict) -> int:
    """The trials the list shows for `query`: none where a filter is invalid."""
    filterset = TrialFilterSet(query, queryset=Trial.objects.all())
    return filterset.qs.count() if filterset.is_valid() else 0


@pytest.mark.django_db
@pytest.mark.parametrize("selection", SELECTIONS)
def test_each_option_counts_the_trials_its_link_would_list(selection):
    filterset = TrialFilterSet(QueryDict(selection), queryset=Trial.objects.all())
    counts = facet_counts(filterset)
    assert set(counts) == set(TrialFilterSet.facet_paths)
    for name, option_counts in counts.items():
        field = filterset.form.fields[name]
        options = [
            getattr(choice, "slug", None) or choice
            for choice in (field.queryset if hasattr(field, "queryset") else dict(field.choices))
            if choice != ""
        ]
        for option in options:
            query = QueryDict(selection, mutable=True)
            if name in TrialFilterSet.conjoined_facets:
                query.appendlist(name, option)
            else:
                query.setlist(name, [option])
            assert option_counts.get(option, 0) == listed(query), (name, option)
