"""The one Celery app: `celery -A leads worker` starts a worker."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leads.settings")

app = Celery("leads")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(**kwargs) -> None:
    """Before and after each task a worker closes its database connection only where Django would
    at the end of a request: past CONN_MAX_AGE, or broken (settings: CELERY_DB_REUSE_MAX)."""
    from django.db import close_old_connections

    close_old_connections()
