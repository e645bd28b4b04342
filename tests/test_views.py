"""The browsing pages, through real HTTP requests on the seeded database."""

import csv
import io
import re

import pytest
from django.db.models.functions import Lower
from django.http import QueryDict

from agents.models import Agent, NKCellProduct, Target
from nkkb.core.models import RateLimitHits
from trials.choices import Phase, TherapyClass
from trials.filtersets import TrialFilterSet
from trials.models import Trial

pytestmark = pytest.mark.django_db

LIST_PAGES = ["/trials/", "/agents/", "/targets/", "/nk-products/"]


def listed_nct_ids(response) -> list[str]:
    return re.findall(r'href="/trials/(NCT\d{8})/">NCT', response.content.decode())


def trial_count(query: str) -> int:
    return TrialFilterSet(QueryDict(query), queryset=Trial.objects.all()).qs.count()


def test_the_home_page_shows_counts_per_therapy_class_and_a_chart(client):
    page = client.get("/").content.decode()
    assert f"<strong>{Trial.objects.count()}</strong> trials" in page
    for therapy_class in TherapyClass:
        count = trial_count(f"therapy_class={therapy_class.value}")
        link = f'href="/trials/?therapy_class={therapy_class.value}">{therapy_class.label}</a>'
        assert f'{link} <span class="count">({count})' in page
    phase_one = trial_count("therapy_class=cytokine&phase=1")
    assert f"<title>Cytokine, I: {phase_one} trials</title>" in page
    not_stated = trial_count("therapy_class=cytokine") - trial_count(
        "therapy_class=cytokine&" + "&".join(f"phase={phase}" for phase in Phase.values)
    )
    assert f"<title>Cytokine, Phase not stated: {not_stated} trials</title>" in page


@pytest.mark.parametrize(
    "url",
    [
        "/",
        *LIST_PAGES,
        "/landscape/",
        "/compatibility/",
        "/compatibility/?agent=afm13&product=nk-92",
    ],
)
def test_every_page_answers(client, url):
    assert client.get(url).status_code == 200


def test_every_detail_page_answers_and_links_back(client):
    for obj in [
        *Trial.objects.all(),
        *Agent.objects.all(),
        *NKCellProduct.objects.all(),
        *Target.objects.all(),
    ]:
        # More pages than one anonymous client may read in a minute: start each afresh.
        RateLimitHits.objects.all().delete()
        response = client.get(obj.get_absolute_url())
        assert response.status_code == 200, obj
        assert "Provenance" in response.content.decode()


def test_a_trial_page_shows_everything_about_the_trial(client):
    page = client.get("/trials/NCT03019640/").content.decode()
    assert "https://clinicaltrials.gov/study/NCT03019640" in page
    assert 'href="/agents/rituximab/"' in page and 'href="/targets/cd20/"' in page
    assert 'href="/nk-products/cord-blood-nk/"' in page and "Umbilical cord blood" in page
    assert "84%" in page and "about 70%" in page and "18 months" in page
    assert "Review section <strong>6.1 Tumor-specific mAb</strong>, references 117" in page
    assert "<dd>22</dd>" in page


def test_a_trial_page_shows_its_compatibility_caveat(client):
    page = client.get("/trials/NCT04074746/").content.decode()
    assert 'data-code="adam17-shedding"' in page
    assert "section 4" in page


def test_agent_target_and_product_pages_link_their_trials(client):
    assert 'href="/trials/NCT02643550/"' in client.get("/agents/monalizumab/").content.decode()
    target_page = client.get("/targets/cd33/").content.decode()
    assert (
        'href="/agents/trike-161533/"' in target_page
        and 'href="/trials/NCT03214666/"' in target_page
    )
    product_page = client.get("/nk-products/nk-92/").content.decode()
    assert "Poor fit" in product_page


def test_a_record_page_lists_its_first_trials_and_links_to_all_of_them(client, monkeypatch):
    """An agent may be given in thousands of trials: its page shows the first and counts all."""
    monkeypatch.setattr("agents.views.FIRST_LISTED", 2)
    page = client.get("/agents/monalizumab/").content.decode()
    assert len(re.findall(r'<li><a href="/trials/NCT\d{8}/">', page)) == 2
    assert '<a href="/trials/?agent=monalizumab">All 6 trials</a>' in page
    listed = client.get("/trials/?agent=monalizumab")
    assert len(listed_nct_ids(listed)) == 6

    page = client.get("/targets/cd16/").content.decode()
    assert re.search(r'<a href="/trials/\?target=cd16">All \d+ trials targeting CD16</a>', page)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/trials/NCT123/", "is not an NCT number"),
        ("/trials/nct02138734x/", "is not an NCT number"),
        ("/trials/NCT00000000/", "NKKB has no trial &#x27;NCT00000000&#x27;."),
        ("/agents/no-such-agent/", "NKKB has no agent &#x27;no-such-agent&#x27;."),
        ("/targets/no-such-target/", "NKKB has no target &#x27;no-such-target&#x27;."),
        (
            "/nk-products/no-such-product/",
            "NKKB has no NK cell product &#x27;no-such-product&#x27;.",
        ),
    ],
)
def test_unknown_records_are_404_with_a_message(client, url, message):
    response = client.get(url)
    assert response.status_code == 404
    assert message in response.content.decode()


def test_an_empty_result_says_so(client):
    page = client.get("/trials/?q=no-such-thing").content.decode()
    assert "No trial matches these filters" in page


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("phase=9z", "phase"),
        ("agent=no-such-agent", "agent"),
        ("therapy_class=vaccine", "therapy_class"),
        ("ordering=bogus", "ordering"),
        ("target=nope", "target"),
    ],
)
def test_an_invalid_filter_value_is_explained_not_a_server_error(client, query, field):
    response = client.get(f"/trials/?{query}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Some filter values are not valid" in page and f"<li>{field}:" in page
    assert listed_nct_ids(response) == []


def facet_count(page: str, name: str, value: str) -> int | None:
    option = rf'name="{name}" value="{re.escape(value)}"[^>]*>[^<]*'
    match = re.search(option + r'<span class="count" data-count="(\d+)"', page)
    return int(match[1]) if match else None


def test_facet_counts_are_the_counts_of_the_lists_their_options_lead_to(client):
    page = client.get("/trials/").content.decode()
    for phase in [*Phase.values, "not-stated"]:
        expected = trial_count(f"phase={phase}")
        assert facet_count(page, "phase", phase) == (expected or None), phase
    for name, value in [
        ("therapy_class", "cytokine"),
        ("therapy_class", "nk-cell-product"),
        ("agent", "monalizumab"),
        ("status", "COMPLETED"),
    ]:
        assert facet_count(page, name, value) == trial_count(f"{name}={value}") > 0


def test_a_trial_reaching_a_target_by_agent_and_by_product_counts_once(client):
    trial = (
        Trial.objects.filter(agents__targets__slug="bcma")
        .exclude(nk_products__targets__slug="bcma")
        .first()
    )
    page = client.get("/trials/").content.decode()
    targets = facet_count(page, "target", "bcma")
    products = facet_count(page, "nk_product", "ft576")

    trial.nk_products.add(NKCellProduct.objects.get(slug="ft576"))  # its CAR targets BCMA too

    page = client.get("/trials/").content.decode()
    assert facet_count(page, "nk_product", "ft576") == products + 1  # counted afresh after a write
    assert facet_count(page, "target", "bcma") == targets


def test_facet_counts_apply_the_other_filters_but_not_their_own(client):
    page = client.get("/trials/?therapy_class=engager").content.decode()
    for name, value in [("target", "cd16"), ("target", "cd33"), ("agent", "afm13")]:
        expected = trial_count(f"therapy_class=engager&{name}={value}")
        assert facet_count(page, name, value) == expected > 0
    assert 'value="engager" checked' in page
    # Therapy classes combine: the counts say how many engager trials also have each class.
    both = trial_count("therapy_class=engager&therapy_class=nk-cell-product")
    assert facet_count(page, "therapy_class", "nk-cell-product") == both > 0
    assert trial_count("therapy_class=engager&therapy_class=cytokine") == 0
    assert facet_count(page, "therapy_class", "cytokine") is None  # no trial left: option hidden

    page = client.get("/trials/?target=cd33").content.decode()
    expected = trial_count("target=cd33&therapy_class=engager")
    assert facet_count(page, "therapy_class", "engager") == expected > 0


def test_sorting_by_a_column(client):
    response = client.get("/trials/?ordering=-enrollment&page_size=3")
    assert listed_nct_ids(response) == ["NCT05221840", "NCT02643550", "NCT02321592"]
    response = client.get("/trials/?ordering=nct_id&page_size=100")
    assert listed_nct_ids(response) == sorted(Trial.objects.values_list("nct_id", flat=True))


def test_pagination_keeps_the_filters_and_caps_the_page_size(client):
    first = listed_nct_ids(client.get("/trials/?page_size=10&ordering=nct_id"))
    total = Trial.objects.count()
    full_pages = (total - 1) // 10
    last = client.get(f"/trials/?page_size=10&ordering=nct_id&page={full_pages + 1}")
    assert len(first) == 10 and len(listed_nct_ids(last)) == total - 10 * full_pages
    assert not set(first) & set(listed_nct_ids(last))
    assert len(listed_nct_ids(client.get("/trials/?page_size=100000"))) == min(total, 100)
    page = client.get("/trials/?therapy_class=cytokine&page_size=10").content.decode()
    assert re.search(r'href="\?[^"]*therapy_class=cytokine[^"]*page=2', page.replace("&amp;", "&"))


def test_csv_export_holds_the_whole_filtered_selection(client):
    response = client.get("/trials/?therapy_class=engager&page_size=5&export=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 10
    afm13 = next(row for row in rows if row["NCT number"] == "NCT04074746")
    assert afm13["Agents"] == "AFM13"
    assert afm13["NK cell products"] == "cord blood NK cells"
    assert "<a" not in response.content.decode()


def test_a_list_larger_than_the_export_limit_says_so_instead_of_exporting(client, monkeypatch):
    monkeypatch.setattr("nkkb.core.views.MAX_EXPORT_ROWS", 57)
    page = client.get("/trials/").content.decode()
    assert "CSV exports hold up to 57 rows" in page and "Export CSV" not in page
    response = client.get("/trials/?export=csv")
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    assert 'role="alert">CSV exports hold up to 57 rows' in response.content.decode()
    assert client.get("/trials/?phase=2&export=csv")["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize(
    "url", [f"{page}?" for page in LIST_PAGES] + ["/trials/?therapy_class=cytokine&"]
)
def test_list_pages_run_a_constant_number_of_queries(list_queries_by_page_size, url):
    counts = list_queries_by_page_size(url)
    assert counts[0] == counts[1], counts


def test_the_landscape_links_each_cell_to_its_filtered_list(client):
    page = client.get("/landscape/").content.decode().replace("&amp;", "&")
    for query in [
        "therapy_class=engager&target=cd33",
        "nk_product=cord-blood-nk&therapy_class=engager",
    ]:
        assert f'<a href="/trials/?{query}">{trial_count(query)}</a>' in page


def test_the_pair_check_page_warns_and_rejects_unknown_choices(client):
    page = client.get("/compatibility/?agent=rituximab&product=nk-92").content.decode()
    assert 'data-code="cd16-lacking"' in page
    page = client.get("/compatibility/?agent=n-803&product=nk-92").content.decode()
    assert "No compatibility warning for this pair" in page
    response = client.get("/compatibility/?agent=nope&product=nk-92")
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get("/admin/trials/trial/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_home_page_lists_recent_curator_changes(client, django_user_model):
    curator = django_user_model.objects.create_user("curator")
    trial = Trial.objects.get(nct_id="NCT02138734")
    trial.title = "BCG plus N-803 (edited)"
    trial._history_user = curator
    trial.save()

    page = client.get("/").content.decode()

    assert "curator changed" in page
    assert 'href="/trials/NCT02138734/">NCT02138734</a>' in page


def test_other_lists_sort_and_export_too(client):
    response = client.get("/agents/?ordering=-name&page_size=3")
    listed = re.findall(r'<td [^>]*><a href="/agents/([\w-]+)/">', response.content.decode())
    by_name = Agent.objects.order_by(Lower("name").desc())
    assert listed == list(by_name.values_list("slug", flat=True)[:3])
    rows = list(
        csv.reader(
            io.StringIO(
                client.get("/nk-products/?cd16_status=absent&export=csv").content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert rows[1][0] == "NK-92" and len(rows) == 2


def test_an_nct_number_in_lower_case_redirects_to_the_trials_page(client):
    """One parser (registry.models.parse_nct_id) for every entry point: the page redirects to
    the canonical URL, the API serves the record, a malformed number is a 404 that says why."""
    response = client.get("/trials/nct03019640/")
    assert response.status_code == 301 and response["Location"] == "/trials/NCT03019640/"
    assert client.get("/api/v1/trials/nct03019640/").json()["nct_id"] == "NCT03019640"
    malformed = client.get("/api/v1/trials/nct0301964/")
    assert malformed.status_code == 404 and "is not an NCT number" in malformed.json()["detail"]


def test_the_csv_export_opens_in_a_spreadsheet_as_written_and_runs_no_formula(client):
    trial = Trial.objects.get(nct_id="NCT02138734")
    trial.title = '=HYPERLINK("https://example.org", "TGFβi")'
    trial.save()
    response = client.get("/trials/?q=NCT02138734&export=csv")
    assert response.content.startswith("\ufeff".encode())  # Excel then reads UTF-8: "β" stays
    assert re.fullmatch(
        r'attachment; filename="nkkb-trials-q-nct02138734-\d{4}-\d{2}-\d{2}\.csv"',
        response["Content-Disposition"],
    )
    header, row = csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
    assert header == [
        "NCT number",
        "Title",
        "NKKB page",
        "ClinicalTrials.gov",
        "Phase",
        "Status",
        "Start year",
        "Enrollment",
        "Therapy classes",
        "Agents",
        "NK cell products",
        "NK product CD16",
        "Targets",
        "Conditions",
        "Compatibility warnings",
        "Results",
        "Review section",
        "Last updated",
    ]
    cells = dict(zip(header, row, strict=True))
    assert cells["Title"] == "'" + trial.title  # shown as text, never run
    assert cells["Therapy classes"] == "Cytokine; Other (co-therapy)"  # labels, not slugs
    assert cells["NKKB page"] == "http://testserver/trials/NCT02138734/"


def test_an_empty_selection_offers_no_export(client):
    page = client.get("/trials/?q=no-such-thing").content.decode()
    assert "Export CSV" not in page and "No trial matches these filters" in page


def test_applied_filters_are_chips_that_each_remove_one_value(client):
    page = client.get("/trials/?therapy_class=engager&target=cd33&target=cd30&page=1")
    chips = re.findall(r'<a class="chip" href="([^"]*)"[^>]*>([^<]*)<', page.content.decode())
    labels = {label: href.replace("&amp;", "&") for href, label in chips}
    assert set(labels) == {"Therapy class: NK cell engager", "Target: CD33", "Target: CD30"}
    assert labels["Target: CD33"] == "?therapy_class=engager&target=cd30"
    assert "Showing 1–" in page.content.decode() and "Filters (3)" in page.content.decode()


def test_the_sorted_column_says_so(client):
    page = client.get("/trials/?ordering=-enrollment").content.decode()
    assert re.search(r'aria-sort="descending">\s*<a href="[^"]*ordering=enrollment', page)
    assert page.count("aria-sort=") == 1


def test_the_column_chooser_is_remembered_in_the_url_and_the_api_names_its_own(client):
    page = client.get("/trials/?columns=phase&columns=start_year").content.decode()
    headers = re.findall(r'<th scope="col"[^>]*>\s*(?:<a [^>]*>)?([^<]+)', page)
    assert [h.strip() for h in headers] == [
        "NCT number",
        "Title, agents and NK cell products",
        "Phase",
        "Start year",
    ]
    assert 'name="columns" value="phase" checked' in page
    assert 'name="columns" value="enrollment">' in page
    # The page's display parameter is no filter: the API, which selects fields with `fields`,
    # refuses it as it refuses any parameter it does not read.
    response = client.get("/api/v1/trials/", {"columns": "phase"})
    assert response.status_code == 400 and "columns" in response.json()


def test_trials_filter_by_compatibility_warning_with_the_rules_of_their_pages(client):
    warned = trial_count("has_warning=true")
    assert warned and warned + trial_count("has_warning=false") == Trial.objects.count()
    for trial in Trial.objects.with_related():
        expected = trial.warning_count > 0
        assert (
            TrialFilterSet(
                QueryDict("has_warning=true"), queryset=Trial.objects.filter(pk=trial.pk)
            ).qs.exists()
            == expected
        ), trial.nct_id
    page = client.get("/trials/?has_warning=true").content.decode()
    assert f'<span id="result-count">{warned}</span>' in page
    assert 'class="flag flag-warning"' in page


def test_an_unrecorded_cd16_dependence_is_its_own_outcome_not_silence(client):
    page = client.get("/compatibility/?agent=daratumumab&product=nk-92").content.decode()
    assert 'data-code="cd16-unrecorded"' in page and "No compatibility warning" not in page
    assert "CD16 dependence not recorded" in page
    checked = client.get("/api/v1/compatibility/?agent=daratumumab&product=nk-92").json()
    assert [w["code"] for w in checked["warnings"]] == ["cd16-unrecorded"]
    assert checked["warnings"][0]["severity"] == "unrecorded"


def test_the_cd16_filter_of_agents_has_a_real_unknown_and_defaults_to_any(client):
    unknown = set(Agent.objects.filter(acts_through_cd16=None).values_list("slug", flat=True))
    page = client.get("/agents/?acts_through_cd16=unknown&page_size=100").content.decode()
    assert set(re.findall(r'<td [^>]*><a href="/agents/([\w-]+)/">', page)) == unknown
    assert client.get("/api/v1/agents/?acts_through_cd16=unknown").json()["count"] == len(unknown)
    everything = client.get("/agents/").content.decode()
    assert f'<span id="result-count">{Agent.objects.count()}</span>' in everything
    assert "1 agent<" not in everything and "agents" in everything


def test_counts_are_worded_in_the_singular_and_the_plural(client):
    one = client.get("/agents/?q=rituximab").content.decode()
    assert '<span id="result-count">1</span> agent ' in one
    products = client.get("/nk-products/").content.decode()
    assert "</span> NK cell products" in products


def test_a_trial_row_links_its_agents_products_and_classes_and_labels_each_cell(client):
    trial = (
        Trial.objects.filter(trial_agents__role="expressed-by-product", nk_products__isnull=False)
        .distinct()
        .first()
    )
    page = client.get("/trials/", {"q": trial.nct_id}).content.decode()
    row = re.search(rf'<tr[^>]*><td[^>]*><a href="/trials/{trial.nct_id}/">.*?</tr>', page, re.S)
    cells = re.findall(r"<td([^>]*)>(.*?)</td>", row.group(0), re.S)
    labels = [re.search(r'data-label="([^"]*)"', attrs).group(1) for attrs, _ in cells]
    assert labels[:2] == ["NCT number", "Title, agents and NK cell products"]
    title = cells[1][1]
    for link in trial.trial_agents.all():
        expected = f'<a href="/agents/{link.agent.slug}/">{link.agent.name}</a>'
        if not link.gives_therapy_class:
            expected += f" <small>({link.get_role_display()})</small>"
        assert expected in title
    for product in trial.nk_products.all():
        assert f'<a class="product" href="/nk-products/{product.slug}/">{product.name}</a>' in title
    classes = dict(zip(labels, (content for _, content in cells), strict=True))["Therapy classes"]
    badges = re.findall(r'<a class="badge" href="/trials/\?therapy_class=([^"]+)">', classes)
    assert badges == [choice.value for choice in trial.therapy_class_choices] != []
