from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared machinery: template tags, request limits, deadlines and rate-limit counts."""

    name = "nkkb.core"
    label = "core"
    verbose_name = "NKKB core"

    def ready(self):
        from django.contrib import admin
        from django.db.backends.signals import connection_created
        from django.db.models import Field, ForeignObject
        from django.db.models.signals import post_migrate

        from .caching import create_data_state_function
        from .changes import connect_write_lock
        from .deadlines import install_progress_handler
        from .queries import InIds, create_ids_queries_functions

        connection_created.connect(install_progress_handler)
        # Sent once per migrate for this app, after every app's migrations.
        post_migrate.connect(create_data_state_function, sender=self)
        post_migrate.connect(create_ids_queries_functions, sender=self)
        connect_write_lock()
        # Relations keep lookups of their own, not a plain field's: registered on both.
        Field.register_lookup(InIds)
        ForeignObject.register_lookup(InIds)
        # Admin's side bar of every model took a third of a laptop's screen and clipped the
        # lists; the index and the breadcrumbs lead to the same places.
        admin.site.enable_nav_sidebar = False
