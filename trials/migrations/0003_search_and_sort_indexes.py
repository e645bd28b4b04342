"""Indexes of trials that only one database can express, so the model cannot declare them.

The full-text index of trials' NCT numbers and titles that trials/search.py queries. SQLite: an
FTS5 table over trials_trial, kept in step by triggers. Django rebuilds a SQLite table to alter
it, and dropping the old table drops its triggers: a later migration that alters trials_trial
must create them again (tests/test_search.py fails until it does). PostgreSQL: a GIN index over
the `simple` tsvector of the two columns.

PostgreSQL also gets `enrollment DESC NULLS LAST`, the order of `ordering=-enrollment` (empty
values last), which its plain index cannot give as PostgreSQL sorts NULL first when descending.
SQLite sorts NULL last when descending anyway, and its CREATE INDEX has no NULLS LAST.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations, models

SQLITE_TABLE = "trials_trial_search"
COLUMNS = "nct_id, title"
SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5({COLUMNS}, content='trials_trial', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER {SQLITE_TABLE}_insert AFTER INSERT ON trials_trial BEGIN "
    f"INSERT INTO {SQLITE_TABLE}(rowid, {COLUMNS}) VALUES (new.id, new.nct_id, new.title); END",
    f"CREATE TRIGGER {SQLITE_TABLE}_delete AFTER DELETE ON trials_trial BEGIN "
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, {COLUMNS}) "
    "VALUES ('delete', old.id, old.nct_id, old.title); END",
    f"CREATE TRIGGER {SQLITE_TABLE}_update AFTER UPDATE OF {COLUMNS} ON trials_trial BEGIN "
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, {COLUMNS}) "
    "VALUES ('delete', old.id, old.nct_id, old.title); "
    f"INSERT INTO {SQLITE_TABLE}(rowid, {COLUMNS}) VALUES (new.id, new.nct_id, new.title); END",
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}) VALUES ('rebuild')",
]
SQLITE_DROP = [
    *(f"DROP TRIGGER {SQLITE_TABLE}_{event}" for event in ("insert", "delete", "update")),
    f"DROP TABLE {SQLITE_TABLE}",
]


def postgres_indexes():
    return [
        GinIndex(SearchVector("nct_id", "title", config="simple"), name="trial_search_idx"),
        models.Index(
            models.F("enrollment").desc(nulls_last=True), name="trial_enrollment_desc_idx"
        ),
    ]


def indexes(*, create: bool):
    def operation(apps, schema_editor):
        trial = apps.get_model("trials", "Trial")
        if schema_editor.connection.vendor == "postgresql":
            for index in postgres_indexes():
                (schema_editor.add_index if create else schema_editor.remove_index)(trial, index)
        elif schema_editor.connection.vendor == "sqlite":
            for statement in SQLITE_CREATE if create else SQLITE_DROP:
                schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [("trials", "0002_curators_group")]

    operations = [migrations.RunPython(indexes(create=True), indexes(create=False))]
