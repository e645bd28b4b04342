"""Bad data is refused twice: by model validation with a clear message, and by the database."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from agents.models import Agent, NKCellProduct
from trials.filtersets import TrialFilterSet
from trials.models import Result, Trial, TrialAgent, therapy_class_rows

pytestmark = pytest.mark.django_db

PROVENANCE = {
    "source_section": "5.2",
    "source_references": [95],
    "source_quote": "complete response (CR) was achieved in all nine patients",
    "source_summary": "All nine BCG-naive patients had a complete response.",
}


def new_trial(**fields):
    return Trial(**{"nct_id": "NCT99999999", "title": "A new trial", **PROVENANCE, **fields})


def assert_refused(instance, field, message):
    """Validation names the field and says what is wrong; the database refuses it as well."""
    count = type(instance).objects.count()
    with pytest.raises(ValidationError) as raised:
        instance.full_clean()
    assert any(message in text for text in raised.value.message_dict[field]), raised.value
    with pytest.raises(DatabaseError), transaction.atomic():
        instance.save()
    assert type(instance).objects.count() == count


def test_a_valid_trial_passes_validation():
    trial = new_trial(phase="1b", status="COMPLETED", enrollment=9)
    trial.full_clean()
    trial.save()
    assert Trial.objects.filter(nct_id="NCT99999999").exists()


@pytest.mark.parametrize(
    "nct_id",
    ["NCT123", "NCT999999990", "XYZ99999999", "NCT9999999A", "NCT 9999999"],
)
def test_a_malformed_nct_number_is_refused(nct_id):
    assert_refused(new_trial(nct_id=nct_id), "nct_id", "'NCT' followed by exactly 8 digits")


@pytest.mark.parametrize("typed", ["nct99999999", " NCT99999999 ", "Nct99999999\n"])
def test_an_nct_number_in_lower_case_or_with_spaces_is_stored_canonical(typed):
    trial = new_trial(nct_id=typed)
    trial.full_clean()
    trial.save()
    assert Trial.objects.get(pk=trial.pk).nct_id == "NCT99999999"


def test_an_unknown_phase_is_refused():
    assert_refused(new_trial(phase="1c"), "phase", "is not a valid choice")


def test_an_unknown_status_is_refused():
    assert_refused(new_trial(status="ONGOING"), "status", "is not a valid choice")


def test_a_negative_enrollment_is_refused():
    assert_refused(new_trial(enrollment=-1), "enrollment", "greater than or equal to 0")


def test_a_duplicate_trial_is_refused():
    assert_refused(new_trial(nct_id="NCT02138734"), "nct_id", "already exists")


def test_a_trial_without_provenance_is_refused():
    trial = new_trial(source_section="", source_quote="", source_summary="")
    with pytest.raises(ValidationError) as raised:
        trial.full_clean()
    assert {"source_section", "source_quote", "source_summary"} <= set(raised.value.message_dict)


def test_references_must_be_reference_numbers():
    trial = new_trial(source_references=["95", -1])
    with pytest.raises(ValidationError) as raised:
        trial.full_clean()
    assert "reference numbers" in raised.value.message_dict["source_references"][0]


def new_result(**fields):
    trial = Trial.objects.get(nct_id="NCT02138734")
    return Result(
        **{
            "trial": trial,
            "metric": "orr",
            "value": Decimal("50"),
            "unit": "percent",
            **PROVENANCE,
            **fields,
        }
    )


def test_a_percentage_above_100_is_refused():
    assert_refused(new_result(value=Decimal("140")), "__all__", "between 0 and 100")


def test_a_count_above_its_denominator_is_refused():
    result = new_result(value=Decimal("10"), unit="patients", denominator=9)
    assert_refused(result, "__all__", "cannot exceed its denominator")


def test_an_agent_linked_twice_to_a_trial_is_refused():
    link = TrialAgent.objects.filter(trial__nct_id="NCT02138734").first()
    duplicate = TrialAgent(trial=link.trial, agent=link.agent, role="combination")
    assert_refused(duplicate, "__all__", "already linked")


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"value": Decimal("71")}, "71%"),
        ({"value": Decimal("26.6"), "unit": "months"}, "26.6 months"),
        ({"value": Decimal("4"), "unit": "patients", "denominator": 12}, "4 of 12 patients"),
        (
            {"value": Decimal("7"), "unit": "fold", "value_qualifier": "more-than"},
            "more than 7-fold",
        ),
        ({"value": Decimal("70"), "value_qualifier": "approximately"}, "about 70%"),
    ],
)
def test_a_result_reads_as_the_review_states_it(fields, shown):
    assert new_result(**fields).display_value == shown


def test_therapy_classes_are_derived_from_agents_and_products():
    trial = new_trial()
    trial.save()
    assert trial.therapy_classes == []

    TrialAgent.objects.create(trial=trial, agent=Agent.objects.get(slug="n-803"))
    TrialAgent.objects.create(trial=trial, agent=Agent.objects.get(slug="chemotherapy"))
    trial.nk_products.add(NKCellProduct.objects.get(slug="pd-l1-t-hank"))

    assert trial.therapy_classes == ["cytokine", "nk-cell-product", "other"]
    for therapy_class, expected in [
        ("nk-cell-product", True),
        ("cytokine", True),
        ("engager", False),
    ]:
        matching = TrialFilterSet({"therapy_class": [therapy_class]}, Trial.objects.all()).qs
        assert matching.filter(pk=trial.pk).exists() is expected


def test_therapy_classes_of_a_trial_are_its_therapy_class_rows():
    """`Trial.therapy_classes` (prefetched relations) and `therapy_class_rows` (the database,
    which the filter and the facet read) apply one rule: every seed trial gets the same classes."""
    from_rows = {}
    for rows in therapy_class_rows():
        for therapy_class, trial_id in rows.values_list("facet_value", "facet_result"):
            from_rows.setdefault(trial_id, set()).add(therapy_class)
    trials = Trial.objects.with_related()
    assert len(trials) > 50
    for trial in trials:
        assert set(trial.therapy_classes) == from_rows.get(trial.pk, set()), trial.nct_id


def test_therapy_classes_of_a_prefetched_trial_cost_no_query(django_assert_num_queries):
    trial = Trial.objects.prefetch_related("trial_agents__agent", "nk_products").get(
        nct_id="NCT04390399"
    )
    with django_assert_num_queries(0):
        classes = trial.therapy_classes
    assert "nk-cell-product" in classes


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"source_summary": "x" * 4001}, "source_summary"),
        ({"source_references": list(range(1, 60))}, "source_references"),
        ({"title": "x" * 301}, "title"),
    ],
)
def test_every_text_has_a_length_limit(fields, field):
    with pytest.raises(ValidationError) as raised:
        new_trial(**fields).full_clean()
    assert field in raised.value.message_dict


def test_names_and_free_texts_of_an_agent_are_bounded():
    agent = Agent.objects.get(slug="n-803")
    agent.aliases = ["x" * 121]
    agent.mechanism = "y" * 4001
    with pytest.raises(ValidationError) as raised:
        agent.full_clean()
    assert {"aliases", "mechanism"} <= set(raised.value.message_dict)
