"""Issue 18: the seed as corrected after its audit against the review, and the caveats that now
say where a record rests on our reading of an ambiguous passage."""

from collections import Counter

import pytest

from nkkb.core.facets import facet_count
from nkkb.core.review import normalise_whitespace
from trials.choices import AgentRole, CaveatSubject, ResultMetric, TherapyClass
from trials.filtersets import TrialFilterSet
from trials.models import Caveat, Result, Trial, TrialAgent

pytestmark = pytest.mark.django_db

MBIL15_TRIALS = {"NCT04623944", "NCT05020678"}
TRINKET_TRIALS = {"NCT04143711": "her2-trinket", "NCT04789655": "cd33-trinket"}
TRINKET_TRIALS["NCT04975399"] = "bcma-trinket"
GROUPED_PARTNER_TRIALS = ("NCT05642195", "NCT05445882", "NCT05096663")


def test_the_discontinued_phase_iii_is_not_said_to_have_stopped_for_efficacy(review):
    trial = Trial.objects.get(nct_id="NCT04590963")
    assert "stopped for efficacy" not in trial.title
    assert "missing a pre-defined efficacy threshold" in trial.title
    # What the review says, nearly word for word (its "efficacy for threshold" is a slip).
    assert "discontinued as a result of missing a pre-defined efficacy" in review.section_text(
        "6.2"
    )


def test_no_title_carries_a_curator_note():
    assert not Trial.objects.filter(title__icontains="(target assigned").exists()
    for nct_id, slug in TRINKET_TRIALS.items():
        caveat = Caveat.objects.get(trial__nct_id=nct_id)
        assert (caveat.qualifies, caveat.agent.slug) == (CaveatSubject.AGENTS, slug)
        assert "respectively" in caveat.text
        assert not TrialAgent.objects.get(trial__nct_id=nct_id).detail


def test_no_two_trials_share_a_title():
    titles = Counter(
        " ".join(t.casefold().split()) for t in Trial.objects.values_list("title", flat=True)
    )
    assert [title for title, count in titles.items() if count > 1] == []


def test_titles_the_review_does_not_tell_apart_say_so_in_a_caveat():
    for nct_id in ("NCT04562129", "NCT04165967", "NCT05493566", *GROUPED_PARTNER_TRIALS):
        caveat = Caveat.objects.get(trial__nct_id=nct_id, qualifies=CaveatSubject.TITLE)
        assert "says nothing that tells them apart" in caveat.text


def test_severe_adverse_events_are_not_filed_as_serious_ones():
    results = Result.objects.filter(trial__nct_id="NCT02689453")
    adverse_events = results.exclude(metric__in=[ResultMetric.DLT, ResultMetric.ORR]).filter(
        source_quote__contains="severe adverse events"
    )
    assert [result.metric for result in adverse_events] == ["severe-ae"]
    assert not results.filter(metric=ResultMetric.SAE).exists()
    assert ResultMetric.SEVERE_AE.label == "Severe adverse events"


def test_membrane_bound_il15_is_expressed_by_the_product_not_given():
    links = TrialAgent.objects.filter(trial__nct_id__in=MBIL15_TRIALS, agent__slug="il-15")
    assert sorted(link.role for link in links) == [AgentRole.EXPRESSED_BY_PRODUCT] * 2
    for trial in Trial.objects.with_related().filter(nct_id__in=MBIL15_TRIALS):
        assert trial.therapy_classes == [TherapyClass.NK_CELL_PRODUCT]


def test_the_cytokine_facet_and_filter_no_longer_count_the_mbil15_trials():
    cytokine_trials = set(
        TrialAgent.objects.filter(agent__agent_class="cytokine")
        .exclude(role=AgentRole.EXPRESSED_BY_PRODUCT)
        .values_list("trial__nct_id", flat=True)
    )
    filtered = TrialFilterSet({"therapy_class": ["cytokine"]}, Trial.objects.all()).qs
    assert set(filtered.values_list("nct_id", flat=True)) == cytokine_trials
    assert not cytokine_trials & MBIL15_TRIALS
    assert facet_count(TrialFilterSet, "therapy_class", {})["cytokine"] == len(cytokine_trials)


def test_the_landscape_and_home_page_follow(client):
    home = client.get("/").content.decode()
    count = len(TrialFilterSet({"therapy_class": ["cytokine"]}, Trial.objects.all()).qs)
    assert f'therapy_class=cytokine">Cytokine</a> <span class="count">({count})</span>' in home
    products_with_cytokines = client.get("/trials/?therapy_class=cytokine&nk_product=mbil15-car-nk")
    assert "NCT04623944" not in products_with_cytokines.content.decode()


@pytest.mark.parametrize("query", ["q=IL-15", "agent=il-15"])
def test_the_mbil15_trials_are_still_found_from_il15(client, query):
    page = client.get(f"/trials/?{query}&page_size=100").content.decode()
    api = client.get(f"/api/v1/trials/?{query}&page_size=100").json()
    for nct_id in MBIL15_TRIALS:
        assert f'href="/trials/{nct_id}/"' in page
        assert nct_id in {trial["nct_id"] for trial in api["results"]}


def test_the_mbil15_trial_pages_say_the_cells_express_it(client):
    for nct_id in MBIL15_TRIALS:
        page = client.get(f"/trials/{nct_id}/").content.decode()
        assert "Expressed by the NK cell product" in page
        listed = client.get(f"/trials/?q={nct_id}").content.decode()
        assert "IL-15</a> <small>(Expressed by the NK cell product)</small>" in listed
        trial = client.get(f"/api/v1/trials/{nct_id}/").json()
        assert {a["slug"]: a["role"] for a in trial["agents"]} == {"il-15": "expressed-by-product"}
        assert "cytokine" not in trial["therapy_classes"]


def test_the_grouped_partner_trials_show_their_caveat_under_the_agents(client):
    for nct_id in GROUPED_PARTNER_TRIALS:
        caveat = Caveat.objects.get(trial__nct_id=nct_id, qualifies=CaveatSubject.AGENTS)
        assert caveat.agent is None
        page = client.get(f"/trials/{nct_id}/").content.decode()
        agents, _ = page.split("<h2>Agents</h2>")[1].split("<h2>NK cell products</h2>")
        assert f"Caveat:</strong> {caveat.text}" in agents
    # The reading moved from the links' details into the caveat.
    details = TrialAgent.objects.filter(trial__nct_id__in=GROUPED_PARTNER_TRIALS)
    assert not details.exclude(detail=None).exists()


def test_a_title_caveat_is_shown_beside_the_title(client):
    page = client.get("/trials/NCT04562129/").content.decode()
    lead = page.split('<p class="lead">')[1].split("<dl", 1)[0]
    assert "Caveat:</strong> The review cites this trial only in one list" in lead


def test_the_api_lists_a_trials_caveats_with_what_they_qualify(client):
    trial = client.get("/api/v1/trials/NCT04143711/").json()
    [caveat] = trial["caveats"]
    assert caveat["qualifies"] == "agents" and caveat["agent"] == "her2-trinket"
    assert caveat["provenance"]["section"] == "7"
    assert "respectively" in caveat["text"]
    lean = client.get("/api/v1/trials/NCT05642195/?fields=nct_id,caveats").json()
    assert [c["qualifies"] for c in lean["caveats"]] == ["title", "agents"]
    assert [c["agent"] for c in lean["caveats"]] == [None, None]


def test_caveats_keep_their_history():
    caveat = Caveat.objects.first()
    caveat.text = "Edited reading."
    caveat.save()
    assert caveat.history.count() == 2


def test_every_caveat_quote_is_verbatim_and_summarised_in_our_own_words(review):
    caveats = list(Caveat.objects.select_related("trial"))
    assert len(caveats) == 27
    for caveat in caveats:
        section = caveat.source_section
        assert normalise_whitespace(caveat.source_quote) in review.section_text(section), caveat
        assert set(caveat.source_references) <= review.citations(section), caveat
        assert caveat.source_summary.strip() != caveat.source_quote.strip(), caveat
