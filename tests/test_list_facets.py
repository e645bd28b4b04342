"""The agent, NK cell product and target lists: checkbox facets whose counts are the lists their
options lead to, with chips, the result range and a constant number of queries (issue #14)."""

import html
import re

import django_filters
import pytest
from django.http import QueryDict
from django.urls import reverse

from agents.filtersets import AgentFilterSet, NKCellProductFilterSet, TargetFilterSet
from agents.models import Agent, Target
from nkkb.core import views
from trials.filtersets import TrialFilterSet
from trials.models import Condition, Trial
from trials.tables import TrialTable

pytestmark = pytest.mark.django_db

LISTS = {
    "/agents/": AgentFilterSet,
    "/nk-products/": NKCellProductFilterSet,
    "/targets/": TargetFilterSet,
}
SELECTIONS = [
    ("/agents/", ""),
    ("/agents/", "agent_class=engager"),
    ("/agents/", "target=cd16&acts_through_cd16=true"),
    ("/agents/", "acts_through_cd16=unknown&approval_status=approved"),
    ("/agents/", "acts_through_cd16=false&acts_through_cd16=unknown&q=mab"),
    ("/agents/", "platform=monoclonal+antibody&platform=TriKE"),
    ("/agents/", "target=no-such-target"),
    ("/nk-products/", ""),
    ("/nk-products/", "source=cell-line"),
    ("/nk-products/", "donor=allogeneic&cd16_status=unknown"),
    ("/nk-products/", "target=cd19&q=car"),
    ("/nk-products/", "source=ipsc&source=cell-line&source=stem-cell"),
    ("/nk-products/", "cd16_status=bogus"),
    ("/targets/", ""),
    ("/targets/", "kind=tumor-antigen"),
    ("/targets/", "kind=nk-activating-receptor&kind=immune-checkpoint&q=nk"),
]
CHECKBOX = re.compile(
    r'<input type="checkbox" name="(\w+)" value="([^"]*)"( checked)?>([^<]*)'
    r'<span class="count" data-count="(\d+)">'
)


def shown_options(page: str) -> dict[tuple[str, str], dict]:
    """{(facet, value): {count, checked, label}} of the facet panel's checkboxes."""
    return {
        (name, html.unescape(value)): {
            "count": int(count),
            "checked": bool(checked),
            "label": html.unescape(label).strip(),
        }
        for name, value, checked, label, count in CHECKBOX.findall(page)
    }


def listed(filterset_class, query: QueryDict) -> int:
    """The records the list shows for `query`: none where a filter is invalid."""
    filterset = filterset_class(query, queryset=filterset_class._meta.model.objects.all())
    return filterset.qs.count() if filterset.is_valid() else 0


def every_option(filterset_class, name: str) -> list[str]:
    field = filterset_class().form.fields[name]
    if hasattr(field, "queryset"):
        return [record.slug for record in field.queryset]
    return [value for value, _ in field.choices if value != ""]


@pytest.mark.parametrize(("url", "selection"), SELECTIONS)
def test_each_option_counts_the_records_its_link_would_list(client, url, selection):
    filterset_class = LISTS[url]
    options = shown_options(client.get(f"{url}?{selection}").content.decode())
    selected = QueryDict(selection)
    for name in filterset_class.facet_paths:
        for value in every_option(filterset_class, name):
            query = QueryDict(selection, mutable=True)
            query.setlist(name, [value])
            expected = listed(filterset_class, query)
            shown = options.get((name, value))
            if expected or value in selected.getlist(name):
                assert shown is not None, (name, value)
                assert shown["count"] == expected, (name, value)
                assert shown["checked"] == (value in selected.getlist(name)), (name, value)
            else:
                assert shown is None, (name, value)  # an option that would list nothing


@pytest.mark.parametrize("filterset_class", LISTS.values())
def test_every_choice_filter_is_a_facet(filterset_class):
    choice_filters = {
        name
        for name, definition in filterset_class.base_filters.items()
        if isinstance(definition, django_filters.MultipleChoiceFilter)
    }
    assert set(filterset_class.facet_paths) == choice_filters


def test_the_selections_tested_are_not_all_empty():
    for url, selection in SELECTIONS:
        if "no-such" not in selection and "bogus" not in selection:
            assert listed(LISTS[url], QueryDict(selection)), (url, selection)


def test_the_cd16_facet_counts_an_unrecorded_dependence_as_unknown(client):
    options = shown_options(client.get("/agents/").content.decode())
    for value, recorded in [("true", True), ("false", False), ("unknown", None)]:
        count = Agent.objects.filter(acts_through_cd16=recorded).count()
        assert options[("acts_through_cd16", value)]["count"] == count > 0, value
    labels = [options[("acts_through_cd16", v)]["label"] for v in ("true", "false", "unknown")]
    assert labels == ["Yes", "No", "Not recorded"]


def test_options_named_by_readers_sort_case_insensitively(client):
    options = list(shown_options(client.get("/agents/").content.decode()).items())
    for facet in ("platform", "target"):
        labels = [option["label"] for (name, _), option in options if name == facet]
        assert len(labels) > 5 and labels == sorted(labels, key=str.casefold), facet
        assert labels != sorted(labels), facet  # the seed has names in both cases


def test_the_facet_panel_names_an_option_as_it_is_after_a_write(client):
    target = Target.objects.filter(agents__isnull=False).order_by("slug")[0]
    before = shown_options(client.get("/agents/").content.decode())
    assert before[("target", target.slug)]["label"] == target.name
    target.name = "Renamed by a curator"
    target.save()
    after = shown_options(client.get("/agents/").content.decode())
    assert after[("target", target.slug)]["label"] == "Renamed by a curator"


def rename_a_condition():
    condition = Condition.objects.filter(trials__isnull=False).order_by("slug")[0]
    condition.name = "Renamed by a curator"
    condition.save()
    return "condition", condition.slug


def change_a_platform():
    agent = Agent.objects.filter(trials__isnull=False, platform__isnull=False).order_by("slug")[0]
    agent.platform = "Renamed by a curator"
    agent.save()
    return "platform", "Renamed by a curator"


@pytest.mark.parametrize("write", [rename_a_condition, change_a_platform])
def test_the_trial_facet_panel_names_an_option_as_it_is_after_a_write(client, write):
    client.get("/trials/")
    facet, value = write()
    after = shown_options(client.get("/trials/").content.decode())
    assert after[(facet, value)]["label"].endswith("Renamed by a curator")


def test_a_write_to_a_trial_leaves_the_options_read_from_other_records_kept(client, monkeypatch):
    derived = []
    monkeypatch.setattr(views, "facet_choices", lambda field: derived.append(field.label) or [])
    client.get("/trials/")
    assert len(derived) == len(TrialFilterSet.facet_paths)
    derived.clear()
    trial = Trial.objects.get(nct_id="NCT03019640")
    trial.title += " (edited)"
    trial.save()
    client.get("/trials/")
    fields = TrialFilterSet().form.fields
    read_from_records = ("agent", "platform", "target", "nk_product", "condition")
    assert not {fields[name].label for name in read_from_records} & set(derived)
    assert fields["sponsor"].label in derived  # read from the trials


def test_applied_facets_are_chips_with_the_range_and_the_drawer_count(client):
    page = client.get("/agents/?agent_class=engager&target=cd16&target=cd33&page=1")
    content = page.content.decode()
    chips = re.findall(r'<a class="chip" href="([^"]*)"[^>]*>([^<]*)<', content)
    links = {label: href.replace("&amp;", "&") for href, label in chips}
    assert set(links) == {"Class: NK cell engager", "Target: CD16", "Target: CD33"}
    assert links["Target: CD16"] == "?agent_class=engager&target=cd33"
    count = listed(AgentFilterSet, QueryDict("agent_class=engager&target=cd16&target=cd33"))
    assert f"Showing 1–{count} of <span" in content and "Filters (3)" in content
    assert 'aria-label="Filter agents"' in content


def test_the_product_list_names_its_car_targets_and_counts_in_words(client):
    content = client.get("/nk-products/?target=cd19&q=t-haNK").content.decode()
    assert "Target: CD19" not in content and "CAR target: CD19" in content
    assert "<legend>CAR target</legend>" in content
    assert '<span id="result-count">1</span> NK cell product ' in content
    empty = client.get("/targets/?q=no-such-target").content.decode()
    assert "No target matches these filters." in empty


def test_applying_filters_keeps_the_sort_and_page_size(client):
    content = client.get("/targets/?ordering=-name&page_size=5&page=2").content.decode()
    assert '<input type="hidden" name="ordering" value="-name">' in content
    assert '<input type="hidden" name="page_size" value="5">' in content
    assert 'type="hidden" name="page"' not in content


@pytest.mark.parametrize(
    "url",
    [
        "/agents/?agent_class=engager&target=cd16&",
        "/agents/?acts_through_cd16=unknown&q=ab&",
        "/nk-products/?cd16_status=unknown&target=cd19&",
        "/targets/?kind=tumor-antigen&",
    ],
)
def test_list_pages_with_facets_run_a_constant_number_of_queries(
    client, list_queries_by_page_size, url
):
    assert 'class="facet"' in client.get(url).content.decode()
    counts = list_queries_by_page_size(url)
    assert counts[0] == counts[1], counts


def test_the_agent_admin_filters_count_the_records_their_options_list(admin_client):
    changelist = reverse("admin:agents_agent_changelist")
    every_filter = admin_client.get(changelist).context["cl"].filter_specs
    assert set(AgentFilterSet.facet_paths) <= {spec.parameter_name for spec in every_filter}
    response = admin_client.get(f"{changelist}?agent_class=engager")
    specs = {spec.parameter_name: spec for spec in response.context["cl"].filter_specs}
    for name in ("acts_through_cd16", "target", "platform"):
        choices = dict(specs[name].lookup_choices)
        assert choices, name
        for value, label in choices.items():
            query = QueryDict(f"agent_class=engager&{name}={value}")
            assert label.endswith(f"({listed(AgentFilterSet, query)})"), (name, value, label)
    cd16 = admin_client.get(f"{changelist}?acts_through_cd16=unknown")
    assert cd16.context["cl"].result_count == Agent.objects.filter(acts_through_cd16=None).count()


def test_a_trial_list_page_builds_its_filterset_and_its_table_once(client, monkeypatch):
    """The facet counts reuse the page's valid filters, the column chooser the class's headers:
    each FilterSet or table built copies all its filters, form fields or columns."""
    built = []
    for cls in (TrialFilterSet, TrialTable):
        monkeypatch.setattr(cls, "__init__", counted(cls.__init__, built, cls.__name__))
    client.get("/trials/?therapy_class=engager&phase=2")
    built.clear()
    assert client.get("/trials/?therapy_class=engager&phase=2&status=COMPLETED").status_code == 200
    assert sorted(built) == ["TrialFilterSet", "TrialTable"]


def counted(init, built: list, name: str):
    def wrapper(self, *args, **kwargs):
        built.append(name)
        init(self, *args, **kwargs)

    return wrapper
