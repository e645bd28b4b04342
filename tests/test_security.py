"""Security defaults: deploy checks, headers, escaping."""

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings

from agents.models import Agent
from trials.models import Trial

PRODUCTION_ENV = {
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "nkkb.example.org",
    "DATABASE_URL": "postgres://nkkb:secret@db.example.org:5432/nkkb",
}


def test_check_deploy_is_clean_with_production_settings():
    overridden = {"DEBUG", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in overridden}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**env, **PRODUCTION_ENV},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_pages_forbid_framing_and_inline_code(client):
    response = client.get("/trials/")
    assert response["X-Frame-Options"] == "DENY"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    page = response.content.decode()
    # Scripts come from static files only (<script src=...>), never inline.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page) and "style=" not in page


PLANTED = '<script>alert("x")</script>'


@pytest.mark.django_db
def test_a_script_planted_in_curated_text_is_inert_on_every_page(client):
    trial = Trial.objects.get(nct_id="NCT02138734")
    Trial.objects.filter(pk=trial.pk).update(title=f"Title {PLANTED}", status_note=PLANTED)
    Agent.objects.filter(slug="n-803").update(mechanism=PLANTED, name=f"N-803 {PLANTED}")

    for url in [
        "/",
        "/trials/",
        "/trials/?q=NCT02138734",
        "/trials/NCT02138734/",
        "/agents/",
        "/agents/n-803/",
        "/targets/il-2rb/",
        "/landscape/",
        "/compatibility/?agent=n-803&product=nk-92",
    ]:
        page = client.get(url).content.decode()
        assert PLANTED not in page, url
    assert "&lt;script&gt;" in client.get("/trials/NCT02138734/").content.decode()
