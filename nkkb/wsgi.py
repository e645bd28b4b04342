"""WSGI entry point for application servers (gunicorn in production)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nkkb.settings")

application = get_wsgi_application()
