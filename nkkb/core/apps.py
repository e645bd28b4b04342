from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Installed for its template tags; its models are abstract."""

    name = "nkkb.core"
    label = "core"
    verbose_name = "NKKB core"
