"""Two queues: what a click waits on ("interactive") never waits behind bulk work ("bulk")."""

from __future__ import annotations

import os
import re
import time
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from leads import tasks
from leads.celery import app
from leads.core import queue
from leads.embedding import active
from leads.embedding import services as embeddings
from leads.management.commands import serve
from leads.models import FIRST_PROFILE_ID, Company, CompanyEmbedding, PendingScoreChange
from leads.scoring import labels
from tests.test_workers import labelled_and_scored
from tests.worker_helpers import start_worker

# Every task leads/tasks.py defines, and the queue it belongs on.
ROUTED = {
    "leads.apply_label_changes": "interactive",
    "leads.embed_companies": "bulk",
    "leads.rescore_chunk": "bulk",
    "leads.rescore_all": "bulk",
    "leads.compute_map": "bulk",
    "leads.keep_fit_distribution": "bulk",  # a big profile's bands after a pass: never before the next verdict
    "leads.sweep": "bulk",
    "leads.queue_import_embeddings": "bulk",
    "leads.run_import": "bulk",
    "leads.run_outcome_import": "bulk",
    "leads.remember_bands_before": "bulk",
    "leads.deliver_webhook": "bulk",  # never in a verdict's way: a slow receiver waits its timeout
}


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_it_routes_every_task_to_the_queue_it_belongs_on():
    defined = {task.name for task in vars(tasks).values() if hasattr(task, "delay")}
    assert defined == set(ROUTED)
    assert {name: queue_of(name) for name in defined} == ROUTED


def test_it_sends_a_task_nobody_routed_to_the_bulk_queue():
    assert queue_of("leads.some_future_task") == "bulk"


def test_a_worker_started_without_queues_consumes_both():
    assert set(app.amqp.queues) == {"interactive", "bulk"}


def serve_commands() -> dict[str, list[str]]:
    with (
        mock.patch.object(serve, "run_together") as run_together,
        mock.patch.object(serve.Command, "_stop_services"),
    ):
        call_command("serve", stdout=open(os.devnull, "w"))
    return run_together.call_args.args[0]


def test_serve_runs_a_worker_that_takes_only_verdicts_beside_one_that_takes_everything():
    commands = serve_commands()
    assert "--queues=interactive" in commands["interactive worker"]
    assert "--concurrency=1" in commands["interactive worker"]
    assert "--hostname=interactive@%h" in commands["interactive worker"]
    assert "--queues=bulk,interactive" in commands["worker"]


@pytest.mark.parametrize(
    ("queues", "environ", "kept"),
    [
        ("interactive", {}, True),
        ("bulk,interactive", {}, False),
        ("bulk,interactive", {"SCORING_VECTORS_IN_MEMORY": "1"}, True),
    ],
)
def test_only_a_worker_that_takes_no_bulk_work_keeps_the_vectors_in_memory(monkeypatch, queues, environ, kept):
    """1.5 GB a process at a million companies: the interactive worker's, not every process of a
    worker busy with imports (unless the operator says so)."""
    from leads import celery as leads_celery

    monkeypatch.setattr(settings, "SCORING_VECTORS_IN_MEMORY", True)
    monkeypatch.delenv("SCORING_VECTORS_IN_MEMORY", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    worker = mock.Mock()
    worker.app.amqp.queues.consume_from = {name: None for name in queues.split(",")}
    leads_celery._vectors_in_memory_where_verdicts_run(worker)
    assert settings.SCORING_VECTORS_IN_MEMORY is kept


# --- Real workers -------------------------------------------------------------------------


def succeeded(worker, task_name: str) -> int:
    return len(re.findall(rf"Task {re.escape(task_name)}\[[^\]]+\] succeeded", worker.log()))


def wait_for(condition, *, seconds: float, what: str, workers) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for worker in workers:
            worker.assert_alive()
        assert time.monotonic() < deadline, f"{what}:\n" + "\n".join(w.log_tail() for w in workers)
        time.sleep(0.1)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@override_settings(RESCORE_DELAY_SECONDS=0)
def test_a_verdict_is_applied_while_the_bulk_worker_embeds_an_import(tmp_path, alice):
    made = labelled_and_scored(300, alice)
    bulk = start_worker(tmp_path, "bulk", queues="bulk")
    interactive = start_worker(tmp_path, "interactive", queues="interactive")
    workers = [bulk, interactive]
    try:
        # The bulk worker yields the CPU (BULK_NICE); the one that applies verdicts does not.
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, bulk.process.pid) == min(19, ours + settings.BULK_NICE)
        assert os.getpriority(os.PRIO_PROCESS, interactive.process.pid) == ours
        # Each worker sends a sweep on start; both are bulk work.
        wait_for(lambda: succeeded(bulk, "leads.sweep") == 2, seconds=60, what="the start-up sweeps", workers=workers)
        # The worker that applies verdicts read every vector into memory as it started; the bulk one did not.
        in_memory = "vectors of all-MiniLM-L6-v2 in memory for the passes"
        wait_for(lambda: in_memory in interactive.log(), seconds=30, what="the vectors read", workers=workers)
        assert in_memory not in bulk.log()

        # An import's worth of embedding in one batch: the bulk worker is busy with it for a while.
        imported = Company.objects.bulk_create(
            Company(
                name=f"Imported {i}",
                dedupe_key=f"imported-{i}",
                description=f"Company {i} makes payroll, invoicing and scheduling software for shops and clinics",
            )
            for i in range(4000)
        )
        queue.send("leads.embed_companies", [c.pk for c in imported])
        wait_for(
            lambda: "Task leads.embed_companies[" in bulk.log(), seconds=30, what="the batch taken", workers=workers
        )

        given = time.monotonic()
        labels.label_companies(
            profile_id=FIRST_PROFILE_ID, verdicts=[(made[1].pk, "dislike")], user=alice, source="admin"
        )
        wait_for(
            lambda: (
                succeeded(interactive, "leads.apply_label_changes") == 1 and not PendingScoreChange.objects.exists()
            ),
            seconds=30,
            what="the verdict applied",
            workers=workers,
        )
        applied_in = time.monotonic() - given
        still_embedding = succeeded(bulk, "leads.embed_companies") == 0
        logs = "\n".join(worker.log_tail() for worker in workers)
    finally:
        for worker in workers:
            worker.stop()
        queue.purge()
    assert still_embedding, f"the batch ended before the verdict was applied: make it longer\n{logs}"
    assert applied_in < 5, f"the verdict waited {applied_in:.1f} s"
    assert "Task leads.apply_label_changes[" not in bulk.log()
    assert "Task leads.embed_companies[" not in interactive.log()


def test_beat_asks_for_dropped_verdicts_on_the_interactive_queue():
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "leads.apply_label_changes")
    assert queue_of(entry["task"]) == "interactive" and entry["schedule"] == settings.SWEEP_SECONDS


def test_each_queue_has_its_own_routing_key():
    """Declared by name alone, both queues were bound to the exchange "bulk" with the key "bulk"."""
    queues = app.amqp.queues
    assert {name: (q.exchange.name, q.routing_key) for name, q in queues.items()} == {
        "interactive": ("interactive", "interactive"),
        "bulk": ("bulk", "bulk"),
    }


# --- Long runs of bulk tasks are sent in turn -----------------------------------------------


def queued(queue_name: str) -> list[tuple[str, list, dict]]:
    """The tasks waiting in a queue, oldest first: (name, args, kwargs)."""
    import base64
    import json

    with queue._redis() as client:
        raw = client.lrange(queue_name, 0, -1)
    messages = [json.loads(m) for m in reversed(raw)]  # kombu pushes on the left, takes from the right
    bodies = [json.loads(base64.b64decode(m["body"])) for m in messages]
    return [(m["headers"]["task"], body[0], body[1]) for m, body in zip(messages, bodies)]


@pytest.fixture
def empty_queues():
    queue.purge()
    yield
    queue.purge()


@override_settings(BULK_WINDOW=3)
def test_a_long_run_is_sent_a_window_at_a_time_and_each_task_sends_the_next(empty_queues):
    assert queue.send_in_turn("leads.some_future_task", [[i, "x"] for i in range(10)]) == 10
    waiting = queued("bulk")
    assert [args for _, args, _ in waiting] == [[0, "x"], [1, "x"], [2, "x"]]
    (stream,) = {kwargs["stream"] for _, _, kwargs in waiting}
    assert queue.backlog() == 10  # the 3 in the queue and the 7 the stream keeps
    with queue._redis() as client:  # a stream whose tasks were purged does not count for ever
        assert 0 < client.ttl(stream) <= queue.STREAM_TTL_S <= 3600

    # What each task does as it starts: the stream's next one goes to the back of the queue,
    # behind whatever was queued meanwhile.
    queue.send("leads.compute_map")
    assert [queue.send_next("leads.some_future_task", stream) for _ in range(8)] == [True] * 7 + [False]
    order = [(name, args) for name, args, _ in queued("bulk")]
    assert order[:4] == [("leads.some_future_task", [i, "x"]) for i in range(3)] + [("leads.compute_map", [])]
    assert order[4:] == [("leads.some_future_task", [i, "x"]) for i in range(3, 10)]
    assert queue.backlog() == 11
    with queue._redis() as client:
        assert not client.sismember(queue.STREAMS, stream) and not client.exists(stream)
    queue.send_in_turn("leads.some_future_task", [[i] for i in range(10)])
    queue.purge()  # the queues and what the streams keep
    assert queue.backlog() == 0


@override_settings(BULK_WINDOW=3)
def test_a_short_run_is_sent_at_once_without_a_stream(empty_queues):
    assert queue.send_in_turn("leads.some_future_task", [[1], [2]]) == 2
    assert [(args, kwargs) for _, args, kwargs in queued("bulk")] == [([1], {}), ([2], {})]


@pytest.mark.django_db
@override_settings(BULK_WINDOW=1)
def test_a_chunk_sends_the_next_of_its_run_as_it_starts_but_not_again_on_a_retry(empty_queues):
    queue.send_in_turn("leads.rescore_chunk", [[1, 1, 2], [1, 2, 3], [1, 3, 4]])
    ((_, _, kwargs),) = queued("bulk")
    tasks.rescore_chunk.apply(args=(1, 1, 2), kwargs=kwargs)
    assert [args for _, args, _ in queued("bulk")] == [[1, 1, 2], [1, 2, 3]]
    tasks.rescore_chunk.apply(args=(1, 2, 3), kwargs=kwargs, retries=1)  # its first try sent the next already
    assert [args for _, args, _ in queued("bulk")] == [[1, 1, 2], [1, 2, 3]]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
@override_settings(BULK_WINDOW=2, EMBEDDING_BATCH_SIZE=8)
def test_a_later_import_does_not_wait_behind_a_whole_earlier_one(tmp_path, empty_queues):
    def create(prefix: str, count: int) -> list[int]:
        made = Company.objects.bulk_create(
            Company(name=f"{prefix} {i}", dedupe_key=f"{prefix}-{i}", description=f"{prefix} {i} sells tools")
            for i in range(count)
        )
        return [c.pk for c in made]

    first, second = create("First", 160), create("Second", 8)  # 20 batches, then 1
    embeddings.queue_embedding(first)
    embeddings.queue_embedding(second)
    assert queue.backlog() == 21
    worker = start_worker(tmp_path, "bulk", {"BULK_WINDOW": "2", "EMBEDDING_BATCH_SIZE": "8"}, queues="bulk")
    try:
        name = active.model_name()
        wait_for(
            lambda: CompanyEmbedding.objects.current(name).filter(company_id__in=second).count() == 8,
            seconds=120,
            what="the second import embedded",
            workers=[worker],
        )
        second_at = max(CompanyEmbedding.objects.filter(company_id__in=second).values_list("created_at", flat=True))
        first_before = CompanyEmbedding.objects.filter(company_id__in=first, created_at__lt=second_at).count()
        wait_for(lambda: queue.backlog() == 0, seconds=120, what="the first import's stream", workers=[worker])
        wait_for(
            lambda: CompanyEmbedding.objects.current(name).filter(company_id__in=first).count() == len(first),
            seconds=120,
            what="the first import embedded",
            workers=[worker],
        )
    finally:
        worker.stop()
    # The second import's batch ran third (after the first's two in the queue), not twenty-first.
    assert first_before <= 3 * 8, f"{first_before} of the first import's companies were embedded before the second's"
