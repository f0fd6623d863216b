"""Workers started as the README tells an operator to start them outlive Redis and Postgres
restarts and a killed worker: scores catch up, no verdict is lost, nothing is restarted by hand."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time

import psutil
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from leads.core import devstack, locks, queue
from leads.models import FIRST_PROFILE_ID, Company, PendingScoreChange
from leads.scoring import labels, reads
from leads.scoring import services as scores
from tests.test_reliability import wait_for
from tests.test_workers import make_companies, snapshot
from tests.worker_helpers import Worker, start_process, worker_database_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 10


def start_operator_worker(log_dir, name: str, *, supervised: bool) -> Worker:
    """`python manage.py worker ...` (the README, docker-compose) or a plain `celery -A leads worker ...`:
    prefork, mingle, gossip and heartbeats on, as Celery starts by default. Two processes: with a
    task running, the worker still waits on Redis for another (BRPOP), the state in which Celery 5.7
    used to exit on a lost connection (leads/celery.py)."""
    options = ["--concurrency=2", "--loglevel=INFO", f"--hostname={name}-{os.getpid()}@%h"]
    program = ["manage.py", "worker"] if supervised else ["-m", "celery", "-A", "leads", "worker"]
    return start_process([sys.executable, *program, *options], log_dir, name, " ready.")


def in_flight(worker: Worker) -> set[str]:
    """Ids of the tasks the worker's log shows received and not yet finished (or retried)."""
    log = worker.log()
    received = set(re.findall(r"Task [\w.]+\[([0-9a-f-]+)\] received", log))
    finished = set(re.findall(r"Task [\w.]+\[([0-9a-f-]+)\] (?:succeeded|retry|raised)", log))
    return received - finished


@contextlib.contextmanager
def scores_held():
    """Hold the first profile's scores lock in a session of its own, so that a worker's label pass waits on it: a
    task in flight, delivered and not acknowledged, for as long as this holds."""
    holder = psycopg.connect(worker_database_url(), autocommit=True)
    try:
        holder.execute("select pg_advisory_lock(%s, %s)", [locks.SCORES, FIRST_PROFILE_ID])
        yield
    finally:
        with contextlib.suppress(psycopg.Error):  # gone with its server in the Postgres outage
            holder.close()


def all_applied() -> bool:
    return not PendingScoreChange.objects.exists() and reads.scores_are_current(FIRST_PROFILE_ID)


@pytest.mark.parametrize("supervised", [False, True], ids=["celery-worker", "manage-py-worker"])
def test_a_worker_outlives_a_redis_and_a_postgres_restart_and_loses_no_verdict(tmp_path, alice, supervised):
    made = make_companies(200)
    labels.label_companies(profile_id=FIRST_PROFILE_ID, verdicts=[(c.pk, "like" if i % 3 else "dislike") for i, c in enumerate(made[::20])],
                           user=alice, source="admin")  # fmt: skip
    scores.catch_up()
    queue.purge()  # the label pass queued above: done here already
    worker = start_operator_worker(tmp_path, "worker", supervised=supervised)
    try:
        wait_for(lambda: queue.backlog() == 0 and not in_flight(worker), seconds=60, what="the start-up sweep",
                 processes=[worker])  # fmt: skip

        # Redis goes away for 10 s while the worker applies a verdict.
        with scores_held():
            labels.label_companies(
                profile_id=FIRST_PROFILE_ID, verdicts=[(made[1].pk, "like")], user=alice, source="admin"
            )
            wait_for(lambda: in_flight(worker), seconds=30, what="the label pass", processes=[worker])
            devstack.stop_redis(settings.LEADS_HOME)
            time.sleep(OUTAGE_SECONDS)
            devstack.ensure_redis(settings.LEADS_HOME)
            wait_for(lambda: worker.log().count("Connected to ") == 2, seconds=60, what="the worker back on Redis",
                     processes=[worker])  # fmt: skip
        wait_for(all_applied, seconds=60, what="the verdict applied after the Redis outage", processes=[worker])

        # Postgres goes away for 10 s while the worker applies a verdict: the pass fails, is
        # retried, and applies it once Postgres is back.
        with scores_held():
            labels.label_companies(
                profile_id=FIRST_PROFILE_ID, verdicts=[(made[2].pk, "dislike")], user=alice, source="admin"
            )
            wait_for(lambda: in_flight(worker), seconds=30, what="the label pass", processes=[worker])
            connection.close()
            devstack.stop_postgres(settings.LEADS_HOME)
        time.sleep(OUTAGE_SECONDS)
        devstack.ensure_postgres(settings.LEADS_HOME)
        connection.close()
        wait_for(all_applied, seconds=60, what="the verdict applied after the Postgres outage", processes=[worker])
        assert "Retry in" in worker.log()

        # Verdicts given now are applied by the same worker process.
        labels.label_companies(
            profile_id=FIRST_PROFILE_ID,
            verdicts=[(made[3].pk, "like"), (made[4].pk, "dislike")],
            user=alice,
            source="admin",
        )
        wait_for(all_applied, seconds=60, what="the verdicts applied", processes=[worker])
        assert "Unrecoverable error" not in worker.log()
        assert "exited (code" not in worker.log()  # manage.py worker had nothing to restart
    finally:
        worker.stop()
        queue.purge()  # retries still waiting: not the next test's
    given = dict(
        Company.objects.in_profile(FIRST_PROFILE_ID)
        .filter(pk__in=[made[i].pk for i in (1, 2, 3, 4)])
        .values_list("pk", "verdict")
    )
    assert [given[made[i].pk] for i in (1, 2, 3, 4)] == ["like", "dislike", "like", "dislike"]
    healed = snapshot()
    scores.rescore_all(FIRST_PROFILE_ID)
    assert healed == snapshot()  # exactly what a full rescore gives: nothing lost


def test_manage_py_worker_starts_a_killed_worker_again(tmp_path, alice):
    made = make_companies(60)
    labels.label_companies(profile_id=FIRST_PROFILE_ID, verdicts=[(c.pk, "like" if i % 2 else "dislike") for i, c in enumerate(made[:6])],
                           user=alice, source="admin")  # fmt: skip
    scores.catch_up()
    worker = start_operator_worker(tmp_path, "killed", supervised=True)
    try:
        (celery,) = psutil.Process(worker.process.pid).children()
        os.kill(celery.pid, signal.SIGKILL)  # the OOM killer
        wait_for(lambda: worker.log().count(" ready.") == 2, seconds=60, what="the worker started again",
                 processes=[worker])  # fmt: skip
        assert "The worker exited (code -9); starting it again." in worker.log()
        labels.label_companies(
            profile_id=FIRST_PROFILE_ID, verdicts=[(made[10].pk, "like")], user=alice, source="admin"
        )
        wait_for(all_applied, seconds=60, what="the verdict applied", processes=[worker])
    finally:
        worker.stop()
