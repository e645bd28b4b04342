from django.apps import AppConfig


class TrialsConfig(AppConfig):
    name = "trials"
    verbose_name = "Clinical trials"

    def ready(self):
        from agents.models import Agent, NKCellProduct, Target
        from nkkb.core.facets import RecordFacet, register_record_facet

        from .api import reading  # noqa: F401 (its IdsQueries get their function at migrate)
        from .filtersets import TrialFilterSet
        from .models import Condition

        # The pages and API of agents, products, targets and conditions count and list their
        # trials through the trial list's facets.
        for model, facet, related_name in (
            (Agent, "agent", "trials"),
            (NKCellProduct, "nk_product", "trials"),
            (Target, "target", None),
            (Condition, "condition", "trials"),
        ):
            register_record_facet(
                model, RecordFacet(TrialFilterSet, facet, "trials:trial_list", related_name)
            )
