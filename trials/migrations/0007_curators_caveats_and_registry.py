"""Curators also edit caveats, read registry records and triage registry candidates."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CURATORS_GROUP = "curators"
PERMISSIONS = {
    "trials": {"caveat": ("add", "change", "delete", "view")},
    "registry": {"registryrecord": ("view",), "studycandidate": ("change", "view")},
}


def permissions(apps, using):
    # Django creates permissions after all migrations have run (post_migrate); the group needs
    # them now, so create them here (create_permissions skips apps without a models module).
    for label in PERMISSIONS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
        app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.using(using).get(
            content_type__app_label=label, codename=f"{action}_{model}"
        )
        for label, models in PERMISSIONS.items()
        for model, actions in models.items()
        for action in actions
    ]


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    group = apps.get_model("auth", "Group").objects.using(using).get(name=CURATORS_GROUP)
    group.permissions.add(*permissions(apps, using))


def revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    group = apps.get_model("auth", "Group").objects.using(using).get(name=CURATORS_GROUP)
    group.permissions.remove(*permissions(apps, using))


class Migration(migrations.Migration):
    dependencies = [
        ("trials", "0006_condition_version"),
        ("registry", "0002_historicalstudycandidate_studycandidate"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
