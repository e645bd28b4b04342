"""Compatibility rules for combining an agent with an NK cell product.

One module for pages and API alike. The rules come from the review: agents that work by
cross-linking CD16 need NK cells that keep CD16 (section 8), and CD16 is shed by ADAM17 unless it
is engineered to be non-cleavable (sections 4 and 7).
"""

from collections import defaultdict
from dataclasses import dataclass

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


def pair_warnings(agent: Agent, product: NKCellProduct) -> list[CompatibilityWarning]:
    """What the review warns about giving `agent` together with `product`."""
    if not agent.acts_through_cd16:
        return []
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

    @property
    def verdict(self) -> str:
        if "cd16-lacking" in self.warning_codes:
            return "Poor fit: its CD16-dependent agents need CD16 on the NK cells"
        if "adam17-shedding" in self.warning_codes:
            return "Suits, with the ADAM17 CD16-shedding caveat"
        return "Suits"


def class_suitability(product: NKCellProduct) -> list[ClassSuitability]:
    cd16_dependent = defaultdict(list)
    for agent in Agent.objects.filter(acts_through_cd16=True).order_by("name"):
        cd16_dependent[agent.agent_class].append(agent)
    return [
        ClassSuitability(
            agent_class=agent_class,
            cd16_dependent_agents=cd16_dependent[agent_class],
            warning_codes=frozenset(
                warning.code
                for agent in cd16_dependent[agent_class]
                for warning in pair_warnings(agent, product)
            ),
        )
        for agent_class in AgentClass
    ]
