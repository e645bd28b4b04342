"""discover_ctgov and triage: studies whose interventions name NK cell products, NK-directed
agents or NK cells become candidates; combination partners alone never do; curators accept
(a curated trial with registry provenance) or reject (with a reason)."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from agents.models import Agent
from nkkb.core.problems import ProblemsError
from registry.models import CandidateStatus, RegistryRecord, StudyCandidate
from registry.services import candidate_reject
from registry.sync import agent_role, registry_discover
from trials.models import Trial
from trials.services.candidates import candidate_accept, registry_trial_ids

from .ctgov_server import CtgovServer
from .test_sync_ctgov import RECORDED_PAGE, database_state, fast_client, study
from .test_validate_kb import validate_kb

pytestmark = pytest.mark.django_db

STUDIES = {
    "NCT09910001": ["Pembrolizumab"],
    "NCT09910002": ["Cyclophosphamide", "Fludarabine"],  # chemotherapy only
    "NCT09910003": ["Pembrolizumab + Carboplatin + Pemetrexed"],
    "NCT09910004": ["Rituximab"],  # a tumor-targeting mAb without NK cells
    "NCT09910005": ["N-803", "Pembrolizumab"],
    "NCT09910006": ["Interleukin-15 (IL-15)"],
    "NCT09910007": ["Rituximab", "Allogeneic NK cells"],
    "NCT09910008": ["NK92", "Placebo"],
    "NCT09910009": ["Daratumumab SC + IL-2 (aldesleukin)"],
    "NCT09910010": ["Monalizumab"],  # against NKG2A, an NK receptor
    "NCT02138734": ["NK-92"],  # a trial of the knowledge base already
}
RELEVANT = {"NCT09910005", "NCT09910006", "NCT09910007", "NCT09910008", "NCT09910009"}
RELEVANT |= {"NCT09910010"}


class BroadSearch(CtgovServer):
    """Answers every query with every study it holds: the API's search stems words and adds
    synonyms, so that the rule, not the query, must keep unrelated studies out."""

    def _select(self, params):
        return list(self.studies.values())


@pytest.fixture
def server():
    studies = [study(nct_id, interventions=names) for nct_id, names in STUDIES.items()]
    recorded = json.loads(RECORDED_PAGE.read_text())["studies"]
    with BroadSearch([*studies, *recorded]) as server:
        yield server


def discover(server, *arguments) -> str:
    out = io.StringIO()
    call_command(
        "discover_ctgov", *arguments, stdout=out, stderr=io.StringIO(), client=fast_client(server)
    )
    return out.getvalue()


def known() -> list[str]:
    return list(Trial.objects.values_list("nct_id", flat=True))


def test_the_rule_names_combination_partners_and_nk_directed_agents():
    roles = {agent.slug: agent_role(agent) for agent in Agent.objects.prefetch_related("targets")}
    assert {roles[slug] for slug in ("pembrolizumab", "chemotherapy", "bcg")} == {"partner"}
    assert {roles[s] for s in ("anti-pd-1-mab", "avelumab", "checkpoint-inhibitor")} == {"partner"}
    assert {roles[s] for s in ("il-15", "n-803", "afm13", "monalizumab")} == {"nk-directed"}
    assert roles["anti-tigit-mab"] == "nk-directed" and roles["dr-01"] == "nk-directed"
    assert roles["rituximab"] == roles["daratumumab"] == "with-nk-cells"


def test_only_studies_with_an_nk_directed_agent_product_or_nk_cells_are_candidates(server):
    report = registry_discover(client=fast_client(server), known_nct_ids=known(), apply=True)

    assert set(report.candidates) == RELEVANT
    assert report.known == ["NCT02138734"]
    for partners_only in ("NCT09910001", "NCT09910002", "NCT09910003", "NCT09910004"):
        assert partners_only not in report.candidates
        assert not StudyCandidate.objects.filter(record__nct_id=partners_only).exists()
        assert not Trial.objects.filter(nct_id=partners_only).exists()
    # A real recorded study (psilocybin) the search brought is passed by.
    assert "NCT06341426" in report.not_relevant
    assert not RegistryRecord.objects.filter(nct_id="NCT06341426").exists()
    assert set(
        StudyCandidate.objects.values_list("record__nct_id", flat=True)
    ) == RELEVANT  # fmt: skip


def test_queries_name_nk_directed_agents_and_products_never_a_partner(server):
    registry_discover(client=fast_client(server), known_nct_ids=known())

    asked = " ".join(r.params["query.intr"] for r in server.page_requests())
    assert '"IL-15"' in asked and '"NK-92"' in asked and '"natural killer"' in asked
    assert "Pembrolizumab" not in asked and '"chemotherapy"' not in asked
    assert {r.params["pageSize"] for r in server.page_requests()} == {"1000"}


def test_matches_say_what_each_name_matched_and_how(server):
    report = registry_discover(client=fast_client(server), known_nct_ids=known())

    def how(nct_id):
        return {(m["name"], m["matched"], m["how"]) for m in report.candidates[nct_id]}

    assert ("N-803", "agent:n-803", "exact name") in how("NCT09910005")
    assert ("Pembrolizumab", "agent:pembrolizumab", "exact name") in how("NCT09910005")
    assert ("NK92", "product:nk-92", "alias") in how("NCT09910008")
    assert ("Interleukin-15 (IL-15)", "agent:il-15", "normalised") in how("NCT09910006")
    assert ("Allogeneic NK cells", "NK term", "NK term") in how("NCT09910007")
    assert how("NCT09910009") == {
        ("Daratumumab SC", "agent:daratumumab", "split part"),
        ("IL-2 (aldesleukin)", "agent:il-2", "split part"),
    }
    assert report.unmatched_names["Placebo"] == 1


def test_a_preview_changes_no_row_and_says_so(server):
    before = database_state()

    out = discover(server)

    assert database_state() == before
    assert "NCT09910005: would be a candidate: N-803 -> agent:n-803 (exact name)" in out
    assert "Not relevant (no NK cell product, NK-directed agent or NK cells): 5" in out
    assert "Placebo (1)" in out
    assert out.rstrip().endswith("preview: nothing written; run with --apply")


def test_apply_stores_candidates_once_and_max_pages_stops_early(server):
    discover(server, "--apply")
    candidate = StudyCandidate.objects.get(record__nct_id="NCT09910005")
    assert [a.slug for a in candidate.matched_agents.order_by("slug")] == ["n-803", "pembrolizumab"]
    assert candidate.status == "open" and candidate.history.count() == 1
    assert candidate.record.source_kind == "api"

    out = discover(server, "--apply")
    assert "0 new candidates, 6 already candidates" in out
    assert StudyCandidate.objects.count() == len(RELEVANT)

    requests = len(server.page_requests())
    discover(server, "--max-pages", "1")
    assert len(server.page_requests()) == requests + 1


@pytest.fixture
def curator():
    return get_user_model().objects.create_user("carol", password="lantern-orbit-velvet-42")


def test_rejecting_needs_a_reason_and_records_who(server, curator):
    registry_discover(client=fast_client(server), known_nct_ids=known(), apply=True)
    candidate = StudyCandidate.objects.get(record__nct_id="NCT09910006")

    with pytest.raises(ProblemsError, match="needs a reason"):
        candidate_reject(candidate=candidate, user=curator, reason=" ")

    candidate = candidate_reject(candidate=candidate, user=curator, reason="Not an NK study.")
    assert (candidate.status, candidate.decided_by, candidate.decision_reason) == (
        CandidateStatus.REJECTED,
        curator,
        "Not an NK study.",
    )
    assert candidate.history.latest().history_user == curator
    with pytest.raises(ProblemsError, match="was rejected already"):
        candidate_accept(candidate=candidate, user=curator, reason="Changed my mind.")
    assert not Trial.objects.filter(nct_id="NCT09910006").exists()


def test_accepting_creates_a_trial_with_registry_provenance_once(server, curator):
    registry_discover(client=fast_client(server), known_nct_ids=known(), apply=True)
    candidate = StudyCandidate.objects.get(record__nct_id="NCT09910005")

    trial = candidate_accept(candidate=candidate, user=curator, reason="IL-15 with a PD-1 mAb.")

    assert (trial.title, trial.phase, trial.status) == ("Study NCT09910005", None, None)
    assert (trial.source_section, trial.source_quote) == ("", "")
    assert trial.source_summary.startswith("Not from the review: added from the ClinicalTrials")
    assert {(link.agent.slug, link.role) for link in trial.trial_agents.all()} == {
        ("n-803", "investigational"),
        ("pembrolizumab", "combination"),
    }
    latest = trial.history.latest()
    assert latest.history_user == curator and "IL-15 with a PD-1 mAb." in (
        latest.history_change_reason
    )
    candidate.refresh_from_db()
    assert (candidate.status, candidate.decided_by) == (CandidateStatus.ACCEPTED, curator)
    assert trial.pk in set(registry_trial_ids())
    with pytest.raises(ProblemsError, match="was accepted already"):
        candidate_accept(candidate=candidate, user=curator, reason="Again.")
    # Registry provenance is honest provenance: validation does not ask for a review section.
    valid, lines = validate_kb()
    assert not [line for line in lines if "NCT09910005" in line and "source_" in line]


def test_a_product_candidate_is_linked_to_its_product(server, curator):
    registry_discover(client=fast_client(server), known_nct_ids=known(), apply=True)
    candidate = StudyCandidate.objects.get(record__nct_id="NCT09910008")

    trial = candidate_accept(candidate=candidate, user=curator, reason="NK-92 cells.")

    assert [product.slug for product in trial.nk_products.all()] == ["nk-92"]
