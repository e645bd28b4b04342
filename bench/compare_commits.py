"""What users and API clients see, compared between two commits: for a list of URLs (pages, API
records and lists, CSV, the OpenAPI schema), each commit's answer on its own freshly seeded
SQLite database, status, headers and body, with timestamps and record versions masked.

    python bench/compare_commits.py OLD_COMMIT NEW_COMMIT [--urls FILE]

Used to show that a refactoring changed nothing a user or client depends on; prints each
difference and exits 1 if there is any.
"""

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
URLS = """
/ /trials/ /trials/?therapy_class=cytokine /trials/?therapy_class=engager&target=cd33
/trials/?q=IL-15 /trials/?phase=2&ordering=-enrollment /trials/?export=csv /trials/?phase=9z
/trials/NCT03019640/ /trials/NCT04101331/ /trials/NCT123/ /trials/NCT00000000/
/agents/ /agents/?agent_class=engager /agents/?export=csv /agents/monalizumab/ /agents/n-803/
/targets/ /targets/cd16/ /targets/bcma/ /nk-products/ /nk-products/nk-92/ /landscape/
/compatibility/ /compatibility/?agent=afm13&product=nk-92 /api/v1/ /api/v1/trials/
/api/v1/trials/?therapy_class=cytokine&page_size=100 /api/v1/trials/?format=csv
/api/v1/trials/?fields=nct_id,title&format=csv /api/v1/trials/NCT03019640/
/api/v1/trials/NCT123/ /api/v1/trials/NCT00000000/ /api/v1/agents/?page_size=100
/api/v1/agents/monalizumab/ /api/v1/agents/?format=csv /api/v1/nk-products/?page_size=100
/api/v1/targets/?page_size=100 /api/v1/conditions/?page_size=100
/api/v1/conditions/mycosis-fungoides/ /api/v1/compatibility/?agent=afm13&product=nk-92
/api/v1/compatibility/?agent=nope&product=nk-92 /api/v1/trials/?phase=9z
/api/schema/?format=json
""".split()

# Run inside each checkout: seed a new database, then answer every URL.
DUMP = """
import io, json, sys
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
call_command("migrate", verbosity=0)
call_command("load_seed", stdout=io.StringIO())
client = Client()
answers = {}
for url in json.loads(sys.argv[1]):
    response = client.get(url)
    answers[url] = {
        "status": response.status_code,
        **{name: response.get(name) for name in ("Content-Type", "Content-Disposition")},
        "Location": response.get("Location"),
        "body": response.content.decode(),
    }
print(json.dumps(answers))
"""
MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\d[T ][\d:.]+(Z|\+00:00)?"), "<time>"),
    (re.compile(r'"version": ?\d+'), '"version": <version>'),
    (re.compile(r",\d{15,}(?=\r?$)", re.MULTILINE), ",<version>"),
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"'), "<csrf>"),
]


def answers(commit: str, urls: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        checkout = Path(folder) / "checkout"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", checkout, commit], cwd=ROOT, check=True
        )
        try:
            environment = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "nkkb.settings",
                "SECRET_KEY": "compare",
                "SECURE_SSL_REDIRECT": "0",
                "DATABASE_URL": f"sqlite:///{folder}/db.sqlite3",
                "PYTHONPATH": str(checkout),
                "NKKB_REVIEW_PATH": str(ROOT.parent / "shared" / "000_c67bac30c1f4f8a6.txt"),
            }
            result = subprocess.run(
                [sys.executable, "-W", "ignore", "-c", DUMP, json.dumps(urls)],
                cwd=checkout,
                env=environment,
                check=True,
                capture_output=True,
                text=True,
            )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", checkout], cwd=ROOT)
    return json.loads(result.stdout)


def masked(text: str) -> list[str]:
    try:
        text = json.dumps(json.loads(text), indent=1, sort_keys=True)
    except ValueError:
        pass
    for pattern, mask in MASKS:
        text = pattern.sub(mask, text)
    return text.splitlines()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--urls", type=Path, help="A file of URLs, one a line.")
    options = parser.parse_args()
    urls = options.urls.read_text().split() if options.urls else URLS
    old, new = answers(options.old, urls), answers(options.new, urls)
    differences = 0
    for url in urls:
        before, after = old[url], new[url]
        lines = list(
            difflib.unified_diff(masked(before.pop("body")), masked(after.pop("body")), n=0)
        )
        if before != after or lines:
            differences += 1
            print(f"--- {url}: {before} -> {after}" if before != after else f"--- {url}")
            print("\n".join(line.rstrip("\n") for line in lines[2:]))
    print(f"{len(urls) - differences} of {len(urls)} answers identical.")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
