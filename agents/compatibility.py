"""Compatibility rules for combining an agent with an NK cell product.

One module for pages and API alike. The rules come from the review: agents that work by
cross-linking CD16 need NK cells that keep CD16 (section 8), and CD16 is shed by ADAM17 unless it
is engineered to be non-cleavable (sections 4 and 7).
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models.functions import Lower

from .choices import AgentClass, CD16Status
from .models import Agent, NKCellProduct


@dataclass(frozen=True)
class CompatibilityWarning:
    code: str
    severity: str
    agent: Agent
    product: NKCellProduct
    message: str
    section: str
    references: tuple[int, ...]


CD16_LACKING = {CD16Status.ABSENT, CD16Status.LOW}
# The classes whose agents may work by cross-linking CD16: for one of them an unrecorded
# dependence leaves the check open, where a cytokine or co-therapy needs no CD16.
CD16_CAPABLE_CLASSES = {
    AgentClass.TUMOR_TARGETING_MAB,
    AgentClass.CHECKPOINT_MAB,
    AgentClass.ENGAGER,
}
UNRECORDED = "unrecorded"
# Severities that are warnings proper: what `has_warning` and the warning column count.
WARNING_SEVERITIES = frozenset({"warning", "caveat"})


def pair_warnings(agent: Agent, product: NKCellProduct) -> list[CompatibilityWarning]:
    """What the review warns about giving `agent` together with `product`.

    When the agent's CD16 dependence is not recorded, and it would change the answer, the
    outcome says so (code `cd16-unrecorded`) rather than reading as no warning.

    Reads their fields only, so a plain row with the same attributes (the API's read path,
    trials/api/reading.py) is judged as its model instance is.
    """
    if agent.acts_through_cd16 is None and agent.agent_class in CD16_CAPABLE_CLASSES:
        if not _cd16_warnings(agent, product):
            return []
        return [
            CompatibilityWarning(
                code="cd16-unrecorded",
                severity=UNRECORDED,
                agent=agent,
                product=product,
                message=(
                    f"NKKB does not record whether {agent.name} "
                    f"acts through CD16, which decides whether {product.name} "
                    f"({CD16Status(product.cd16_status).label.lower()} CD16) suits it."
                ),
                section="8",
                references=(180,),
            )
        ]
    if not agent.acts_through_cd16:
        return []
    return _cd16_warnings(agent, product)


def _cd16_warnings(agent: Agent, product: NKCellProduct) -> list[CompatibilityWarning]:
    """The warnings about `product` for an agent that acts through CD16."""
    warnings = []
    if product.cd16_status in CD16_LACKING:
        warnings.append(
            CompatibilityWarning(
                code="cd16-lacking",
                severity="warning",
                agent=agent,
                product=product,
                message=(
                    f"{agent.name} acts through CD16, but {product.name} expresses "
                    f"{'no' if product.cd16_status == CD16Status.ABSENT else 'little'} CD16: "
                    "antibodies and CD16 engagers need CD16 on the NK cells they recruit."
                ),
                section="8",
                references=(180,),
            )
        )
    if product.cd16_status not in {CD16Status.ABSENT, CD16Status.HIGH_AFFINITY_NON_CLEAVABLE}:
        warnings.append(
            CompatibilityWarning(
                code="adam17-shedding",
                severity="caveat",
                agent=agent,
                product=product,
                message=(
                    f"{agent.name} depends on CD16, which ADAM17 can shed from {product.name}; "
                    "only non-cleavable CD16 (or an ADAM17 inhibitor) avoids this."
                ),
                section="4",
                references=(49,),
            )
        )
    return warnings


@dataclass(frozen=True)
class ClassSuitability:
    """How well an NK cell product suits one class of agents, judged by the same rules."""

    agent_class: AgentClass
    cd16_dependent_agents: list[Agent]
    warning_codes: frozenset[str]
    # Agents of the class whose CD16 dependence is not recorded and would change the verdict.
    unrecorded_agents: list[Agent] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if "cd16-lacking" in self.warning_codes:
            return "Poor fit: its CD16-dependent agents need CD16 on the NK cells"
        if "adam17-shedding" in self.warning_codes:
            verdict = "Suits, with the ADAM17 CD16-shedding caveat"
        else:
            verdict = "Suits"
        if self.unrecorded_agents:
            names = ", ".join(agent.name for agent in self.unrecorded_agents)
            return f"{verdict}; CD16 dependence not recorded for {names}"
        return verdict


def class_suitability(product: NKCellProduct) -> list[ClassSuitability]:
    by_class = defaultdict(list)
    for agent in Agent.objects.exclude(acts_through_cd16=False).order_by(Lower("name")):
        by_class[agent.agent_class].append(agent)
    suitability = []
    for agent_class in AgentClass:
        warnings = [w for agent in by_class[agent_class] for w in pair_warnings(agent, product)]
        suitability.append(
            ClassSuitability(
                agent_class=agent_class,
                cd16_dependent_agents=[a for a in by_class[agent_class] if a.acts_through_cd16],
                warning_codes=frozenset(
                    w.code for w in warnings if w.severity in WARNING_SEVERITIES
                ),
                unrecorded_agents=list(
                    {w.agent: None for w in warnings if w.severity == UNRECORDED}
                ),
            )
        )
    return suitability
