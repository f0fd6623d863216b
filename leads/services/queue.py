"""Queue Celery tasks after the current transaction commits, never losing the work.

Tasks are sent by name so services need not import tasks (which import services).
If Redis is down the send fails, we log it and the database still says what is
pending: the periodic sweep (tasks.sweep, every SWEEP_SECONDS) picks the work up again
once Redis is back. Until then `queue_is_down()` lets pages and the API say so.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction

log = logging.getLogger(__name__)

# When this process last failed to send a task (monotonic seconds), None after a send worked.
_failed_at: float | None = None


def enqueue_on_commit(task_name: str, *args, countdown: float = 0) -> None:
    transaction.on_commit(lambda: send(task_name, *args, countdown=countdown))


def send(task_name: str, *args, countdown: float = 0) -> bool:
    global _failed_at
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
        _failed_at = time.monotonic()
        log.exception("could not queue %s; the periodic sweep will redo it once the queue is back", task_name)
        return False
    _failed_at = None
    return True


def queue_is_down() -> bool:
    """The last task this process tried to send could not be queued (Redis unreachable): the
    work is saved and will be redone by the sweep, but not right now."""
    return _failed_at is not None


def backlog() -> int | None:
    """Tasks waiting in the default queue, "bulk" (not counting those a worker holds; verdicts'
    label passes go to "interactive" and are not counted), None if the queue cannot be reached.
    The sweep re-queues bulk work only when this is 0."""
    from leads.celery import app

    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            # Not passive: on Redis an empty queue does not exist, and declaring one only names it.
            return conn.default_channel.queue_declare(queue=app.conf.task_default_queue).message_count
    except Exception:  # noqa: BLE001 - any broker failure means "unknown"
        return None
