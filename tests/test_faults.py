"""Faults: what users see while the database is unreachable, and that the site recovers."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db


def refuse_connections(execute, sql, params, many, context):
    # The error a driver raises when the server is gone (injected at the connection's edge).
    raise OperationalError(
        "could not connect to server: Connection refused\n\tIs the server running?"
    )


def test_an_unreachable_database_answers_503_and_the_site_recovers(client):
    with connection.execute_wrapper(refuse_connections):
        page = client.get("/trials/")
        api = client.get("/api/v1/trials/")

    assert page.status_code == 503
    assert "database is unavailable" in page.content.decode()
    assert page["Retry-After"] == "30"
    assert api.status_code == 503
    assert "database is unavailable" in api.json()["detail"]

    assert client.get("/trials/").status_code == 200


def test_a_bad_query_is_not_mistaken_for_an_outage(client):
    def broken_query(execute, sql, params, many, context):
        raise OperationalError("no such column: trials_trial.bogus")

    client.raise_request_exception = False
    with connection.execute_wrapper(broken_query):
        response = client.get("/trials/")
    assert response.status_code == 500


CRASH_DURING_SEED_LOAD = """
import os
import sys
from pathlib import Path

import django

django.setup()
from django.core.management import call_command
from trials.models import Result
from trials.services.seed import seed_load

call_command("migrate", verbosity=0)

def die(self, *args, **kwargs):
    os._exit(137)  # the process dies half-way through the load, as under SIGKILL

Result.save = die  # results load after the catalogue and the first trials are written
seed_load(directory=Path(sys.argv[1]))
"""


def test_a_seed_load_killed_half_way_leaves_the_database_as_it_was(tmp_path, settings):
    database = tmp_path / "crash.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "nkkb.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", CRASH_DURING_SEED_LOAD, str(settings.NKKB_FIXTURES_DIR)],
        env=env,
        cwd=settings.BASE_DIR,
    )
    assert result.returncode == 137

    with sqlite3.connect(database) as db:
        counts = [
            db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("trials_trial", "agents_agent", "agents_target", "trials_result")
        ]
    assert counts == [0, 0, 0, 0]


CRASH_DURING_IMPORT = """
import os
import sys
from pathlib import Path

import django

django.setup()
from django.core.management import call_command
from registry.models import RegistryRecord
from registry.sync import registry_files_read

call_command("migrate", verbosity=0)
call_command("load_seed", verbosity=0)

save = RegistryRecord.save

def save_then_die(self, *args, **kwargs):
    save(self, *args, **kwargs)
    os._exit(137)  # the process dies right after writing a record, as under SIGKILL

RegistryRecord.save = save_then_die
registry_files_read(paths=[Path(sys.argv[1])], apply=True)
"""


def test_an_import_killed_half_way_leaves_the_database_as_it_was(tmp_path, settings):
    database = tmp_path / "crash.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    page = settings.BASE_DIR / "tests" / "ctgov" / "studies_page.json"
    read = json.loads(page.read_text(encoding="utf-8"))["studies"]
    in_file = {study["protocolSection"]["identificationModule"]["nctId"] for study in read}

    result = subprocess.run(
        [sys.executable, "-c", CRASH_DURING_IMPORT, str(page)], env=env, cwd=settings.BASE_DIR
    )

    assert result.returncode == 137
    with sqlite3.connect(database) as db:
        records = dict(db.execute("SELECT nct_id, source_kind FROM registry_registryrecord"))
        history = db.execute("SELECT COUNT(*) FROM registry_historicalregistryrecord").fetchone()
        trials = db.execute("SELECT COUNT(*) FROM trials_trial").fetchone()[0]
    # The seed's snapshot records stand as loaded; nothing of the file was kept, half or whole.
    assert set(records.values()) <= {"archived-page", "mirror", "other-registry"}
    assert all(records.get(nct_id) != "file" for nct_id in in_file)
    assert history[0] == len(records) and trials == 58
