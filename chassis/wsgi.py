"""WSGI entry point for every service: DJANGO_SETTINGS_MODULE names the service's settings."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
