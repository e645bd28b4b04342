"""The `contributors` role: read the knowledge base in admin and propose changes to it
(nkkb.core.proposals); curators also review proposals."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CURATORS_GROUP = "curators"
CONTRIBUTORS_GROUP = "contributors"
CONTRIBUTORS = {
    "agents": {"target": ("view",), "agent": ("view",), "nkcellproduct": ("view",)},
    "trials": {
        "condition": ("view",),
        "trial": ("view",),
        "trialagent": ("view",),
        "result": ("view",),
        "caveat": ("view",),
    },
    "registry": {"registryrecord": ("view",)},
    "core": {"proposal": ("add", "view")},
}
# Reviewing a proposal is changing it (accept, reject, rebase).
CURATORS = {"core": {"proposal": ("add", "change", "view")}}


def permissions(apps, using, grants):
    # Django creates permissions after all migrations have run (post_migrate); the groups need
    # them now, so create them here (create_permissions skips apps without a models module).
    for label in grants:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
        app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.using(using).get(
            content_type__app_label=label, codename=f"{action}_{model}"
        )
        for label, models in grants.items()
        for model, actions in models.items()
        for action in actions
    ]


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    groups = apps.get_model("auth", "Group").objects.using(using)
    contributors, _ = groups.get_or_create(name=CONTRIBUTORS_GROUP)
    contributors.permissions.set(permissions(apps, using, CONTRIBUTORS))
    groups.get(name=CURATORS_GROUP).permissions.add(*permissions(apps, using, CURATORS))


def revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    groups = apps.get_model("auth", "Group").objects.using(using)
    groups.filter(name=CONTRIBUTORS_GROUP).delete()
    groups.get(name=CURATORS_GROUP).permissions.remove(*permissions(apps, using, CURATORS))


class Migration(migrations.Migration):
    dependencies = [
        ("trials", "0007_curators_caveats_and_registry"),
        ("core", "0002_proposal"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
