"""PostgreSQL: each word of the full-text index with the ids of the trials that have it, so that a
search for a word reads its ids from a few rows instead of visiting the row of each match.

A GIN index has no index-only scan: the search table's GIN index finds the matching rows, but
their ids are read from the heap, one page per match for a word of a few thousand trials (most
of a search's time, BENCHMARKS.md, "Issue 17, sixteenth round"). Here a word's ids are held in
rows of (word, block, ids), a block being the trials whose ids share their high bits: small
enough that a block's array stays in its row, so that a write to one trial rewrites a few
hundred bytes of a common word's ids rather than a compressed array stored apart (TOAST).
Triggers on the search table (which migration 0011's triggers keep in step with trials_trial)
keep this one in step with it. The search table stays: a phrase (parts that must follow each
other) needs its word positions.
"""

from django.db import migrations

TABLE = "trials_trial_search_word"
SEARCH_TABLE = "trials_trial_search"
BLOCK_BITS = 8
# The table's rows as the search table's words give them (tests/test_search.py reads it too).
WORDS = f"""SELECT word, id >> {BLOCK_BITS} AS block, array_agg(id ORDER BY id) AS ids
    FROM {SEARCH_TABLE}, unnest(tsvector_to_array(document)) AS word
    GROUP BY word, block"""

CREATE = [
    # Reading every trial's words at registry scale outlasts a request's limit (nkkb/settings.py).
    "SET LOCAL statement_timeout = 0",
    # The "C" collation lets a word's start (LIKE 'haplo%') walk the primary key.
    f"""CREATE TABLE {TABLE} (
        word text COLLATE "C" NOT NULL,
        block integer NOT NULL,
        ids bigint[] NOT NULL,
        PRIMARY KEY (word, block)
    )""",
    f"""CREATE FUNCTION {TABLE}_write() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        dropped text[] := CASE WHEN TG_OP = 'INSERT' THEN '{{}}'
                               ELSE tsvector_to_array(OLD.document) END;
        added text[] := CASE WHEN TG_OP = 'DELETE' THEN '{{}}'
                             ELSE tsvector_to_array(NEW.document) END;
    BEGIN
        IF TG_OP = 'UPDATE' AND OLD.id = NEW.id THEN
            -- Only the words the change drops or adds.
            SELECT ARRAY(SELECT unnest(dropped) EXCEPT SELECT unnest(added)),
                   ARRAY(SELECT unnest(added) EXCEPT SELECT unnest(dropped))
            INTO dropped, added;
        END IF;
        IF cardinality(dropped) > 0 THEN
            UPDATE {TABLE} SET ids = array_remove(ids, OLD.id)
            WHERE block = OLD.id >> {BLOCK_BITS} AND word = ANY (dropped);
            DELETE FROM {TABLE}
            WHERE block = OLD.id >> {BLOCK_BITS} AND word = ANY (dropped)
                AND cardinality(ids) = 0;
        END IF;
        IF cardinality(added) > 0 THEN
            -- In the words' order, as every writer locks them, so that two writers cannot deadlock.
            INSERT INTO {TABLE} (word, block, ids)
            SELECT word, NEW.id >> {BLOCK_BITS}, ARRAY[NEW.id]
            FROM unnest(added) AS word ORDER BY word
            ON CONFLICT (word, block) DO UPDATE SET ids = {TABLE}.ids || EXCLUDED.ids;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION {TABLE}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {TABLE};
        RETURN NULL;
    END $$""",
    f"CREATE TRIGGER {TABLE}_write AFTER INSERT OR DELETE ON {SEARCH_TABLE} "
    f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_write()",
    # Saving a trial writes its document again, changed or not (migration 0011's trigger).
    f"CREATE TRIGGER {TABLE}_update AFTER UPDATE ON {SEARCH_TABLE} FOR EACH ROW "
    "WHEN (OLD.id <> NEW.id OR OLD.document IS DISTINCT FROM NEW.document) "
    f"EXECUTE FUNCTION {TABLE}_write()",
    f"CREATE TRIGGER {TABLE}_truncate AFTER TRUNCATE ON {SEARCH_TABLE} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_truncate()",
    # A word's rows side by side, as a search reads them.
    f"INSERT INTO {TABLE} (word, block, ids) {WORDS} ORDER BY word, block",
    f"ANALYZE {TABLE}",
]
DROP = [
    f"DROP TRIGGER {TABLE}_write ON {SEARCH_TABLE}",
    f"DROP TRIGGER {TABLE}_update ON {SEARCH_TABLE}",
    f"DROP TRIGGER {TABLE}_truncate ON {SEARCH_TABLE}",
    f"DROP FUNCTION {TABLE}_write()",
    f"DROP FUNCTION {TABLE}_truncate()",
    f"DROP TABLE {TABLE}",
]


def search_words(*, create: bool):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in CREATE if create else DROP:
            schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [("trials", "0011_postgres_search_table")]

    operations = [migrations.RunPython(search_words(create=True), search_words(create=False))]
