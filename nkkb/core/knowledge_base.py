"""The knowledge base's models, listed once (settings.NKKB_KNOWLEDGE_BASE): releases, the data
version of the HTTP cache, the counts on the home page and the tests all read this list."""

from django.apps import apps
from django.conf import settings
from django.db import models


def knowledge_base_models() -> dict[type[models.Model], str]:
    """{model: its name in releases and counts}, in the order a release loads them."""
    return {apps.get_model(label): name for label, name in settings.NKKB_KNOWLEDGE_BASE.items()}


def public_knowledge_base_models() -> list[type[models.Model]]:
    """The knowledge base's models that anyone may read (all but settings.NKKB_CURATORS_ONLY)."""
    hidden = {apps.get_model(label) for label in getattr(settings, "NKKB_CURATORS_ONLY", ())}
    return [model for model in knowledge_base_models() if model not in hidden]


def knowledge_base_counts() -> dict[str, int]:
    return {name: model.objects.count() for model, name in knowledge_base_models().items()}


def with_relations(queryset: models.QuerySet) -> models.QuerySet:
    """`queryset` with its foreign keys joined and many-to-many fields prefetched."""
    meta = queryset.model._meta
    foreign_keys = [field.name for field in meta.concrete_fields if field.is_relation]
    return queryset.select_related(*foreign_keys).prefetch_related(
        *(field.name for field in meta.many_to_many)
    )
