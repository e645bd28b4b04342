"""A list page that the writes since it was rendered provably left as it was is answered as it
was rendered, not rendered again (nkkb.core.views.FilteredTableView.unchanged_page); whatever the
write, the page answered after it is the page a fresh render gives."""

import pytest
from django.core.cache import caches
from django.test import Client

from agents.models import Agent
from trials.models import Trial, TrialAgent

from .conftest import forget_derived_data
from .test_kept_cells import rename_a_condition, rename_an_agent

pytestmark = pytest.mark.django_db

ENGAGERS = "/trials/?therapy_class=engager"
ENGAGERS_OF_NO_STATED_PHASE = "/trials/?therapy_class=engager&phase=not-stated"
N803_SECOND_PAGE = "/trials/?agent=n-803&ordering=-nct_id&page_size=5&page=2"
CD16_WITH_PHASE = "/trials/?target=cd16&columns=phase"
EVERY_TRIAL = "/trials/"
PAGES = [ENGAGERS, ENGAGERS_OF_NO_STATED_PHASE, N803_SECOND_PAGE, CD16_WITH_PHASE, EVERY_TRIAL]

# A trial of rituximab with an NK cell product: on none of the pages above but the last.
UNSHOWN = "NCT03019640"
# An engager trial of phase 1.
ENGAGER = "NCT04975399"


def retitle(nct_id: str) -> None:
    trial = Trial.objects.get(nct_id=nct_id)
    trial.title += " (edited)"
    trial.save()


def retitle_an_unshown_trial():
    retitle(UNSHOWN)


def retitle_an_engager_trial():
    retitle(ENGAGER)


def rephase_an_unshown_trial():
    trial = Trial.objects.get(nct_id=UNSHOWN)
    trial.phase = "1"
    trial.save()


def rephase_an_engager_trial():
    trial = Trial.objects.get(nct_id=ENGAGER)
    trial.phase = "2"
    trial.save()


def make_an_unshown_trial_an_engager_trial():
    TrialAgent.objects.create(
        trial=Trial.objects.get(nct_id=UNSHOWN), agent=Agent.objects.get(slug="afm13")
    )


def unlink_an_engager_trials_engager():
    TrialAgent.objects.filter(trial__nct_id=ENGAGER, agent__agent_class="engager").delete()


def delete_an_unshown_trial():
    Trial.objects.get(nct_id=UNSHOWN).delete()


WRITES = [
    retitle_an_unshown_trial,
    retitle_an_engager_trial,
    rephase_an_unshown_trial,
    rephase_an_engager_trial,
    make_an_unshown_trial_an_engager_trial,
    unlink_an_engager_trials_engager,
    rename_an_agent,
    rename_a_condition,
    delete_an_unshown_trial,
]

# The pages each write provably leaves as they were: none of their trials, counts or option
# labels changed. The engager trial is of phase 1: on neither the list of engager trials of no
# stated phase nor the CD16 list, but among the trials the first counts its phases in. The
# therapy class facet counts within its own selection (its options combine), so a trial of
# no engager leaves the engager lists' counts as they were; the agent and target facets count
# beside their own filter, so a deleted trial of rituximab changes theirs.
UNCHANGED = {
    retitle_an_unshown_trial: [
        ENGAGERS,
        ENGAGERS_OF_NO_STATED_PHASE,
        N803_SECOND_PAGE,
        CD16_WITH_PHASE,
    ],
    retitle_an_engager_trial: [ENGAGERS_OF_NO_STATED_PHASE, N803_SECOND_PAGE, CD16_WITH_PHASE],
    rephase_an_unshown_trial: [
        ENGAGERS,
        ENGAGERS_OF_NO_STATED_PHASE,
        N803_SECOND_PAGE,
        CD16_WITH_PHASE,
    ],
    rephase_an_engager_trial: [N803_SECOND_PAGE, CD16_WITH_PHASE],
    delete_an_unshown_trial: [ENGAGERS, ENGAGERS_OF_NO_STATED_PHASE],
}


def answer_after(client, page: str, write) -> tuple[bytes, bool]:
    """The page after `write`, where it was rendered before it, and whether it was rendered
    again."""
    assert client.get(page).status_code == 200
    write()
    response = client.get(page)
    assert response.status_code == 200
    return response.content, bool(response.templates)


def rendered_afresh(client, page: str) -> bytes:
    for alias in ("responses", "shared_responses", "facets"):
        caches[alias].clear()
    forget_derived_data()
    return client.get(page).content


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.__name__)
@pytest.mark.parametrize("page", PAGES)
def test_a_page_after_a_write_is_the_page_rendered_afresh(client, page, write):
    content, rendered = answer_after(client, page, write)
    assert content == rendered_afresh(client, page)
    assert rendered == (page not in UNCHANGED.get(write, []))


def test_a_page_shows_a_write_to_a_trial_on_it(client):
    client.get(ENGAGERS)
    retitle_an_engager_trial()
    assert Trial.objects.get(nct_id=ENGAGER).title.encode() in client.get(ENGAGERS).content


def test_a_page_of_filters_that_are_not_facets_is_rendered_after_any_write(client):
    page = f"{ENGAGERS}&q=trike"
    content, rendered = answer_after(client, page, retitle_an_unshown_trial)
    assert rendered
    assert content == rendered_afresh(client, page)


def test_a_curators_page_is_rendered_after_any_write(client, django_user_model):
    """The anonymous page cached before the write is nobody else's answer."""
    assert Client().get(ENGAGERS).status_code == 200
    client.force_login(django_user_model.objects.create_user("curator", is_staff=True))
    retitle_an_unshown_trial()
    assert client.get(ENGAGERS).templates


def test_a_page_not_rendered_before_the_write_is_rendered(client):
    client.get(N803_SECOND_PAGE)
    retitle_an_unshown_trial()
    assert client.get(ENGAGERS).templates
