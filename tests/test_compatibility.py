"""The compatibility rules that pages and API share (review sections 4 and 8)."""

import pytest

from agents.compatibility import class_suitability, pair_warnings
from agents.models import Agent, NKCellProduct
from trials.models import Trial

pytestmark = pytest.mark.django_db


def codes(agent_slug, product_slug):
    agent = Agent.objects.get(slug=agent_slug)
    product = NKCellProduct.objects.get(slug=product_slug)
    return [warning.code for warning in pair_warnings(agent, product)]


@pytest.mark.parametrize(
    ("agent", "product", "expected"),
    [
        ("rituximab", "nk-92", ["cd16-lacking"]),  # ADAM17 is moot without CD16
        ("trike-161533", "stem-cell-derived-nk", ["cd16-lacking", "adam17-shedding"]),
        ("afm13", "cord-blood-nk", ["adam17-shedding"]),  # CD16 status not stated
        ("rituximab", "cd19-t-hank", ["adam17-shedding"]),  # high-affinity but cleavable
        ("daratumumab", "ft576", []),  # not stated to act through CD16
        ("cetuximab", "ft576", []),  # non-cleavable CD16
        ("n-803", "nk-92", []),  # a cytokine needs no CD16
        ("pertuzumab", "nk-92", []),  # NK cell-independent
    ],
)
def test_pair_rules(agent, product, expected):
    assert codes(agent, product) == expected


def test_a_lacking_cd16_warning_cites_section_8():
    [warning] = pair_warnings(
        Agent.objects.get(slug="rituximab"), NKCellProduct.objects.get(slug="nk-92")
    )
    assert (warning.severity, warning.section, warning.references) == ("warning", "8", (180,))
    assert "rituximab" in warning.message and "NK-92" in warning.message


def test_trial_warnings_cover_every_agent_and_product_pair():
    trial = Trial.objects.with_related().get(nct_id="NCT04074746")  # AFM13 + cord blood NK cells
    assert [(w.agent.slug, w.product.slug, w.code) for w in trial.compatibility_warnings] == [
        ("afm13", "cord-blood-nk", "adam17-shedding")
    ]


def test_a_product_without_cd16_suits_cytokines_but_not_cd16_dependent_classes():
    verdicts = {
        row.agent_class.value: row.verdict
        for row in class_suitability(NKCellProduct.objects.get(slug="nk-92"))
    }
    assert verdicts["cytokine"] == "Suits"
    assert verdicts["tumor-targeting-mab"].startswith("Poor fit")
    assert verdicts["engager"].startswith("Poor fit")
