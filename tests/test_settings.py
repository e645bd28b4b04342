"""Secrets and DEBUG come from the environment; production never runs on a default secret."""

import os
import subprocess
import sys

from django.conf import settings

SHOW_SETTINGS = (
    "import nkkb.settings as s; print(s.DEBUG, s.ALLOWED_HOSTS, s.DATABASES['default']['ENGINE'])"
)


def import_settings(**env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"}
    }
    return subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS],
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


def test_sqlite_connections_read_the_file_through_memory_mapping(tmp_path):
    script = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('PRAGMA mmap_size')\n"
        "    print(cursor.fetchone()[0])\n"
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
    assert result.stdout.strip() == str(256 * 1024 * 1024), result.stderr
