"""The one Celery app: `celery -A leads worker` starts a worker."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leads.settings")

app = Celery("leads")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
