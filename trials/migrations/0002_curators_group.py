"""The `curators` role: add, change, delete and view the knowledge-base models, nothing else."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CURATORS_GROUP = "curators"
KNOWLEDGE_BASE_MODELS = {
    "agents": ("target", "agent", "nkcellproduct"),
    "trials": ("condition", "trial", "trialagent", "result"),
}
ACTIONS = ("add", "change", "delete", "view")


def create_curators_group(apps, schema_editor):
    using = schema_editor.connection.alias
    # Django creates permissions after all migrations have run (post_migrate); the group needs
    # them now, so create them here (create_permissions skips apps without a models module).
    for label in KNOWLEDGE_BASE_MODELS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=CURATORS_GROUP)
    permissions = [
        Permission.objects.using(using).get(
            content_type__app_label=label, codename=f"{action}_{model}"
        )
        for label, model_names in KNOWLEDGE_BASE_MODELS.items()
        for model in model_names
        for action in ACTIONS
    ]
    group.permissions.set(permissions)


def delete_curators_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=CURATORS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0001_initial"),
        ("trials", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_curators_group, delete_curators_group)]
