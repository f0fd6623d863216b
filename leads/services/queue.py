"""Queue Celery tasks after the current transaction commits, never losing the work.

Tasks are sent by name so services need not import tasks (which import services).
If Redis is down the send fails, we log it and the database still says what is
pending: the worker's start-up sweep (tasks.sweep) picks the work up again.
"""

from __future__ import annotations

import logging

from django.db import transaction

log = logging.getLogger(__name__)


def enqueue_on_commit(task_name: str, *args, countdown: float = 0) -> None:
    transaction.on_commit(lambda: send(task_name, *args, countdown=countdown))


def send(task_name: str, *args, countdown: float = 0) -> bool:
    from leads.celery import app

    try:
        app.send_task(
            task_name,
            args=args,
            countdown=countdown,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception:  # noqa: BLE001 - any broker failure: the sweep recovers it
        log.exception("could not queue %s; the next worker sweep will redo it", task_name)
        return False
    return True
