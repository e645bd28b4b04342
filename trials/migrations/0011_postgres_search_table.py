"""PostgreSQL: the full-text index of trials' NCT numbers and titles moves to a narrow table of
its own, as SQLite's FTS5 table is (migration 0003).

A GIN index over the trials' table finds the matching trials, but reading their ids then visits
each match's row of that wide table, about twice the time of the same read from a table of
(id, document) (BENCHMARKS.md, "Issue 17, third round"). Triggers
keep the table in step with every insert, change of NCT number or title, delete and truncation
of trials_trial; no foreign key, so that emptying trials_trial (TRUNCATE) needs no CASCADE.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

# Migration 0003's index over the trials' table, which the new table replaces.
TRIALS_INDEX = GinIndex(SearchVector("nct_id", "title", config="simple"), name="trial_search_idx")
TABLE = "trials_trial_search"
DOCUMENT = "to_tsvector('simple'::regconfig, COALESCE({row}.nct_id, '') || ' ' || COALESCE({row}.title, ''))"

CREATE = [
    f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, document tsvector NOT NULL)",
    f"CREATE INDEX {TABLE}_document ON {TABLE} USING gin (document)",
    f"""CREATE FUNCTION {TABLE}_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {TABLE} (id, document) VALUES (NEW.id, {DOCUMENT.format(row="NEW")})
        ON CONFLICT (id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION {TABLE}_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {TABLE} WHERE id = OLD.id;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION {TABLE}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {TABLE};
        RETURN NULL;
    END $$""",
    f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON trials_trial "
    f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_write()",
    f"CREATE TRIGGER {TABLE}_update AFTER UPDATE OF nct_id, title ON trials_trial "
    f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_write()",
    f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON trials_trial "
    f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_delete()",
    f"CREATE TRIGGER {TABLE}_truncate AFTER TRUNCATE ON trials_trial "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_truncate()",
    f"INSERT INTO {TABLE} (id, document) SELECT id, {DOCUMENT.format(row='trials_trial')} "
    "FROM trials_trial",
]
TRIGGERS = ("insert", "update", "delete", "truncate")
DROP = [
    *(f"DROP TRIGGER {TABLE}_{event} ON trials_trial" for event in TRIGGERS),
    *(f"DROP FUNCTION {TABLE}_{function}()" for function in ("write", "delete", "truncate")),
    f"DROP TABLE {TABLE}",
]


def search_table(*, create: bool):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        trial = apps.get_model("trials", "Trial")
        if create:
            schema_editor.remove_index(trial, TRIALS_INDEX)
        for statement in CREATE if create else DROP:
            schema_editor.execute(statement)
        if not create:
            schema_editor.add_index(trial, TRIALS_INDEX)

    return operation


class Migration(migrations.Migration):
    dependencies = [("trials", "0010_condition_hierarchy")]

    operations = [migrations.RunPython(search_table(create=True), search_table(create=False))]
