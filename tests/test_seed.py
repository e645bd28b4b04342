"""The seed is the review, faithfully: every trial, every name, every citation checks out."""

import re
import shutil

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from agents.models import Agent, NKCellProduct, Target
from nkkb.core.knowledge_base import knowledge_base_counts
from nkkb.core.problems import ProblemsError
from nkkb.core.review import normalise_whitespace
from trials.models import Condition, Result, Trial, TrialAgent
from trials.services.seed import seed_load

pytestmark = pytest.mark.django_db

CITED_MODELS = (Target, Agent, NKCellProduct, Trial, Result)


def seed_entries(filename):
    return yaml.safe_load((settings.NKKB_FIXTURES_DIR / filename).read_text(encoding="utf-8"))


def cited_records():
    for model in CITED_MODELS:
        yield from model.objects.all()


def label(record):
    return f"{type(record).__name__} {record}"


def test_the_seed_holds_every_nct_number_of_the_review(review):
    in_review = set(re.findall(r"NCT\d{8}", review.text))
    assert len(in_review) == 58
    assert set(Trial.objects.values_list("nct_id", flat=True)) == in_review


def test_each_trial_is_found_in_the_section_its_provenance_cites(review):
    misplaced = [
        f"{trial.nct_id} (section {trial.source_section})"
        for trial in Trial.objects.all()
        if trial.nct_id not in review.sections[trial.source_section]
    ]
    assert misplaced == []


def test_every_quote_is_verbatim_in_the_cited_section(review):
    not_found = [
        f"{label(record)}: {record.source_quote!r} not in section {record.source_section}"
        for record in cited_records()
        if normalise_whitespace(record.source_quote)
        not in review.section_text(record.source_section)
    ]
    assert not_found == []


def test_every_reference_number_is_cited_in_the_cited_section(review):
    unresolved = [
        f"{label(record)}: {sorted(set(record.source_references) - review.citations(section))}"
        f" not cited in section {section}"
        for record in cited_records()
        if not set(record.source_references) <= review.citations(section := record.source_section)
    ]
    assert unresolved == []


def test_every_curated_record_has_a_summary_of_its_own():
    copied = [
        label(record)
        for record in cited_records()
        if not record.source_summary.strip()
        or record.source_summary.strip() == record.source_quote.strip()
    ]
    assert copied == []


def test_every_trial_has_an_agent_or_an_nk_cell_product():
    bare = Trial.objects.filter(agents__isnull=True, nk_products__isnull=True)
    assert list(bare.values_list("nct_id", flat=True)) == []


@pytest.mark.parametrize(
    ("model", "filename"),
    [
        (Target, "targets.yaml"),
        (Agent, "agents.yaml"),
        (NKCellProduct, "nk_products.yaml"),
        (Condition, "conditions.yaml"),
        (Trial, "trials.yaml"),
    ],
)
def test_every_seed_entry_is_loaded(model, filename):
    assert model.objects.count() == len(seed_entries(filename))


def test_every_link_and_result_of_the_seed_is_loaded():
    trials = seed_entries("trials.yaml")
    assert TrialAgent.objects.count() == sum(len(t["agents"]) for t in trials)
    assert Result.objects.count() == sum(len(t["results"]) for t in trials)
    assert Trial.nk_products.through.objects.count() == sum(len(t["nk_products"]) for t in trials)


@pytest.mark.parametrize(
    "name",
    [
        "IL-2",
        "IL-15",
        "IL-12",
        "IL-18",
        "IL-21",
        "N-803",
        "MDNA11",
        "TILT-123",
        "rituximab",
        "trastuzumab",
        "cetuximab",
        "dinutuximab",
        "naxitamab",
        "daratumumab",
        "alemtuzumab",
        "mogamulizumab",
        "DR-01",
        "avelumab",
        "pembrolizumab",
        "durvalumab",
        "monalizumab",
        "161533",
        "IPH6501",
        "SAR445514",
        "SAR443579",
        "AFM13",
        "BCG",
    ],
)
def test_the_agents_the_review_names_are_in_the_knowledge_base(name):
    assert Agent.objects.filter(name__iexact=name).exists()


@pytest.mark.parametrize(
    "name",
    ["NK-92", "CYNK-001", "CYNK-101", "WU-NK-101", "FT576"],
)
def test_the_named_nk_cell_products_are_in_the_knowledge_base(name):
    assert NKCellProduct.objects.filter(name__iexact=name).exists()


@pytest.mark.parametrize(
    "slug",
    [
        "cd16",
        "nkg2a",
        "nkg2d",
        "pd-1",
        "pd-l1",
        "tigit",
        "lag-3",
        "tim-3",
        "cd20",
        "her2",
        "egfr",
        "gd2",
        "cd38",
        "bcma",
        "cd33",
        "cd19",
        "cd30",
        "cd123",
        "nkp46",
        "il-2rb",
    ],
)
def test_the_targets_the_review_names_are_in_the_knowledge_base(slug):
    assert Target.objects.filter(slug=slug).exists()


def test_a_trial_described_across_paragraphs_carries_all_its_parts():
    """NCT03019640: cord blood NK cells, rituximab, chemotherapy and a transplant; 22 patients."""
    trial = Trial.objects.get(nct_id="NCT03019640")
    assert {"rituximab", "chemotherapy", "autologous-sct"} <= set(
        trial.agents.values_list("slug", flat=True)
    )
    assert list(trial.nk_products.values_list("slug", flat=True)) == ["cord-blood-nk"]
    assert trial.enrollment == 22
    assert {"orr", "rfs"} <= set(trial.results.values_list("metric", flat=True))


def snapshot():
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Target, Agent, NKCellProduct, Condition, Trial, TrialAgent, Result)
    }


def test_the_seed_loads_into_an_empty_database_and_a_second_load_changes_nothing(
    empty_knowledge_base,
):
    first = seed_load(directory=settings.NKKB_FIXTURES_DIR)
    assert first.loaded
    assert first.counts["trials"] == 58
    before = snapshot()

    second = seed_load(directory=settings.NKKB_FIXTURES_DIR)

    assert not second.loaded
    assert second.counts == first.counts
    assert snapshot() == before


def test_the_seed_is_not_loaded_over_existing_records(capsys):
    Trial.objects.filter(nct_id="NCT02138734").update(title="Edited by a curator")
    call_command("load_seed")
    assert "seed not loaded" in capsys.readouterr().out
    assert Trial.objects.get(nct_id="NCT02138734").title == "Edited by a curator"


@pytest.fixture
def broken_seed(tmp_path):
    """A copy of the seed that a test may break."""
    shutil.copytree(settings.NKKB_FIXTURES_DIR, tmp_path, dirs_exist_ok=True)
    return tmp_path


def rewrite_trials(directory, change):
    trials = yaml.safe_load((directory / "trials.yaml").read_text(encoding="utf-8"))
    change(trials)
    (directory / "trials.yaml").write_text(
        yaml.safe_dump(trials, allow_unicode=True), encoding="utf-8"
    )


def test_a_broken_seed_is_reported_by_file_and_entry_and_changes_nothing(
    empty_knowledge_base, broken_seed
):
    def break_trials(trials):
        trials[0]["phase"] = "Ic"
        trials[1]["nct_id"] = "NCT123"
        trials[2]["agents"].append({"agent": "no-such-agent", "role": "combination"})
        trials[3]["enrollment"] = -5

    rewrite_trials(broken_seed, break_trials)

    with pytest.raises(ProblemsError) as raised:
        seed_load(directory=broken_seed)

    problems = "\n".join(raised.value.problems)
    assert "trials.yaml entry 1" in problems and "phase 'Ic' is not one of" in problems
    assert "trials.yaml entry 2 (NCT123)" in problems and "8 digits" in problems
    assert "no-such-agent" in problems
    assert "trials.yaml entry 4" in problems and "enrollment" in problems
    assert all(count == 0 for count in knowledge_base_counts().values())


def test_a_seed_file_that_is_not_yaml_is_reported_and_changes_nothing(
    empty_knowledge_base, broken_seed
):
    (broken_seed / "agents.yaml").write_text("- slug: il-2\n  name: [unclosed\n", encoding="utf-8")

    with pytest.raises(CommandError, match="agents.yaml: is not valid YAML"):
        call_command("load_seed", directory=broken_seed)

    assert all(count == 0 for count in knowledge_base_counts().values())
