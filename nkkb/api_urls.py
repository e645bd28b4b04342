"""/api/: the versioned API under v1/, its OpenAPI schema and its interactive docs."""

import base64
import hashlib
import re

from csp.constants import SELF
from csp.decorators import csp_update
from django.http import JsonResponse
from django.template.loader import get_template
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import APIRootView

app_name = "api"

V1_ROOT = {
    "trials": "trial-list",
    "agents": "agent-list",
    "nk-products": "nk-product-list",
    "targets": "target-list",
    "conditions": "condition-list",
    "compatibility": "compatibility",
    "candidates": "candidate-list",
    "proposals": "proposal-list",
}


def inline_style_source(template_name: str) -> str:
    """The CSP source that allows exactly the <style> block of a library's template.

    Hashed from the installed template, so it stays right when drf-spectacular changes it.
    """
    style = re.search(r"<style>(.*?)</style>", get_template(template_name).template.source, re.S)
    digest = hashlib.sha256(style[1].encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


# The split view serves its script as a file, as the site's CSP forbids inline scripts.
docs_view = csp_update(
    {"style-src": [SELF, inline_style_source("drf_spectacular/swagger_ui.html")]}
)(SpectacularSwaggerSplitView.as_view(url_name="api:schema"))


def not_found(request):
    return JsonResponse({"detail": f"The API has no endpoint at {request.path}."}, status=404)


urlpatterns = [
    path("v1/", APIRootView.as_view(api_root_dict=V1_ROOT), name="root"),
    path("v1/", include("trials.api.urls")),
    path("v1/", include("agents.api.urls")),
    path("v1/", include("registry.api.urls")),
    path("v1/", include("nkkb.core.api.proposals")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", docs_view, name="docs"),
    # Only paths ending in a slash: without one, Django first redirects to the slashed URL.
    re_path(r"^.*/$", not_found),
]
