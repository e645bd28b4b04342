"""Link tables indexed from the linked record to the trial, so that a filter on agents, NK cell
products or conditions reads its trial ids from the index alone (at 100,000 trials: the count of
the engager trials 22 -> 12 ms on SQLite, 48 -> 25 ms on PostgreSQL; BENCHMARKS.md).

TrialAgent declares its index; the many-to-many tables are Django's own, which a model cannot
give an index, so this migration adds theirs.
"""

import django.db.models.deletion
from django.db import migrations, models

# (many-to-many field of Trial, its column for the linked record)
MANY_TO_MANY = [("nk_products", "nkcellproduct"), ("conditions", "condition")]


def many_to_many_indexes(*, create: bool):
    def operation(apps, schema_editor):
        trial = apps.get_model("trials", "Trial")
        for field_name, linked in MANY_TO_MANY:
            through = trial._meta.get_field(field_name).remote_field.through
            index = models.Index(fields=[linked, "trial"], name=f"trial_{field_name}_link_idx")
            (schema_editor.add_index if create else schema_editor.remove_index)(through, index)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0001_initial"),
        ("trials", "0003_search_and_sort_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="trialagent",
            name="agent",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="trial_links",
                to="agents.agent",
            ),
        ),
        migrations.AddIndex(
            model_name="trialagent",
            index=models.Index(fields=["agent", "trial"], name="trialagent_agent_trial_idx"),
        ),
        migrations.RunPython(many_to_many_indexes(create=True), many_to_many_indexes(create=False)),
    ]
