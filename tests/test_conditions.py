"""Issue #14: the condition hierarchy. Groups are conditions curated with provenance, every
condition of the seed has its place, and a group's filter, count and API reach every condition
below it."""

import html
import re
import shutil

import pytest
import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from nkkb.core.accounts import curator_create
from nkkb.core.knowledge_base import knowledge_base_counts
from nkkb.core.problems import ProblemsError
from nkkb.core.review import normalise_whitespace
from tests.conftest import forget_responses
from tests.test_admin import PASSWORD, admin_url, form_data
from trials.filtersets import TrialFilterSet
from trials.models import Condition, PlacementBasis, Trial, condition_lineages
from trials.services.seed import seed_load
from trials.services.validation import kb_validate

pytestmark = pytest.mark.django_db

V1 = "/api/v1"
TOP_LEVEL_GROUPS = {"hematologic-malignancies", "solid-tumors"}
GROUPS = [
    "hematologic-malignancies",
    "lymphoma",
    "non-hodgkin-lymphoma",
    "myeloid-neoplasms",
    "lymphocytic-leukemia",
    "solid-tumors",
    "melanoma",
    "head-and-neck-cancer",
]
CD123_ENGAGER_TRIAL = "NCT05086315"


def seed_entries(filename: str) -> list[dict]:
    return yaml.safe_load((settings.NKKB_FIXTURES_DIR / filename).read_text(encoding="utf-8"))


def trials_under(slug: str) -> set[str]:
    """The trials filed under `slug` or under a condition below it, found by following each of
    their conditions' parents up (not through the code under test)."""
    parents = dict(Condition.objects.values_list("slug", "parent__slug"))
    found = set()
    for nct_id, condition in Trial.objects.values_list("nct_id", "conditions__slug"):
        while condition is not None:
            if condition == slug:
                found.add(nct_id)
            condition = parents[condition]
    return found


def filtered(query: str) -> set[str]:
    filterset = TrialFilterSet(QueryDict(query), queryset=Trial.objects.all())
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs.values_list("nct_id", flat=True))


def facet_options(page: str) -> list[tuple[str, str, int]]:
    """(value, label, count) of the condition facet's checkboxes, in the panel's order."""
    options = re.findall(
        r'name="condition" value="([^"]*)"[^>]*>([^<]*)<span class="count" data-count="(\d+)"',
        page,
    )
    return [(value, html.unescape(label).strip(), int(count)) for value, label, count in options]


@pytest.fixture
def curator_api():
    api = APIClient()
    api.force_authenticate(curator_create(username="cora", password=PASSWORD))
    return api


# The seed: every condition placed, with provenance


def test_every_condition_of_the_trials_is_placed_in_the_hierarchy():
    placed = {entry["name"] for entry in seed_entries("conditions.yaml")}
    named = {name for trial in seed_entries("trials.yaml") for name in trial["conditions"]}
    assert named <= placed
    assert not Condition.objects.filter(placement_basis__isnull=True).exists()
    top_level = set(Condition.objects.filter(parent=None).values_list("slug", flat=True))
    assert top_level == TOP_LEVEL_GROUPS


def test_every_group_holds_trials_and_every_condition_lies_under_a_top_level_group():
    lineages = condition_lineages()
    for condition in Condition.objects.all():
        assert lineages[condition.pk][0].slug in TOP_LEVEL_GROUPS, condition.slug
        assert trials_under(condition.slug), condition.slug


def test_a_place_the_review_states_quotes_the_cited_section(review):
    stated = Condition.objects.filter(placement_basis=PlacementBasis.REVIEW)
    assert stated.count() > 20
    for condition in stated:
        section = review.section_text(condition.source_section)
        assert normalise_whitespace(condition.source_quote) in section, condition.slug
        assert set(condition.source_references) <= review.citations(condition.source_section)
        assert condition.source_summary.strip() not in ("", condition.source_quote.strip())
        assert condition.classification == ""


def test_a_place_given_by_a_classification_names_it_and_quotes_no_review():
    classified = Condition.objects.filter(placement_basis=PlacementBasis.CLASSIFICATION)
    assert classified.count() > 10
    for condition in classified:
        assert re.match(r"(ICD-10|WHO Classification of Haematolymphoid)", condition.classification)
        assert (condition.source_section, condition.source_quote) == ("", "")
        assert condition.source_references == [] and condition.source_summary.strip()


def test_the_cd123_engager_trial_is_a_hematologic_malignancy_and_not_filed_under_aml():
    """The review says only "various hematologic malignancies": no AML to file it under."""
    trial = Trial.objects.get(nct_id=CD123_ENGAGER_TRIAL)
    assert [c.slug for c in trial.conditions.all()] == ["hematologic-malignancies"]
    assert CD123_ENGAGER_TRIAL in filtered("condition=hematologic-malignancies")
    assert CD123_ENGAGER_TRIAL not in filtered("condition=acute-myeloid-leukemia")
    assert CD123_ENGAGER_TRIAL not in filtered("condition=myeloid-neoplasms")


# A group's filter takes in every condition below it


@pytest.mark.parametrize("slug", GROUPS)
def test_a_group_finds_the_trials_filed_under_any_condition_below_it(slug):
    directly = set(Trial.objects.filter(conditions__slug=slug).values_list("nct_id", flat=True))
    found = filtered(f"condition={slug}")
    assert found == trials_under(slug)
    assert found > directly


@pytest.mark.parametrize("slug", ["lymphoma", "myeloid-neoplasms", "melanoma"])
def test_the_page_and_the_api_list_a_groups_trials_alike(client, slug):
    page = client.get(f"/trials/?condition={slug}&page_size=100").content.decode()
    on_page = set(re.findall(r'<a href="/trials/(NCT\d{8})/">NCT', page))
    listed = APIClient().get(f"{V1}/trials/", {"condition": slug, "page_size": 100}).json()
    assert on_page == {trial["nct_id"] for trial in listed["results"]} == trials_under(slug)


def test_several_conditions_are_or_ed_and_an_unknown_one_is_a_400():
    assert filtered("condition=melanoma&condition=lung-cancer") == trials_under(
        "melanoma"
    ) | trials_under("lung-cancer")
    response = APIClient().get(f"{V1}/trials/", {"condition": "no-such-condition"})
    assert response.status_code == 400
    assert "no-such-condition" in response.json()["condition"][0]


def test_the_trial_list_with_a_group_runs_a_constant_number_of_queries(list_queries_by_page_size):
    counts = list_queries_by_page_size("/trials/?condition=lymphoma&")
    assert counts[0] == counts[1], counts


# Facet panel: groups as "Group > Subgroup" labels, counting their subtree


def test_the_facet_panel_shows_the_hierarchy_and_counts_each_subtree(client):
    options = facet_options(client.get("/trials/").content.decode())
    labels = {value: label for value, label, _ in options}
    assert labels["lymphoma"] == "Hematologic malignancies > Lymphoma"
    assert labels["mycosis-fungoides"] == (
        "Hematologic malignancies > Lymphoma > Non-Hodgkin lymphoma > T and NK cell lymphoma > "
        "Mycosis fungoides"
    )
    # Each group comes first and the conditions below it follow.
    order = [value for value, _, _ in options]
    assert (
        order.index("lymphoma")
        < order.index("hodgkin-lymphoma")
        < order.index("t-and-nk-cell-lymphoma")
    )
    assert order == sorted(order, key=lambda value: labels[value].casefold().split(" > "))
    for value, _, count in options:
        assert count == len(trials_under(value)), value


def test_a_groups_count_with_other_filters_is_what_its_link_lists(client):
    options = facet_options(client.get("/trials/?therapy_class=nk-cell-product").content.decode())
    counts = {value: count for value, _, count in options}
    for slug in ("hematologic-malignancies", "lymphoma", "solid-tumors"):
        expected = filtered(f"therapy_class=nk-cell-product&condition={slug}")
        assert counts[slug] == len(expected) > 0, slug


def test_an_applied_group_is_a_chip_with_its_path(client):
    page = client.get("/trials/?condition=non-hodgkin-lymphoma").content.decode()
    chips = re.findall(r'<a class="chip"[^>]*>([^<]*)<', page)
    assert [html.unescape(chip) for chip in chips] == [
        "Condition: Hematologic malignancies > Lymphoma > Non-Hodgkin lymphoma"
    ]


# The trial page and the API


def test_the_trial_page_shows_each_condition_with_its_group_path(client):
    page = client.get("/trials/NCT03019640/").content.decode()
    path = re.search(r'<small class="condition-groups">\(in (.*?)\)</small>', page).group(1)
    assert re.findall(r'<a href="/trials/\?condition=([\w-]+)">', path) == [
        "hematologic-malignancies",
        "lymphoma",
        "non-hodgkin-lymphoma",
        "b-cell-non-hodgkin-lymphoma",
    ]


def test_a_condition_in_the_api_gives_its_parent_and_what_its_place_rests_on():
    api = APIClient()
    condition = api.get(f"{V1}/conditions/mycosis-fungoides/").json()
    assert condition["parent"] == "t-and-nk-cell-lymphoma"
    assert condition["provenance"]["basis"] == "classification"
    assert condition["provenance"]["classification"].startswith("ICD-10")
    group = api.get(f"{V1}/conditions/lymphoma/").json()
    assert group["trial_count"] == len(trials_under("lymphoma"))
    listed = api.get(f"{group['trials_url']}&page_size=100").json()
    assert {trial["nct_id"] for trial in listed["results"]} == trials_under("lymphoma")
    assert api.get(f"{V1}/conditions/hematologic-malignancies/").json()["parent"] is None


def test_a_curator_adds_a_group_and_moves_a_branch_into_it(client, curator_api):
    melanoma_trials = trials_under("melanoma")
    client.get("/trials/")  # the facet index, read before the move
    created = curator_api.post(
        f"{V1}/conditions/",
        {
            "slug": "skin-cancer",
            "name": "Skin cancer",
            "parent": "solid-tumors",
            "provenance": {
                "basis": "classification",
                "classification": "ICD-10 (WHO, 2019 edition): C43–C44 Melanoma and other "
                "malignant neoplasms of skin",
                "summary": "Cancers that arise in the skin, melanoma among them.",
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    version = Condition.objects.get(slug="melanoma").version
    moved = curator_api.patch(
        f"{V1}/conditions/melanoma/",
        {"parent": "skin-cancer", "version": version},
        format="json",
    )
    assert moved.status_code == 200, moved.json()

    # The trials of the conditions below Melanoma move with it, in the list and in the counts.
    assert filtered("condition=skin-cancer") == trials_under("skin-cancer") == melanoma_trials
    page = client.get("/trials/").content.decode()
    counts = {value: count for value, _, count in facet_options(page)}
    assert counts["skin-cancer"] == len(melanoma_trials) == 4
    assert counts["solid-tumors"] == len(trials_under("solid-tumors"))


def test_a_group_with_conditions_below_it_is_not_deleted(curator_api):
    melanoma = Condition.objects.get(slug="melanoma")
    response = curator_api.delete(f"{V1}/conditions/melanoma/?version={melanoma.version}")
    assert response.status_code == 409
    assert "Advanced melanoma" in response.json()["detail"]
    assert Condition.objects.filter(slug="melanoma").exists()


# No cycles: refused by the model, admin and the API; reported by validate_kb


@pytest.mark.parametrize("new_parent", ["lymphoma", "non-hodgkin-lymphoma", "mycosis-fungoides"])
def test_a_condition_is_not_placed_under_itself(new_parent):
    lymphoma = Condition.objects.get(slug="lymphoma")
    lymphoma.parent = Condition.objects.get(slug=new_parent)
    with pytest.raises(ValidationError) as raised:
        lymphoma.full_clean()
    assert "cannot be placed under itself" in raised.value.message_dict["parent"][0]


def test_admin_refuses_a_cycle_and_changes_nothing(admin_client):
    lymphoma = Condition.objects.get(slug="lymphoma")
    url = admin_url(Condition, "change", lymphoma.pk)
    data = form_data(admin_client.get(url))
    data["parent"] = Condition.objects.get(slug="non-hodgkin-lymphoma").pk
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "cannot be placed under itself" in str(response.context["errors"])
    assert Condition.objects.get(pk=lymphoma.pk).parent.slug == "hematologic-malignancies"


def test_the_api_refuses_a_cycle_with_a_400(curator_api):
    lymphoma = Condition.objects.get(slug="lymphoma")
    response = curator_api.patch(
        f"{V1}/conditions/lymphoma/",
        {"parent": "mycosis-fungoides", "version": lymphoma.version},
        format="json",
    )
    assert response.status_code == 400
    assert "cannot be placed under itself" in response.json()["parent"][0]
    assert Condition.objects.get(slug="lymphoma").parent.slug == "hematologic-malignancies"


def test_a_placement_without_provenance_is_refused(curator_api):
    response = curator_api.post(
        f"{V1}/conditions/",
        {"slug": "glioblastoma", "name": "Glioblastoma", "parent": "solid-tumors"},
        format="json",
    )
    assert response.status_code == 400
    assert "says what its place rests on" in str(response.json())
    # Unplaced, a new condition needs none: it stands at the top until a curator places it.
    unplaced = curator_api.post(
        f"{V1}/conditions/", {"slug": "glioblastoma", "name": "Glioblastoma"}, format="json"
    )
    assert unplaced.status_code == 201 and unplaced.json()["parent"] is None


def test_validate_kb_reports_a_cycle_made_behind_the_models_back():
    Condition.objects.filter(slug="lymphoma").update(
        parent=Condition.objects.get(slug="non-hodgkin-lymphoma")
    )
    problems = {str(problem) for problem in kb_validate() if problem.field == "parent"}
    assert (
        "Condition mycosis-fungoides: parent: Its parents lead round a cycle (mycosis-fungoides "
        "is under t-and-nk-cell-lymphoma is under non-hodgkin-lymphoma is under lymphoma is "
        "under non-hodgkin-lymphoma)."
    ) in problems
    assert not any("solid" in problem or "melanoma" in problem for problem in problems)


def test_validate_kb_reports_a_group_no_trial_is_filed_under():
    Condition.objects.create(
        name="Sarcoma",
        slug="sarcoma",
        parent=Condition.objects.get(slug="solid-tumors"),
        placement_basis=PlacementBasis.CLASSIFICATION,
        classification="ICD-10 (WHO, 2019 edition): C49 Malignant neoplasm of soft tissue",
        source_summary="A solid tumor of connective tissue.",
    )
    Condition.objects.create(
        name="Liposarcoma",
        slug="liposarcoma",
        parent=Condition.objects.get(slug="sarcoma"),
        placement_basis=PlacementBasis.CLASSIFICATION,
        classification="ICD-O-3: 8850/3 Liposarcoma",
        source_summary="A sarcoma of fat tissue.",
    )
    problems = {str(problem) for problem in kb_validate()}
    assert (
        "Condition sarcoma: trials: No trial enrolls this condition or any condition below it."
        in problems
    )
    assert "Condition liposarcoma: trials: No trial enrolls this condition." in problems
    assert not any("solid-tumors: trials" in problem for problem in problems)


# The loader: conditions.yaml broken, nothing loaded


@pytest.fixture
def seed_copy(tmp_path):
    shutil.copytree(settings.NKKB_FIXTURES_DIR, tmp_path, dirs_exist_ok=True)
    return tmp_path


def rewrite_conditions(directory, change):
    path = directory / "conditions.yaml"
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    change({entry["slug"]: entry for entry in entries})
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")


def load_problems(directory) -> str:
    with pytest.raises(ProblemsError) as raised:
        seed_load(directory=directory)
    assert all(count == 0 for count in knowledge_base_counts().values())
    return "\n".join(raised.value.problems)


def test_an_unknown_parent_is_reported_and_nothing_is_loaded(empty_knowledge_base, seed_copy):
    def misplace(entries):
        entries["lymphoma"]["parent"] = "no-such-group"

    rewrite_conditions(seed_copy, misplace)
    problems = load_problems(seed_copy)
    assert "(lymphoma): parent 'no-such-group' is not a condition of conditions.yaml." in problems
    # What lies below it is reported too, not loaded with a hole above it.
    assert "(hodgkin-lymphoma): its parent 'lymphoma' was not loaded." in problems


def test_a_cycle_of_parents_is_reported_and_nothing_is_loaded(empty_knowledge_base, seed_copy):
    def loop(entries):
        entries["lymphoma"]["parent"] = "b-cell-non-hodgkin-lymphoma"

    rewrite_conditions(seed_copy, loop)
    problems = load_problems(seed_copy)
    assert (
        "(lymphoma): its parents lead round a cycle (lymphoma is under "
        "b-cell-non-hodgkin-lymphoma is under non-hodgkin-lymphoma is under lymphoma)"
    ) in problems


def test_a_trial_condition_missing_from_the_hierarchy_is_reported(empty_knowledge_base, seed_copy):
    path = seed_copy / "conditions.yaml"
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(
        yaml.safe_dump([e for e in entries if e["slug"] != "sezary-syndrome"]), encoding="utf-8"
    )
    problems = load_problems(seed_copy)
    assert "(NCT04185220): condition 'Sezary syndrome' is not in conditions.yaml" in problems


def test_a_trial_page_reads_the_condition_tree_once_however_many_conditions(client):
    """Each condition's groups came from a read of the whole tree, once per condition shown."""
    trial = Trial.objects.get(nct_id="NCT03019640")
    url = f"/trials/{trial.nct_id}/"

    def queries() -> int:
        forget_responses()
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    one = queries()
    trial.conditions.add(*Condition.objects.exclude(trials=trial)[:3])
    assert trial.conditions.count() >= 4
    assert queries() == one
