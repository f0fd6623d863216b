"""The one Celery app: `celery -A leads worker` starts a worker."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init
from kombu.transport import redis as redis_transport

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leads.settings")

app = Celery("leads")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _remember_where_redis_is(connparams):
    """kombu's Redis channel, patched to keep its connection parameters once it has them.

    On a lost broker connection Celery 5.7's consumer calls `Connection.collect()`, which detaches
    the kombu transport from its Connection (`transport.client = None`), then `connection.close()`
    (added by celery/celery#10242). When the worker was waiting on Redis for another task (BRPOP,
    any worker with free processes: --concurrency defaults to the cores), collect's close of the
    channel stops at that dead socket and the channel stays open. Closing that
    channel restores its unacknowledged tasks (acks_late: the task running) through a new pool,
    and a new pool reads the host from `channel.connection.client`: None, so
    `AttributeError: 'NoneType' object has no attribute 'hostname'`, which is no connection error,
    and the worker exits ("Unrecoverable error"). The task's ack after the reconnect fails the same
    way. kombu 5.7.0 and celery 5.7.0 are the newest releases and their main branches still do
    this (the class of celery/kombu#582 and celery/celery#10205). With the parameters kept, the
    restore fails with a connection error while Redis is down (ignored; the task stays in Redis's
    unacked index), and the ack goes through once Redis is back. Drop this once a release fixes it
    (tests/test_worker_restarts.py fails without it)."""

    def remembered(self, asynchronous=False):
        transport = self.connection
        known = self.__dict__.setdefault("_leads_connparams", {})
        if (transport is None or transport.client is None) and asynchronous in known:
            return dict(known[asynchronous])
        params = connparams(self, asynchronous)
        known[asynchronous] = dict(params)
        return params

    return remembered


redis_transport.Channel._connparams = _remember_where_redis_is(redis_transport.Channel._connparams)


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


@worker_init.connect
def _bulk_work_yields_the_cpu(sender, **kwargs) -> None:
    """A worker that takes bulk work runs at BULK_NICE: where it shares cores with the web server,
    Postgres and the worker that applies verdicts, the OS gives them the CPU first, so a rep's
    click does not wait behind an import's encoder (docs/benchmarks.md, bench_import_clicks).
    Its prefork processes are forked after this and inherit it."""
    from django.conf import settings

    queues = set(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
    if settings.BULK_QUEUE in queues and settings.BULK_NICE:
        os.nice(settings.BULK_NICE)


@worker_init.connect
def _vectors_in_memory_where_verdicts_run(sender, **kwargs) -> None:
    """Only a worker that takes no bulk work keeps the vectors in memory for its passes
    (scoring.vector_copy: 1.5 GB a process at a million companies): the interactive worker, which
    takes the verdicts whenever the others are busy with an import. A worker that also takes bulk
    work scans in Postgres for the passes it takes when free, unless SCORING_VECTORS_IN_MEMORY says."""
    from django.conf import settings

    queues = set(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
    if settings.BULK_QUEUE in queues and "SCORING_VECTORS_IN_MEMORY" not in os.environ:
        settings.SCORING_VECTORS_IN_MEMORY = False
