"""validate_kb: silent on the seed, and finds each kind of problem when it is planted."""

import io
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F

from agents.models import Agent, Target
from trials.models import Condition, Result, Trial, TrialAgent

pytestmark = pytest.mark.django_db

TRIAL = "NCT02138734"


def validate_kb() -> tuple[bool, list[str]]:
    """(passed, the problem lines it printed)."""
    out = io.StringIO()
    try:
        call_command("validate_kb", stdout=out, stderr=io.StringIO())
    except CommandError as error:
        assert "problem(s) found" in str(error)
        return False, out.getvalue().splitlines()
    return True, out.getvalue().splitlines()


@contextmanager
def check_constraint_off(model, name: str):
    """Let a row break the CHECK constraint `name`, as a database edited by hand might."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Dropped inside the test's transaction: the rollback brings it back.
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
            yield
        else:
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            try:
                yield
            finally:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")


def result_of(trial: str, **conditions) -> Result:
    return Result.objects.filter(trial__nct_id=trial, **conditions).first()


def plant_bad_nct_number():
    with check_constraint_off(Trial, "trial_nct_id_format"):
        Trial.objects.filter(nct_id=TRIAL).update(nct_id="NCT2138734")


def plant_phase_outside_vocabulary():
    with check_constraint_off(Trial, "trial_phase_in_vocabulary"):
        Trial.objects.filter(nct_id=TRIAL).update(phase="phase 5")


def plant_agent_class_outside_vocabulary():
    with check_constraint_off(Agent, "agent_agent_class_in_vocabulary"):
        Agent.objects.filter(slug="rituximab").update(agent_class="vaccine")


def plant_trial_without_agent_or_product():
    TrialAgent.objects.filter(trial__nct_id=TRIAL).delete()


def plant_percentage_above_100():
    with check_constraint_off(Result, "result_percent_at_most_100"):
        Result.objects.filter(pk=result_of("NCT02321592", unit="percent").pk).update(value=150)


def plant_count_above_denominator():
    with check_constraint_off(Result, "result_count_within_denominator"):
        Result.objects.filter(pk=result_of("NCT04185220", metric="pr").pk).update(value=7)


def plant_result_without_metric():
    with check_constraint_off(Result, "result_metric_in_vocabulary"):
        Result.objects.filter(pk=result_of("NCT02321592").pk).update(metric="")


def plant_missing_quote():
    Agent.objects.filter(slug="rituximab").update(source_quote="")


def plant_missing_section():
    Result.objects.filter(pk=result_of(TRIAL).pk).update(source_section="")


def plant_malformed_references():
    Target.objects.filter(slug="cd20").update(source_references=["95", 96])


def plant_orphan_condition():
    Condition.objects.create(name="Orphaned condition", slug="orphaned-condition")


def plant_untargeted_tumor_antigen():
    cd20 = Target.objects.get(slug="cd20")
    cd20.agents.clear()
    cd20.nk_products.clear()


def plant_engager_without_target():
    Agent.objects.get(slug="afm13").targets.clear()


def first_result_key(trial, **conditions) -> str:
    return f"{trial} result {result_of(trial, **conditions).pk}"


@pytest.mark.parametrize(
    ("plant", "record", "field", "message"),
    [
        (plant_bad_nct_number, "Trial NCT2138734", "nct_id", "NCT number must be 'NCT'"),
        (plant_phase_outside_vocabulary, f"Trial {TRIAL}", "phase", "not a valid choice"),
        (plant_agent_class_outside_vocabulary, "Agent rituximab", "agent_class", "valid choice"),
        (plant_trial_without_agent_or_product, f"Trial {TRIAL}", "agents", "no agent and no NK"),
        (
            plant_percentage_above_100,
            lambda: f"Result {first_result_key('NCT02321592', unit='percent')}",
            "unit, value",
            "A percentage must lie between 0 and 100.",
        ),
        (
            plant_count_above_denominator,
            lambda: f"Result {first_result_key('NCT04185220', metric='pr')}",
            "denominator, value",
            "A count cannot exceed its denominator.",
        ),
        (
            plant_result_without_metric,
            lambda: f"Result {first_result_key('NCT02321592')}",
            "metric",
            "cannot be blank",
        ),
        (plant_missing_quote, "Agent rituximab", "source_quote", "cannot be blank"),
        (
            plant_missing_section,
            lambda: f"Result {first_result_key(TRIAL)}",
            "source_section",
            "cannot be blank",
        ),
        (plant_malformed_references, "Target cd20", "source_references", "reference numbers"),
        (plant_orphan_condition, "Condition orphaned-condition", "trials", "No trial enrolls"),
        (plant_untargeted_tumor_antigen, "Target cd20", "agents", "No agent or NK cell product"),
        (plant_engager_without_target, "Agent afm13", "targets", "must name its target"),
    ],
    ids=lambda value: value.__name__.removeprefix("plant_") if callable(value) else None,
)
def test_each_planted_problem_is_reported_with_its_record_and_field(plant, record, field, message):
    record = record() if callable(record) else record
    plant()

    passed, lines = validate_kb()

    assert not passed
    assert any(line.startswith(f"{record}: {field}: ") and message in line for line in lines), lines


def test_the_seed_passes():
    passed, lines = validate_kb()
    assert passed, lines
    assert lines == ["The knowledge base is valid."]


def test_every_problem_is_reported_not_only_the_first():
    plant_missing_quote()
    plant_orphan_condition()
    plant_trial_without_agent_or_product()

    passed, lines = validate_kb()

    assert not passed
    assert lines == [
        "Agent rituximab: source_quote: This field cannot be blank.",
        "Condition orphaned-condition: trials: No trial enrolls this condition.",
        f"Trial {TRIAL}: agents: The trial is linked to no agent and no NK cell product.",
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"source_quote": "a fragment the review never wrote"}, "source_quote", "not verbatim"),
        ({"source_references": [95, 999]}, "source_references", "does not cite [999]"),
        ({"source_section": "9"}, "source_section", f"does not mention {TRIAL}"),
        ({"source_summary": F("source_quote")}, "source_summary", "repeats the quote"),
    ],
    ids=["quote", "references", "section", "summary"],
)
def test_provenance_that_disagrees_with_the_review_is_reported(review, changes, field, message):
    Trial.objects.filter(nct_id=TRIAL).update(**changes)

    passed, lines = validate_kb()

    assert not passed
    assert any(line.startswith(f"Trial {TRIAL}: {field}: ") and message in line for line in lines)
