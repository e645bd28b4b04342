"""Secrets and DEBUG come from the environment; production never runs on a default secret."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

SHOW_SETTINGS = (
    "import nkkb.settings as s; print(s.DEBUG, s.ALLOWED_HOSTS, s.DATABASES['default']['ENGINE'])"
)
SHOW_DATABASE_OPTIONS = "import nkkb.settings as s; print(s.DATABASES['default']['OPTIONS'])"


def import_settings(script=SHOW_SETTINGS, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"}
    }
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**clean, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )


def test_without_debug_a_secret_key_is_required():
    result = import_settings()
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_development_runs_on_sqlite_without_any_configuration():
    result = import_settings(DEBUG="1")
    assert result.stdout.split() == [
        "True",
        "['localhost',",
        "'127.0.0.1']",
        "django.db.backends.sqlite3",
    ]


def test_production_reads_its_database_and_hosts_from_the_environment():
    result = import_settings(
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://u:p@db.example:5432/nkkb",
        ALLOWED_HOSTS="nkkb.example.org",
    )
    assert result.stdout.split() == [
        "False",
        "['nkkb.example.org']",
        "django.db.backends.postgresql",
    ]


def test_sqlite_connections_read_through_memory_mapping_and_let_writers_queue(tmp_path):
    """WAL, immediate transactions and a busy timeout: a second writer waits instead of
    failing "database is locked" (tests/test_abuse.py races two against each other)."""
    script = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    for pragma in ('mmap_size', 'journal_mode', 'busy_timeout'):\n"
        "        cursor.execute(f'PRAGMA {pragma}')\n"
        "        print(cursor.fetchone()[0])\n"
        "print(connection.transaction_mode)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={
            **os.environ,
            "DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "nkkb.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'nkkb.sqlite3'}",
        },
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == [str(256 * 1024 * 1024), "wal", "20000", "IMMEDIATE"], (
        result.stderr
    )


def test_postgresql_connections_run_queries_without_parallel_workers():
    production = {"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "nkkb.example.org"}
    default = import_settings(
        SHOW_DATABASE_OPTIONS, DATABASE_URL="postgres://u:p@db.example:5432/nkkb", **production
    )
    assert default.stdout.strip() == (
        "{'options': '-c max_parallel_workers_per_gather=0 -c statement_timeout=10000'}"
    )
    chosen = import_settings(
        SHOW_DATABASE_OPTIONS,
        DATABASE_URL="postgres://u:p@db.example:5432/nkkb?options=-c%20work_mem%3D64MB",
        **production,
    )
    assert chosen.stdout.strip() == "{'options': '-c work_mem=64MB'}"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
@pytest.mark.django_db
def test_postgresql_server_applies_the_connection_options():
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone() == ("0",)
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("10s",)
