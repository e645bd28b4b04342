from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared machinery: template tags, request limits, deadlines and rate-limit counts."""

    name = "nkkb.core"
    label = "core"
    verbose_name = "NKKB core"

    def ready(self):
        from django.db.backends.signals import connection_created

        from .deadlines import install_progress_handler

        connection_created.connect(install_progress_handler)
