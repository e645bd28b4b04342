"""The trials' spreadsheet: one set of columns for the page's *Export CSV* and the API's CSV,
read from the trials' API representation (so both hold the same values)."""

from decimal import Decimal

from agents.choices import CD16Status
from agents.compatibility import UNRECORDED
from agents.models import Target

from .choices import Phase, TherapyClass, TrialStatus
from .models import Result


def _label(choices, value) -> str:
    return "" if value in (None, "") else str(dict(choices.choices).get(value, value))


def _joined(values) -> str:
    return "; ".join(str(value) for value in values if value not in (None, ""))


def _result(result: dict) -> str:
    """ "Overall response rate: 16.7% (treated patients, 12 months)", worded as on the pages."""
    figure = Result(
        metric=result["metric"],
        value=Decimal(str(result["value"])),
        unit=result["unit"],
        value_qualifier=result["value_qualifier"],
        denominator=result["denominator"],
    )
    details = ", ".join(filter(None, [result.get("population"), result.get("timepoint")]))
    text = f"{figure.get_metric_display()}: {figure.display_value}"
    return f"{text} ({details})" if details else text


def _warnings(trial: dict) -> str:
    return " | ".join(
        ("CD16 dependence not recorded" if w["severity"] == UNRECORDED else w["severity"].title())
        + f": {w['message']}"
        for w in trial.get("compatibility_warnings") or ()
    )


# (header, the representation's fields it reads, its cell from one trial's representation).
COLUMNS = [
    ("NCT number", ("nct_id",), lambda t, n: t["nct_id"]),
    ("Title", ("title",), lambda t, n: t["title"]),
    ("NKKB page", ("html_url",), lambda t, n: t["html_url"]),
    ("ClinicalTrials.gov", ("ctgov_url",), lambda t, n: t["ctgov_url"]),
    ("Phase", ("phase",), lambda t, n: _label(Phase, t["phase"])),
    ("Status", ("status",), lambda t, n: _label(TrialStatus, t["status"])),
    ("Start year", ("start_year",), lambda t, n: t["start_year"]),
    ("Enrollment", ("enrollment",), lambda t, n: t["enrollment"]),
    (
        "Therapy classes",
        ("therapy_classes",),
        lambda t, n: _joined(_label(TherapyClass, c) for c in t["therapy_classes"]),
    ),
    ("Agents", ("agents",), lambda t, n: _joined(a["name"] for a in t["agents"])),
    (
        "NK cell products",
        ("nk_products",),
        lambda t, n: _joined(p["name"] for p in t["nk_products"]),
    ),
    (
        "NK product CD16",
        ("nk_products",),
        lambda t, n: _joined(
            f"{p['name']}: {_label(CD16Status, p['cd16_status'])}" for p in t["nk_products"]
        ),
    ),
    (
        "Targets",
        ("agents",),
        lambda t, n: _joined(
            dict.fromkeys(n.get(slug, slug) for a in t["agents"] for slug in a["targets"])
        ),
    ),
    ("Conditions", ("conditions",), lambda t, n: _joined(t["conditions"])),
    ("Compatibility warnings", ("compatibility_warnings",), lambda t, n: _warnings(t)),
    ("Results", ("results",), lambda t, n: _joined(_result(r) for r in t["results"])),
    ("Review section", ("provenance",), lambda t, n: (t["provenance"] or {}).get("section")),
    ("Last updated", ("last_updated",), lambda t, n: t["last_updated"]),
]


def trial_spreadsheet(trials: list[dict], fields=None) -> tuple[list[str], list[list]]:
    """The header and rows of `trials` (API representations); with `fields` (the
    representation's fields present), only the columns those fields give."""
    columns = [c for c in COLUMNS if fields is None or all(f in fields for f in c[1])]
    needs_targets = any(header == "Targets" for header, _, _ in columns)
    target_names = dict(Target.objects.values_list("slug", "name")) if needs_targets else {}
    rows = [[cell(trial, target_names) for _, _, cell in columns] for trial in trials]
    return [header for header, _, _ in columns], rows
