"""Queue Celery tasks after the current transaction commits, never losing the work.

Tasks are sent by name so services need not import tasks (which import services).
If Redis is down the send fails, we log it and the database still says what is
pending: the periodic sweep (tasks.sweep, every SWEEP_SECONDS) picks the work up again
once Redis is back. Until then `queue_is_down()` lets pages and the API say so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid

from django.db import transaction

from leads.celery import app

log = logging.getLogger(__name__)

# When this process last failed to send a task (monotonic seconds), None after a send worked.
_failed_at: float | None = None


def enqueue_on_commit(task_name: str, *args, countdown: float = 0) -> None:
    transaction.on_commit(lambda: send(task_name, *args, countdown=countdown))


def send(task_name: str, *args, countdown: float = 0, **kwargs) -> bool:
    global _failed_at
    try:
        app.send_task(
            task_name,
            args=args,
            kwargs=kwargs,
            countdown=countdown,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception:  # noqa: BLE001 - any broker failure: the sweep recovers it
        _mark_down(task_name)
        return False
    _failed_at = None
    return True


def send_once(task_name: str, *args, key: str, seconds: int) -> bool:
    """Send `task_name` unless one sent under `key` has not started yet (the task calls
    started_once(key) as it starts): at most one waiting in the queue, however many processes ask.
    The mark expires after `seconds`, in case its task is lost. False when not sent."""
    mark = f"{ONCE_PREFIX}{key}"
    try:
        with _redis() as client:
            if not client.set(mark, 1, nx=True, ex=seconds):
                return False
    except Exception:  # noqa: BLE001 - any broker failure: the sweep recovers it
        _mark_down(task_name)
        return False
    return send(task_name, *args)


def started_once(key: str) -> None:
    """The task sent by send_once(key=key) starts: the next ask may queue another."""
    try:
        with _redis() as client:
            client.delete(f"{ONCE_PREFIX}{key}")
    except Exception:  # noqa: BLE001 - its mark expires on its own
        log.warning("could not clear %s%s", ONCE_PREFIX, key)


ONCE_PREFIX = "leads:once:"


def queue_is_down() -> bool:
    """The last task this process tried to send could not be queued (Redis unreachable): the
    work is saved and will be redone by the sweep, but not right now."""
    return _failed_at is not None


def failed_within(seconds: float) -> bool:
    """The last send of this process failed less than `seconds` ago: a page that only asks for
    work it can do without skips its try (~1 s of connecting to a Redis that is away)."""
    return _failed_at is not None and time.monotonic() - _failed_at < seconds


# --- Bulk work sent in turn ----------------------------------------------------------------
# A million-company import is thousands of embedding batches. Sent at once they fill the bulk
# queue, first in, first out, and a later import, a model switch, the map or a company a rep
# just added waits behind all of them (hours). So long runs of one task are sent in turn: the
# first BULK_WINDOW now, the rest kept in order in a Redis list (a "stream"), and each task, as
# it starts, sends the next one of its stream. A stream never has more than BULK_WINDOW tasks in
# the queue, and whatever is queued meanwhile runs after at most that many of them: two imports
# take turns. The database still says what is pending: a stream that Redis loses is redone by
# the sweep once the queue is idle (backlog counts the streams' tasks too).

STREAM_PREFIX = "leads:stream:"
STREAMS = "leads:streams"  # the set of the streams' keys, for backlog()
# A stream none of whose tasks started for this long (its tasks purged from the queue, or no bulk
# worker for an hour) is dropped by Redis, so that backlog() does not count it for ever; what it
# held is still pending in the database, and the sweep queues it again once the queue is idle.
STREAM_TTL_S = 3600


def send_in_turn(task_name: str, argument_lists: list[list]) -> int:
    """Send `task_name` once per argument list, BULK_WINDOW of them now and the rest as the
    earlier ones start (the task passes its `stream` keyword to send_next). Returns how many
    tasks were sent now or kept for later; 0 when the queue is down (the sweep redoes the work)."""
    from django.conf import settings

    window = settings.BULK_WINDOW
    if not argument_lists:
        return 0
    rest = argument_lists[window:]
    stream = None
    if rest:
        stream = f"{STREAM_PREFIX}{uuid.uuid4().hex}"
        try:
            with _redis() as client:
                pipe = client.pipeline()
                for start in range(0, len(rest), 1000):
                    pipe.rpush(stream, *(json.dumps(arguments) for arguments in rest[start : start + 1000]))
                pipe.expire(stream, STREAM_TTL_S)
                pipe.sadd(STREAMS, stream)
                pipe.execute()
        except Exception:  # noqa: BLE001 - any broker failure: the sweep recovers it
            _mark_down(f"the rest of {task_name}'s {len(argument_lists)} tasks")
            return 0
    for arguments in argument_lists[:window]:
        if not send(task_name, *arguments, **({"stream": stream} if stream else {})):
            return 0
    return len(argument_lists)


def send_next(task_name: str, stream: str | None) -> bool:
    """Called by a task of a stream as it starts: send the stream's next task (the stream's
    window stays full whether this one succeeds, fails or its worker dies). False when the
    stream is done (or unreachable: the sweep redoes what it held)."""
    if not stream or not stream.startswith(STREAM_PREFIX):
        return False
    try:
        with _redis() as client:
            arguments, _ = client.pipeline().lpop(stream).expire(stream, STREAM_TTL_S).execute()
            if arguments is None:
                client.srem(STREAMS, stream)
                return False
    except Exception:  # noqa: BLE001
        _mark_down(f"the next task of {stream}")
        return False
    return send(task_name, *json.loads(arguments), stream=stream)


def purge() -> None:
    """Empty both queues and drop every stream (tests; an operator clearing a queue by hand)."""
    app.control.purge()
    with _redis() as client:
        streams = client.smembers(STREAMS)
        if streams:
            client.delete(*streams)
        client.delete(STREAMS)
        marks = client.keys(f"{ONCE_PREFIX}*")  # a few: one a task waiting
        if marks:
            client.delete(*marks)


def _stream_backlog(client) -> int:
    keys = [key.decode() if isinstance(key, bytes) else key for key in client.smembers(STREAMS)]
    if not keys:
        return 0
    pipe = client.pipeline()
    for key in keys:
        pipe.llen(key)
    lengths = pipe.execute()
    gone = [key for key, length in zip(keys, lengths) if not length]
    if gone:
        client.srem(STREAMS, *gone)
    return sum(lengths)


@contextlib.contextmanager
def _redis():
    """The broker's own Redis client (kombu's, so the embedded server's socket URL works too)."""
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        yield conn.default_channel.client


def _mark_down(what: str) -> None:
    global _failed_at
    _failed_at = time.monotonic()
    log.exception("could not queue %s; the periodic sweep will redo it once the queue is back", what)


def backlog() -> int | None:
    """Bulk tasks waiting: those in the default queue, "bulk" (not counting those a worker holds;
    verdicts' label passes go to "interactive" and are not counted), and those a stream keeps for
    later (send_in_turn); None if the queue cannot be reached. The sweep re-queues bulk work only
    when this is 0."""
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            # Not passive: on Redis an empty queue does not exist, and declaring one only names it.
            waiting = conn.default_channel.queue_declare(queue=app.conf.task_default_queue).message_count
            return waiting + _stream_backlog(conn.default_channel.client)
    except Exception:  # noqa: BLE001 - any broker failure means "unknown"
        return None
