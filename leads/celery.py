"""The one Celery app: `celery -A leads worker` starts a worker."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init

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


@worker_init.connect
def _share_the_cores(sender, **kwargs) -> None:
    """A worker's processes share the machine's cores: the encoder of each of `--concurrency`
    prefork processes takes its share (embedding.threads), unless EMBEDDING_THREADS says. The
    processes are forked after this and inherit it."""
    pool = str(getattr(sender, "pool_cls", ""))
    processes = sender.concurrency if isinstance(sender.concurrency, int) else 0
    if processes > 1 and "solo" not in pool:
        os.environ["LEADS_WORKER_PROCESSES"] = str(processes)
