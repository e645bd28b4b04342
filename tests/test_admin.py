"""Curators at work in admin: who gets in, what they see, history with diff and revert."""

import csv
import functools
import io
import os
import re
import subprocess
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.filtersets import AgentFilterSet
from agents.models import Agent, NKCellProduct, Target
from nkkb.core.accounts import CURATORS_GROUP, curator_create
from nkkb.core.admin import STALE_EDIT_MESSAGE, STALE_SAVE_MESSAGE, CuratedAdmin
from nkkb.core.knowledge_base import knowledge_base_models
from nkkb.core.models import Proposal
from registry.models import RegistryRecord, StudyCandidate
from trials.filtersets import TrialFilterSet
from trials.models import Condition, Result, Trial

from .conftest import forget_derived_data

pytestmark = pytest.mark.django_db

# The curated models with an admin of their own (caveats are edited inline on their trial).
KB_MODELS = tuple(
    model
    for model in knowledge_base_models()
    if isinstance(admin.site._registry.get(model), CuratedAdmin)
)
PASSWORD = "lantern-orbit-velvet-42"


def admin_url(model, view: str = "", pk=None) -> str:
    """/admin/<app>/<model>/[<pk>/][<view>/]: the list without arguments."""
    meta = model._meta
    parts = [meta.app_label, meta.model_name, *([pk] if pk is not None else []), view]
    return "/admin/" + "".join(f"{part}/" for part in parts if part != "")


@pytest.fixture(autouse=True)
def direct_saves(settings):
    """These tests are about curators' direct edits and reverts; with review required (the
    default) each save would become a proposal, which tests/test_proposals.py covers."""
    settings.NKKB_REVIEW_REQUIRED = False


@pytest.fixture
def curator():
    return curator_create(username="carol", password=PASSWORD, email="carol@example.org")


@pytest.fixture
def curator_client(client, curator):
    client.force_login(curator)
    return client


def form_data(response) -> dict:
    """What a browser would post back from an admin form page, unchanged."""
    forms = [response.context["adminform"].form]
    data = {}
    for inline in response.context.get("inline_admin_formsets", []):
        management = inline.formset.management_form
        data.update({management.add_prefix(n): management[n].value() for n in management.fields})
        forms += inline.formset.forms
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:
                data[form.add_prefix(name)] = value
    data.setdefault("change_reason", "checked against the registry")
    return data


# Who gets in


@pytest.mark.parametrize("model", KB_MODELS)
def test_anonymous_visitors_never_reach_admin(client, model):
    for url in (admin_url(model), admin_url(model, "change", model.objects.first().pk)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_the_curators_group_may_edit_the_knowledge_base_and_nothing_else():
    permissions = Group.objects.get(name=CURATORS_GROUP).permissions.select_related("content_type")
    granted = {(p.content_type.model_class(), p.codename.split("_")[0]) for p in permissions}
    curated = set(knowledge_base_models()) - {RegistryRecord, StudyCandidate}
    assert granted == {
        (model, action) for model in curated for action in ("add", "change", "delete", "view")
    } | {(RegistryRecord, "view"), (StudyCandidate, "view"), (StudyCandidate, "change")} | {
        (Proposal, action) for action in ("add", "change", "view")
    }


def test_create_curator_makes_a_staff_account_in_the_curators_group(client, monkeypatch):
    monkeypatch.setenv("NKKB_TEST_PASSWORD", PASSWORD)
    call_command(
        "create_curator", "dana", "--email", "dana@example.org", "--password-from-env",
        "NKKB_TEST_PASSWORD", stdout=io.StringIO(),
    )  # fmt: skip

    assert client.login(username="dana", password=PASSWORD)
    assert client.get(admin_url(Trial)).status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403
    dana = Group.objects.get(name=CURATORS_GROUP).user_set.get()
    assert (dana.username, dana.email, dana.is_staff, dana.is_superuser) == (
        "dana", "dana@example.org", True, False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "environment", "message"),
    [
        (["carol"], {"PW": PASSWORD}, "already exists"),
        (["erin"], {}, "PW is not set"),
        (["erin"], {"PW": "password"}, "too common"),
        (["erin", "--email", "not-an-address"], {"PW": PASSWORD}, "valid email"),
        (["bad name!"], {"PW": PASSWORD}, "valid username"),
    ],
)
def test_create_curator_refuses_bad_input_and_creates_nothing(
    curator, monkeypatch, django_user_model, arguments, environment, message
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    users = django_user_model.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("create_curator", *arguments, "--password-from-env", "PW")
    assert django_user_model.objects.count() == users


def test_a_staff_user_who_is_not_a_curator_cannot_change_the_knowledge_base(
    client, django_user_model
):
    client.force_login(django_user_model.objects.create_user("sam", is_staff=True))
    trial = Trial.objects.get(nct_id="NCT02138734")

    assert client.get(admin_url(Trial)).status_code == 403
    assert client.get(admin_url(Trial, "change", trial.pk)).status_code == 403
    response = client.post(admin_url(Trial, "change", trial.pk), {"title": "Vandalised"})
    assert response.status_code == 403
    trial.refresh_from_db()
    assert trial.title != "Vandalised"


# What curators see


@pytest.mark.parametrize("model", KB_MODELS)
def test_every_admin_page_loads_for_a_curator(curator_client, model):
    record = model.objects.first()
    for url in (admin_url(model), admin_url(model, "add")):
        assert curator_client.get(url).status_code == 200
    for view in ("change", "history"):
        assert curator_client.get(admin_url(model, view, record.pk)).status_code == 200


@pytest.mark.parametrize(
    "model", [Target, Agent, NKCellProduct, Trial, Result], ids=lambda model: model.__name__
)
def test_every_curated_form_shows_provenance(curator_client, model):
    page = curator_client.get(admin_url(model, "change", model.objects.first().pk))
    content = page.content.decode()
    assert "Provenance in the review" in content
    for field in ("source_section", "source_references", "source_quote", "source_summary"):
        assert f'name="{field}"' in content


def test_a_trial_form_has_its_agents_with_roles_results_and_autocompletes(curator_client):
    trial = Trial.objects.get(nct_id="NCT03019640")
    page = curator_client.get(admin_url(Trial, "change", trial.pk))
    formsets = {
        inline.formset.prefix: inline.formset for inline in page.context["inline_admin_formsets"]
    }

    assert len(formsets["trial_agents"].forms) == trial.trial_agents.count()
    assert "role" in formsets["trial_agents"].forms[0].fields
    assert len(formsets["results"].forms) == trial.results.count() > 0
    content = page.content.decode()
    for field in ("conditions", "nk_products", "trial_agents-0-agent"):
        assert f'data-field-name="{field.split("-")[-1]}"' in content


@pytest.mark.parametrize(
    ("model", "record"),
    [
        (Trial, lambda: Trial.objects.get(nct_id="NCT03019640")),
        (Agent, lambda: Agent.objects.get(slug="rituximab")),
        (Result, lambda: Result.objects.filter(trial__nct_id="NCT02321592").first()),
    ],
)
def test_view_on_site_leads_to_the_public_page(curator_client, model, record):
    record = record()
    page = curator_client.get(admin_url(model, "change", record.pk)).content.decode()
    link = page.split('class="viewsitelink"')[0].rsplit('href="', 1)[1].split('"')[0]
    expected = (record.trial if model is Result else record).get_absolute_url()
    assert curator_client.get(link, follow=True).request["PATH_INFO"] == expected


def test_autocomplete_finds_conditions_for_a_trial(curator_client):
    response = curator_client.get(
        "/admin/autocomplete/",
        {"app_label": "trials", "model_name": "trial", "field_name": "conditions", "term": "mela"},
    )
    assert {item["text"] for item in response.json()["results"]} == set(
        Condition.objects.filter(name__icontains="mela").values_list("name", flat=True)
    )


@pytest.mark.parametrize(
    ("model", "filterset", "query"),
    [
        (Trial, TrialFilterSet, "therapy_class=engager&target=cd33"),
        (Trial, TrialFilterSet, "therapy_class=nk-cell-product"),
        (Trial, TrialFilterSet, "nk_product=cord-blood-nk"),
        (Trial, TrialFilterSet, "cd16_status=high-affinity-non-cleavable"),
        (Trial, TrialFilterSet, "phase=1&condition=adult-t-cell-leukemia"),
        (Trial, TrialFilterSet, "q=rituximab"),
        (Agent, AgentFilterSet, "target=pd-l1"),
        (Agent, AgentFilterSet, "acts_through_cd16=false"),
        (Agent, AgentFilterSet, "platform=ANKET&agent_class=engager"),
    ],
)
def test_admin_lists_filter_with_the_public_filter_names(curator_client, model, filterset, query):
    shown = curator_client.get(f"{admin_url(model)}?{query}").context["cl"].queryset
    expected = filterset(QueryDict(query), queryset=model.objects.all()).qs
    assert set(shown) == set(expected) != set()


def test_an_unknown_filter_value_is_not_a_server_error(curator_client):
    response = curator_client.get(f"{admin_url(Trial)}?target=no-such-target")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize(
    "url",
    [admin_url(model) for model in KB_MODELS] + [admin_url(Trial) + "?therapy_class=cytokine"],
)
def test_admin_lists_run_a_constant_number_of_queries(curator_client, monkeypatch, url):
    model_admin = next(a for m, a in admin.site._registry.items() if url.startswith(admin_url(m)))
    counts = []
    for page_size in (10, 100):
        monkeypatch.setattr(model_admin, "list_per_page", page_size)
        # The filters' counts afresh, as on the first visit after a write.
        forget_derived_data()
        with CaptureQueriesContext(connection) as queries:
            assert curator_client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_csv_export_of_the_selected_trials(curator_client):
    selected = Trial.objects.filter(nct_id__in=["NCT03019640", "NCT02321592"])
    response = curator_client.post(
        admin_url(Trial),
        {"action": "export_csv", "_selected_action": [trial.pk for trial in selected]},
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = {row["nct_id"]: row for row in csv.DictReader(io.StringIO(response.content.decode()))}
    assert set(rows) == {"NCT03019640", "NCT02321592"}
    assert rows["NCT03019640"]["status"] == "COMPLETED"
    assert rows["NCT03019640"]["nk_products"] == '["cord blood NK cells"]'
    assert rows["NCT02321592"]["agents"] == '["AFM13"]'


# History: who changed what, the diff, and revert


def test_a_curator_edit_is_in_history_with_its_diff_and_can_be_reverted(curator_client, curator):
    trial = Trial.objects.get(nct_id="NCT02138734")
    original_title = trial.title
    original_conditions = set(trial.conditions.all())
    before_edit = trial.history.latest()
    melanoma = Condition.objects.get(slug="relapsed-or-metastatic-melanoma")

    data = form_data(curator_client.get(admin_url(Trial, "change", trial.pk)))
    data.update(title="BCG plus N-803, edited by a curator", conditions=[melanoma.pk])
    response = curator_client.post(admin_url(Trial, "change", trial.pk), data)
    assert response.status_code == 302, response.context["errors"]

    trial.refresh_from_db()
    assert trial.title == "BCG plus N-803, edited by a curator"
    assert set(trial.conditions.all()) == {melanoma}
    edits = trial.history.filter(history_date__gt=before_edit.history_date)
    assert edits and all(edit.history_user == curator for edit in edits)

    history = curator_client.get(admin_url(Trial, "history", trial.pk)).content.decode()
    assert original_title in history and "BCG plus N-803, edited by a curator" in history
    assert "carol" in history

    revert_url = f"{admin_url(Trial, 'history', trial.pk)}{before_edit.history_id}/"
    response = curator_client.post(revert_url, form_data(curator_client.get(revert_url)))
    assert response.status_code == 302

    trial.refresh_from_db()
    assert trial.title == original_title
    assert set(trial.conditions.all()) == original_conditions
    assert trial.history.latest().history_user == curator


def test_a_deleted_result_stays_in_history(curator_client):
    result = Result.objects.filter(trial__nct_id="NCT02321592").first()
    response = curator_client.post(admin_url(Result, "delete", result.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Result.objects.filter(pk=result.pk).exists()
    deletion = Result.history.filter(id=result.pk).latest()
    assert (deletion.history_type, deletion.history_user.username) == ("-", "carol")


# Stale edits: a form based on a version that is no longer current saves nothing.

# A record of each kind whose form a curator edits, and a text field of it both editors change.
EDITED = [
    pytest.param(Trial, lambda: Trial.objects.get(nct_id="NCT02138734"), "title", id="trial"),
    pytest.param(Agent, lambda: Agent.objects.get(slug="rituximab"), "mechanism", id="agent"),
    pytest.param(
        Condition, lambda: Condition.objects.get(slug="mycosis-fungoides"), "name", id="condition"
    ),
]


@pytest.mark.parametrize("review_required", [False, True], ids=["direct", "review"])
@pytest.mark.parametrize(("model", "record", "field"), EDITED)
def test_a_stale_edit_is_refused_and_overwrites_nothing(
    client, settings, django_user_model, model, record, field, review_required
):
    """The first curator opens the form, an administrator (who saves directly) saves the record,
    then the first curator submits: the form says why nothing was saved, nor proposed."""
    settings.NKKB_REVIEW_REQUIRED = review_required
    record = record()
    url = admin_url(model, "change", record.pk)
    client.force_login(curator_create(username="first", password="lantern-orbit-velvet-41"))
    opened_by_first = form_data(client.get(url))

    client.force_login(django_user_model.objects.create_superuser("root", password=PASSWORD))
    saved = client.post(url, {**form_data(client.get(url)), field: "Saved by the administrator"})
    assert saved.status_code == 302

    client.force_login(django_user_model.objects.get(username="first"))
    response = client.post(
        url,
        {**opened_by_first, field: "Edited by the first curator", "proposal_source": "PMID 1"},
    )
    assert response.status_code == 200 and STALE_EDIT_MESSAGE in response.content.decode()
    record.refresh_from_db()
    assert getattr(record, field) == "Saved by the administrator"
    assert not Proposal.objects.exists()


@contextmanager
def another_save_lands_first(model, pk):
    """Another save of the record lands after the form's version check, just before this save's
    UPDATE reaches the database.

    It runs on the test's one database connection, so it is rolled back with the save it beat;
    a curator's save from another connection (PostgreSQL) would stay.
    """
    landed = []

    def race(execute, sql, params, many, context):
        if not landed and sql.startswith(f'UPDATE "{model._meta.db_table}"'):
            landed.append(sql)
            model.objects.get(pk=pk).save()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(race):
        yield
    assert landed, "the view saved nothing"


@pytest.mark.parametrize(("model", "record", "field"), EDITED)
def test_a_save_that_loses_the_race_is_refused_with_a_message_not_a_500(
    curator_client, model, record, field
):
    """django-concurrency refuses the UPDATE of a version no longer current (RecordModifiedError),
    which the view let through as a 500."""
    record = record()
    before = getattr(record, field)
    url = admin_url(model, "change", record.pk)
    opened = form_data(curator_client.get(url))

    with another_save_lands_first(model, record.pk):
        response = curator_client.post(url, {**opened, field: "Edited by the slower curator"})

    assert response.status_code == 302 and response["Location"] == url
    assert STALE_SAVE_MESSAGE in curator_client.get(url).content.decode()
    record.refresh_from_db()
    assert getattr(record, field) == before


def test_a_stale_row_on_the_trial_form_overwrites_nothing(curator_client, django_user_model):
    """A result changed on its own page after the trial's form was opened was written back with
    the form's old values when the trial was saved."""
    trial = Trial.objects.get(nct_id="NCT03019640")
    url = admin_url(Trial, "change", trial.pk)
    opened = form_data(curator_client.get(url))
    result = trial.results.order_by("pk").first()
    other = Client()
    other.force_login(django_user_model.objects.create_superuser("root", password=PASSWORD))
    result_url = admin_url(Result, "change", result.pk)
    changed = {**form_data(other.get(result_url)), "population": "Set on the result's own page"}
    assert other.post(result_url, changed).status_code == 302

    response = curator_client.post(url, {**opened, "title": "Edited on the trial's form"})

    assert response.status_code == 200 and STALE_EDIT_MESSAGE in response.content.decode()
    result.refresh_from_db()
    trial.refresh_from_db()
    assert result.population == "Set on the result's own page"
    assert trial.title != "Edited on the trial's form"


@pytest.mark.parametrize("review_required", [False, True], ids=["direct", "review"])
def test_rows_on_the_trial_form_carry_their_version_only_where_they_are_edited(
    curator_client, settings, review_required
):
    """Rows shown read-only (the form proposes) are not saved: no version, hidden or shown."""
    settings.NKKB_REVIEW_REQUIRED = review_required
    trial = Trial.objects.get(nct_id="NCT03019640")
    page = curator_client.get(admin_url(Trial, "change", trial.pk))
    [results] = [i for i in page.context["inline_admin_formsets"] if i.formset.prefix == "results"]
    assert ("version" in results.formset.forms[0].fields) is not review_required
    assert "version" not in results.readonly_fields


def test_a_revert_that_loses_the_race_is_refused_with_a_message_not_a_500(curator_client):
    trial = Trial.objects.get(nct_id="NCT02138734")
    seeded = trial.history.latest()
    edit_trial(curator_client, trial, enrollment="12", change_reason="a typo, as it turns out")
    revert_url = f"{admin_url(Trial, 'history', trial.pk)}{seeded.history_id}/"
    page = curator_client.get(revert_url)

    with another_save_lands_first(Trial, trial.pk):
        response = curator_client.post(revert_url, form_data(page))

    assert response.status_code == 302 and response["Location"] == revert_url
    assert STALE_SAVE_MESSAGE in curator_client.get(revert_url).content.decode()
    trial.refresh_from_db()
    assert trial.enrollment == 12


def test_the_admin_passes_djangos_system_checks():
    call_command("check", fail_level="ERROR")


# Forms as curators type them


def test_reference_numbers_are_typed_as_numbers_separated_by_commas(curator_client):
    trial = Trial.objects.get(nct_id="NCT02138734")
    url = admin_url(Trial, "change", trial.pk)
    page = curator_client.get(url)
    assert page.context["adminform"].form["source_references"].value() == ", ".join(
        str(number) for number in trial.source_references
    )

    response = curator_client.post(url, {**form_data(page), "source_references": "95, 96"})
    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.source_references == [95, 96]

    response = curator_client.post(
        url, {**form_data(curator_client.get(url)), "source_references": "95, ninety-six"}
    )
    assert response.status_code == 200
    assert "whole numbers separated by commas" in response.content.decode()


def test_a_lower_case_nct_number_with_spaces_is_normalised(curator_client):
    trial = Trial.objects.get(nct_id="NCT02138734")
    url = admin_url(Trial, "change", trial.pk)
    response = curator_client.post(
        url, {**form_data(curator_client.get(url)), "nct_id": " nct02138734 "}
    )
    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.nct_id == "NCT02138734"


def test_the_trial_list_filters_offer_only_values_in_use_with_counts(curator_client):
    page = curator_client.get(admin_url(Trial) + "?therapy_class=engager")
    agent_filter = next(f for f in page.context["cl"].filter_specs if f.parameter_name == "agent")
    options = dict(agent_filter.lookup_choices)
    engager_trials = Trial.objects.filter(agents__agent_class="engager").distinct()
    in_use = Agent.objects.filter(trials__in=engager_trials).distinct()
    assert set(options) == set(in_use.values_list("slug", flat=True))
    afm13 = Agent.objects.get(slug="afm13")
    count = engager_trials.filter(agents=afm13).count()
    assert options["afm13"] == f"{afm13.name} ({count})"


def curators_guide_commands() -> list[str]:
    """The shell lines of the README's curator's guide, as a newcomer would paste them."""
    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    guide = readme.split("## Curator's guide", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", guide, flags=re.DOTALL)
    return [line.split("   #")[0].strip() for block in blocks for line in block.splitlines()]


@pytest.mark.parametrize(
    "needles",
    [("--password-from-env",), ("validate_kb",), ("create_curator bob", "drf_create_token")],
    ids=lambda needles: needles[-1],
)
def test_the_curators_guide_commands_run_as_written(tmp_path, needles):
    """On a fresh checkout's shell: no SECRET_KEY, DEBUG or DATABASE_URL of the test run (the
    database is a new one, migrated as `make run` leaves it). Each needle picks a line, run in
    turn: a later command may need what an earlier one made."""
    lines = [next(line for line in curators_guide_commands() if n in line) for n in needles]
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    environment["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    run = functools.partial(
        subprocess.run, shell=True, cwd=settings.BASE_DIR, env=environment,
        capture_output=True, text=True, timeout=300, executable="/bin/bash",
    )  # fmt: skip
    assert run("DEBUG=1 .venv/bin/python manage.py migrate --no-input").returncode == 0

    for line in lines:
        finished = run(line)
        assert finished.returncode == 0, finished.stderr


# History as a curator reads it


def edit_trial(client, trial, **changes):
    url = admin_url(Trial, "change", trial.pk)
    return client.post(url, {**form_data(client.get(url)), **changes})


def test_every_change_says_why(curator_client):
    trial = Trial.objects.get(nct_id="NCT02138734")
    response = edit_trial(curator_client, trial, status="RECRUITING", change_reason="")
    assert response.status_code == 200
    assert "change_reason" in response.context["adminform"].form.errors

    response = edit_trial(
        curator_client, trial, status="RECRUITING", change_reason="registry update of 2024"
    )
    assert response.status_code == 302
    assert trial.history.latest().history_change_reason == "registry update of 2024"


def test_history_reads_with_labels_authors_and_reasons(curator_client):
    trial = Trial.objects.get(nct_id="NCT02138734")
    assert trial.status != "RECRUITING"
    response = edit_trial(curator_client, trial, status="RECRUITING", change_reason="new status")
    assert response.status_code == 302

    history = curator_client.get(admin_url(Trial, "history", trial.pk))
    content = history.content.decode()
    assert "<strong>Status:</strong>" in content and "&rarr; Recruiting" in content
    assert "RECRUITING" not in content
    assert "Version:" not in content and "Last updated:" not in content
    assert "new status" in content and "carol" in content
    assert ">seed<" in content and "None" not in content
    # Authors are names, not links to the user admin (which curators may not open).
    assert "/admin/auth/user/" not in content


def test_a_revert_says_to_which_version_and_returns_to_the_record(curator_client):
    trial = Trial.objects.get(nct_id="NCT02138734")
    seeded = trial.history.latest()
    edit_trial(curator_client, trial, enrollment="12", change_reason="a typo, as it turns out")

    revert_url = f"{admin_url(Trial, 'history', trial.pk)}{seeded.history_id}/"
    page = curator_client.get(revert_url)
    assert (
        page.context["adminform"]
        .form["change_reason"]
        .value()
        .startswith("Reverted to the version of ")
    )
    response = curator_client.post(revert_url, form_data(page), follow=True)

    assert response.redirect_chain[-1][0] == admin_url(Trial, "change", trial.pk)
    message = str(next(iter(response.context["messages"])))
    assert "was reverted to the version of " in message and " by seed, by carol" in message
    trial.refresh_from_db()
    assert trial.enrollment == seeded.enrollment
    assert trial.history.latest().history_change_reason.startswith("Reverted to the version of")


def test_recent_changes_filter_by_who_kind_and_when_and_link_to_the_diff(curator_client):
    trial = Trial.objects.get(nct_id="NCT02138734")
    edit_trial(curator_client, trial, enrollment="12", change_reason="from the publication")
    change = trial.history.latest()

    page = curator_client.get(
        "/admin/history/", {"who": "carol", "kind": "trials.trial", "days": 1}
    )
    assert page.status_code == 200
    changes = page.context["changes"]
    assert [c["reason"] for c in changes] == ["from the publication"]
    assert changes[0]["author"] == "carol"
    assert (
        changes[0]["url"] == f"{admin_url(Trial, 'history', trial.pk)}#change-{change.history_id}"
    )
    assert (
        f'id="change-{change.history_id}"'
        in curator_client.get(admin_url(Trial, "history", trial.pk)).content.decode()
    )

    seed = curator_client.get("/admin/history/", {"kind": "agents.agent"}).context["changes"]
    assert seed and {c["author"] for c in seed} == {"seed"}
    assert not curator_client.get(
        "/admin/history/", {"kind": "agents.target", "who": "carol"}
    ).context["changes"]


def test_recent_changes_are_for_curators(client, django_user_model):
    assert client.get("/admin/history/").status_code == 302
    client.force_login(django_user_model.objects.create_user("sam", is_staff=True))
    assert client.get("/admin/history/").status_code == 403


def test_recent_changes_of_every_kind_newest_first(curator_client):
    edit_trial(curator_client, Trial.objects.get(nct_id="NCT02138734"), change_reason="newest")
    page = curator_client.get("/admin/history/")
    changes = page.context["changes"]
    assert changes[0]["reason"] == "newest"
    assert [c["date"] for c in changes] == sorted((c["date"] for c in changes), reverse=True)
    assert page.context["page_obj"].paginator.count == sum(
        model.history.count() for model in knowledge_base_models()
    )
