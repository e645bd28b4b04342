"""CSV for spreadsheets, the same from the pages and the API: a UTF-8 byte-order mark (so that
Excel reads "TGFβi" as written), cells that cannot run as formulas, and a filename that says
what was selected and when."""

import csv
import io
import re
from datetime import date

BOM = "\ufeff"
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (OWASP, "CSV injection"): such a cell is written after an apostrophe, which shows as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_SELECTION_IN_NAME = 80


def guarded(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def spreadsheet_csv(header: list[str], rows) -> bytes:
    """`header` and `rows` (iterables of cells) as guarded CSV, with the byte-order mark."""
    output = io.StringIO()
    output.write(BOM)
    writer = csv.writer(output)
    writer.writerow([guarded(cell) for cell in header])
    for row in rows:
        writer.writerow([guarded(cell) for cell in row])
    return output.getvalue().encode("utf-8")


def export_filename(noun: str, selection: list[tuple[str, str]], day: date | None = None) -> str:
    """`nkkb-trials-phase-2-target-cd33-2026-11-28.csv`: the records, the filters (name and
    value, or `all`) and the day."""
    parts = [f"{name}-{value}" for name, value in selection if value.strip()]
    chosen = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")
    chosen = chosen[:MAX_SELECTION_IN_NAME].rstrip("-") or "all"
    noun = re.sub(r"[^a-z0-9]+", "-", noun.lower()).strip("-")
    return f"nkkb-{noun}-{chosen}-{(day or date.today()).isoformat()}.csv"
