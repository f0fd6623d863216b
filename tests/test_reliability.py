"""Faults on the real services: Postgres restarted under a worker, Redis stopped while reps label,
a crashed child of `make run`; and /healthz telling a load balancer which part is down."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from unittest import mock

import pytest
from django.conf import settings
from django.core.management.base import CommandError
from django.db import OperationalError, connection

from leads.companies import services as companies
from leads.core import devstack, queue
from leads.management.supervise import restart_delay, supervise
from leads.models import FIRST_PROFILE_ID, Company, ImportJob, PendingScoreChange, Score
from leads.scoring import labels, reads
from leads.scoring import services as scores
from tests.import_helpers import confirm, text, uploaded_job
from tests.test_workers import make_companies, snapshot
from tests.worker_helpers import start_beat, start_worker


@contextlib.contextmanager
def supervising(commands: dict, said: list, children: dict, **options):
    """`supervise` in a thread, as serve and manage.py worker run it, until the block ends; then it
    must have stopped, and its children are killed."""
    stop = threading.Event()
    runner = threading.Thread(
        target=supervise,
        args=(commands,),
        kwargs={
            "env": None,
            "children": children,
            "say": said.append,
            "poll": 0.05,
            "keep_going": lambda: not stop.is_set(),
            **options,
        },  # fmt: skip
    )
    runner.start()
    try:
        yield
    finally:
        stop.set()
        runner.join(timeout=5)
        for child in children.values():
            child.kill()
    assert not runner.is_alive()


def wait_for(condition, *, seconds: float, what: str, processes=()) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for process in processes:
            process.assert_alive()
        if time.monotonic() > deadline:
            logs = "\n".join(process.log_tail() for process in processes)
            pytest.fail(f"{what} did not happen within {seconds:g} s\n{logs}")
        time.sleep(0.3)


# --- make run keeps its children running ------------------------------------------------------


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_it_starts_a_child_that_exited_again_and_says_so(tmp_path):
    marker = tmp_path / "crashed-once"
    # Exits with 3 the first time, runs the second: a worker that crashed once.
    flaky = python(
        f"import pathlib, sys, time; p = pathlib.Path({str(marker)!r})\n"
        "if not p.exists(): p.touch(); sys.exit(3)\n"
        "time.sleep(60)"
    )
    said, children = [], {}
    with supervising({"worker": flaky, "web server": python("import time; time.sleep(60)")}, said, children):
        wait_for(lambda: said, seconds=15, what="the restart")
        time.sleep(0.5)
        assert said == ["The worker exited (code 3); starting it again."]
        assert children["worker"].poll() is None  # the second one runs
        assert children["web server"].poll() is None  # the other child was left alone


def test_it_stops_when_a_child_keeps_dying(tmp_path):
    said, children = [], {}
    with pytest.raises(CommandError, match="The beat exited 6 times within 60 s"):
        supervise({"beat": python("import sys; sys.exit(1)")}, env=None, children=children, say=said.append, poll=0.05)
    assert said == ["The beat exited (code 1); starting it again."] * 5


def test_a_worker_that_keeps_exiting_is_started_again_after_a_growing_delay_forever(tmp_path):
    """`manage.py worker`'s supervision: no limit on restarts, a pause between them."""
    said, children = [], {}
    with supervising({"worker": python("import sys; sys.exit(1)")}, said, children, max_restarts=None, max_delay=0.25):
        wait_for(lambda: len(said) >= 7, seconds=30, what="seven restarts")  # serve stops at the sixth
    first, *then = said[:7]
    assert first == "The worker exited (code 1); starting it again."
    assert then == ["The worker exited (code 1); starting it in 0.25 s."] * 6


def test_the_delay_before_a_restart_doubles_up_to_its_limit():
    assert [restart_delay(exits, 30) for exits in range(1, 9)] == [0, 1, 2, 4, 8, 16, 30, 30]


def test_ctrl_c_stops_each_child_once(tmp_path):
    """A terminal's Ctrl-C signals make run's whole process group. The children, in groups of
    their own, get one SIGINT each, from serve: signalled twice, Celery beat broke off its own
    shutdown with a traceback."""
    child = python(
        "import os, pathlib, signal, time\n"
        f"log = pathlib.Path({str(tmp_path)!r}) / str(os.getpid())\n"
        "got = []\n"
        "def on(signum, frame):\n"
        "    got.append(signum)\n"
        "    with log.open('a') as f: f.write(signal.Signals(signum).name + ' ')\n"
        "for signum in (signal.SIGINT, signal.SIGTERM): signal.signal(signum, on)\n"
        "log.touch()\n"
        "while not got: time.sleep(0.05)\n"
        "time.sleep(1)  # its own shutdown, into which a second signal would break\n"
    )
    serve = python(
        "import django; django.setup()\n"
        "from leads.management.supervise import run_together\n"
        f"run_together({{'worker': {child!r}, 'beat': {child!r}}}, env=None, say=print)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    runner = subprocess.Popen(serve, env=env, cwd=settings.BASE_DIR, start_new_session=True)
    try:
        wait_for(lambda: len(list(tmp_path.iterdir())) == 2, seconds=60, what="both children starting")
        os.killpg(runner.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        assert runner.wait(timeout=30) == 0
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    assert sorted(path.read_text() for path in tmp_path.iterdir()) == ["SIGINT ", "SIGINT "]


# --- /healthz ----------------------------------------------------------------------------------


MONITOR = {"HTTP_AUTHORIZATION": "Bearer a-monitor-token"}  # the details go to a monitor with the token


@pytest.mark.django_db
def test_it_reports_unhealthy_without_a_worker(client, settings):
    settings.HEALTHZ_TOKEN = "a-monitor-token"
    response = client.get("/healthz", **MONITOR)
    assert response.status_code == 503
    report = response.json()
    assert report["database"]["ok"] and report["redis"]["ok"]
    assert report["workers"] == {"ok": False, "error": report["workers"]["error"], "ms": report["workers"]["ms"]}
    assert "no Celery worker answered" in report["workers"]["error"]
    assert report["backlog"]["label_changes_pending"] == 0


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_it_reports_healthy_with_a_worker_and_says_when_redis_is_down(client, tmp_path, fake_encoder, settings):
    settings.HEALTHZ_TOKEN = "a-monitor-token"
    worker = start_worker(tmp_path, "health")
    try:
        # A worker with one process answers between tasks: let its start-up sweep finish.
        wait_for(lambda: "leads.sweep" in worker.log() and "succeeded" in worker.log(), seconds=30,
                 what="the start-up sweep", processes=[worker])  # fmt: skip
        Company.objects.create(name="Waiting Co", dedupe_key="waiting-co")  # not queued: a backlog of one
        response = client.get("/healthz", **MONITOR)
        assert response.status_code == 200, response.content
        report = response.json()
        assert report["ok"] and report["workers"]["count"] == 1
        assert report["backlog"]["embeddings_pending"] == 1

        devstack.stop_redis(settings.LEADS_HOME)
        try:
            response = client.get("/healthz", **MONITOR)
            assert response.status_code == 503
            report = response.json()
            assert report["database"]["ok"] and not report["redis"]["ok"] and not report["workers"]["ok"]
        finally:
            devstack.ensure_redis(settings.LEADS_HOME)
    finally:
        worker.stop()


@pytest.mark.django_db
def test_a_page_says_try_again_when_the_database_does_not_answer(client, alice):
    client.force_login(alice)
    down = OperationalError('connection to server on socket "/tmp/.s.PGSQL.5432" failed: No such file or directory')
    with mock.patch.object(connection, "ensure_connection", side_effect=down):
        connection.close()
        response = client.get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "The database did not answer. Nothing you saved is lost" in response.content.decode()


# --- Postgres restarted under a worker ----------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_embeddings_queued_during_a_postgres_outage_are_done_once_it_is_back(tmp_path, alice, client):
    made = make_companies(60)
    labels.label_companies(profile_id=FIRST_PROFILE_ID, verdicts=[(c.pk, "like" if i % 2 else "dislike") for i, c in enumerate(made[:6])],
                           user=alice, source="admin")  # fmt: skip
    scores.catch_up()
    new = [companies.save_company(Company(name=f"New Co {i}", description=f"brewery beer {i}")) for i in range(12)]
    ids = [company.pk for company in new]
    devstack.stop_postgres(settings.LEADS_HOME)
    try:
        # The worker starts while Postgres is down: every embedding task fails and must be retried.
        worker = start_worker(tmp_path, "outage")
    except BaseException:
        devstack.ensure_postgres(settings.LEADS_HOME)
        raise
    try:
        try:
            wait_for(lambda: "Retry in" in worker.log(), seconds=60, what="a retry", processes=[worker])
            assert not health_database_ok()
        finally:
            devstack.ensure_postgres(settings.LEADS_HOME)
            connection.close()
        wait_for(lambda: Score.objects.filter(company_id__in=ids).count() == len(ids), seconds=90,
                 what="scoring the companies queued during the outage", processes=[worker])  # fmt: skip
    finally:
        worker.stop()
    assert health_database_ok()


def health_database_ok() -> bool:
    from leads.core import health

    connection.close()
    return health.check()["database"]["ok"]


# --- Redis stopped while reps label and an import is confirmed ---------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_work_given_while_redis_is_down_is_done_once_it_is_back(tmp_path, alice, staff, client):
    made = make_companies(200)
    labels.label_companies(profile_id=FIRST_PROFILE_ID, verdicts=[(c.pk, "like" if i % 3 else "dislike") for i, c in enumerate(made[::20])],
                           user=alice, source="admin")  # fmt: skip
    scores.catch_up()
    # The stack is up (its start-up sweep ran) when Redis goes away: only the periodic sweep can
    # redo what is dropped meanwhile.
    worker = start_worker(tmp_path, "redis-outage")
    beat = start_beat(tmp_path, sweep_seconds=1)
    try:
        devstack.stop_redis(settings.LEADS_HOME)
        try:
            client.force_login(alice)
            response = client.post(f"/companies/{made[7].pk}/label", {"verdict": "like"}, follow=True)
            assert response.status_code == 200
            page = response.content.decode()
            assert "The task queue is unreachable: scores update once it is back." in page
            assert "Scores update in a moment" not in page
            answer = client.post(f"/api/companies/{made[8].pk}/label", {"verdict": "dislike"}, "application/json")
            assert answer.status_code == 201 and answer.json()["rescore"] == "delayed"
            assert PendingScoreChange.objects.filter(company_id__in=[made[7].pk, made[8].pk]).count() == 2

            client.force_login(staff)
            job = uploaded_job(client)
            assert confirm(client, job, **{"column-6": "ignore"}).status_code == 302
            page = text(client.get(f"/imports/{job.pk}/"))
            assert "The task queue is unreachable: the import starts once it is back." in page
            assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.QUEUED
        finally:
            devstack.ensure_redis(settings.LEADS_HOME)
        wait_for(lambda: ImportJob.objects.get(pk=job.pk).state == ImportJob.State.DONE, seconds=60,
                 what="the sweep starting the import", processes=[worker, beat])  # fmt: skip
        imported = list(Company.objects.filter(import_job=job).values_list("pk", flat=True))
        assert len(imported) == 3
        wait_for(lambda: Score.objects.filter(company_id__in=imported).count() == 3 and reads.scores_are_current(FIRST_PROFILE_ID),
                 seconds=120, what="the imported companies embedded and scored, the labels applied",
                 processes=[worker, beat])  # fmt: skip
        assert queue.send("leads.sweep") and not queue.queue_is_down()
    finally:
        beat.stop()
        worker.stop()
    healed = snapshot()
    assert made[7].pk not in healed and made[8].pk not in healed  # labelled now: no score of their own
    scores.rescore_all(FIRST_PROFILE_ID)
    assert healed == snapshot()  # exactly what a full rescore gives


# --- A worker killed mid-batch ------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_companies_a_killed_worker_was_embedding_are_embedded_by_the_next_one(tmp_path, alice):
    made = make_companies(60)
    labels.label_companies(profile_id=FIRST_PROFILE_ID, verdicts=[(c.pk, "like" if i % 2 else "dislike") for i, c in enumerate(made[:6])],
                           user=alice, source="admin")  # fmt: skip
    scores.catch_up()
    first = start_worker(tmp_path, "killed")
    new = [companies.save_company(Company(name=f"Fresh Co {i}", description=f"beer brewery {i}")) for i in range(40)]
    wait_for(lambda: "leads.embed_companies" in first.log(), seconds=60, what="the batch starting", processes=[first])
    first.process.kill()  # SIGKILL mid-batch: its task stays unacknowledged in Redis for an hour
    first.process.wait(timeout=10)
    second = start_worker(tmp_path, "second")
    beat = start_beat(tmp_path, sweep_seconds=1)
    try:
        ids = [company.pk for company in new]
        wait_for(lambda: Score.objects.filter(company_id__in=ids).count() == len(ids), seconds=120,
                 what="the killed worker's companies embedded and scored", processes=[second, beat])  # fmt: skip
    finally:
        beat.stop()
        second.stop()
