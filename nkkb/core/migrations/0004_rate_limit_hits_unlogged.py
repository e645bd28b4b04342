"""The rate-limit counts skip PostgreSQL's write-ahead log: every anonymous request writes one,
and waiting for the log to reach the disk was most of that write's time (BENCHMARKS.md,
"Issue 17, sixth round"). A crash empties the table, which only forgets the counts of the
current period."""

from django.db import migrations


def _set_persistence(persistence):
    def alter(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            table = schema_editor.quote_name(apps.get_model("core", "RateLimitHits")._meta.db_table)
            schema_editor.execute(f"ALTER TABLE {table} SET {persistence}")

    return alter


class Migration(migrations.Migration):
    dependencies = [("core", "0003_stored_facets")]

    operations = [
        migrations.RunPython(_set_persistence("UNLOGGED"), _set_persistence("LOGGED")),
    ]
