"""A full rescore split into chunk tasks spreads over several real worker processes and
gives exactly what one process gives."""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest
from django.db import connection
from django.test import override_settings

from leads.companies.identity import text_hash
from leads.core import queue
from leads.embedding import active
from leads.models import FIRST_PROFILE_ID, Company, CompanyEmbedding, Score, ScoringState
from leads.scoring import labels
from leads.scoring import services as scores
from tests.worker_helpers import start_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def make_companies(count: int) -> list[Company]:
    """Companies with vectors clustered around a few directions, written as the worker would."""
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(8, 384))
    made = Company.objects.bulk_create(
        Company(name=f"Company {i}", dedupe_key=f"company-{i}", text_hash=text_hash(f"Company {i}"))
        for i in range(count)
    )
    vectors = centres[np.arange(count) % 8] + rng.normal(scale=0.5, size=(count, 384))
    CompanyEmbedding.objects.bulk_create(
        CompanyEmbedding(company=c, model_name=active.model_name(), text_hash=c.text_hash, vector=v)
        for c, v in zip(made, vectors)
    )
    return made


def labelled_and_scored(count: int, user) -> list[Company]:
    """make_companies(count), every 30th labelled (two in three liked) by `user`, every company
    scored here, and the label pass those verdicts queued dropped: the workers a test starts next
    find nothing to do."""
    made = make_companies(count)
    labels.label_companies(
        profile_id=FIRST_PROFILE_ID,
        verdicts=[(c.pk, "like" if i % 3 else "dislike") for i, c in enumerate(made[::30])],
        user=user,
        source="admin",
    )
    scores.catch_up()
    queue.purge()  # the label pass queued above: done here already
    return made


def snapshot() -> dict[int, tuple]:
    return {s.company_id: (s.value, tuple(s.neighbour_ids)) for s in Score.objects.all()}


@override_settings(RESCORE_CHUNK_SIZE=40)
def test_two_workers_share_a_full_rescore_and_match_one_process(tmp_path, alice):
    made = make_companies(800)
    verdicts = [(c.pk, "like" if i % 8 < 3 else "dislike") for i, c in enumerate(made[::16])]
    labels.label_companies(profile_id=FIRST_PROFILE_ID, verdicts=verdicts, user=alice, source="admin")
    scores.catch_up()  # one process, here
    single = snapshot()
    assert len(single) == 800 - len(verdicts)
    Score.objects.all().delete()
    queue.purge()  # the label task queued above: this test drives the rescore itself

    workers = [start_worker(tmp_path, name) for name in ("first", "second")]
    try:
        chunks = scores.queue_full_rescore(FIRST_PROFILE_ID)
        assert chunks == 20
        deadline = time.monotonic() + 120
        while ScoringState.of(FIRST_PROFILE_ID).chunks_left:
            for worker in workers:
                worker.assert_alive()
            assert time.monotonic() < deadline, "\n".join(w.log_tail() for w in workers)
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.stop()
    ran = [len(re.findall(r"Task leads\.rescore_chunk\[[^\]]+\] succeeded", w.log())) for w in workers]
    assert sum(ran) == chunks
    assert all(count > 0 for count in ran), f"chunks per worker: {ran}"
    assert snapshot() == single


def worker_backends() -> set[int]:
    """The Postgres backends on the test database other than this process's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select pid from pg_stat_activity where datname = current_database()"
            " and backend_type = 'client backend' and pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def wait_for_embedding_tasks(worker, count: int) -> None:
    """Until the worker's log shows `count` embedding tasks done."""
    deadline = time.monotonic() + 120
    while len(re.findall(r"Task leads\.embed_companies\[[^\]]+\] succeeded", worker.log())) < count:
        worker.assert_alive()
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.1)


def test_a_worker_keeps_its_database_connection_from_task_to_task(tmp_path):
    """CONN_MAX_AGE (60 s with DATABASE_URL) holds in a worker: Celery's Django fixup would close
    the connection around every task, a new Postgres backend each time (settings, leads/celery.py)."""
    made = Company.objects.bulk_create(
        Company(name=f"Company {i}", dedupe_key=f"company-{i}", description="Payroll software for shops")
        for i in range(2)
    )
    worker = start_worker(tmp_path, "keeper")
    try:
        seen = []
        for number, company in enumerate(made, start=1):
            queue.send("leads.embed_companies", [company.pk])
            wait_for_embedding_tasks(worker, number)
            seen.append(worker_backends())
    finally:
        worker.stop()
    assert CompanyEmbedding.objects.filter(company__in=made).count() == 2
    assert len(seen[0]) == 1 and seen[1] == seen[0], seen  # one backend, still there after the next task


def test_a_worker_s_processes_share_the_cores_between_their_encoders(tmp_path):
    """With --concurrency=2 each prefork process's encoder takes half the cores (leads/celery.py,
    embedding.threads): two encoders that each took every core would only take turns."""
    company = Company.objects.create(name="Alpha Payroll", description="Payroll software for shops")
    worker = start_worker(tmp_path, "sharing", processes=2)
    try:
        queue.send("leads.embed_companies", [company.pk])
        wait_for_embedding_tasks(worker, 1)
    finally:
        worker.stop()
    share = max(1, (os.cpu_count() or 1) // 2)
    assert f"loading the encoder {active.model_name()} ({share} threads)" in worker.log()
    assert CompanyEmbedding.objects.filter(company=company).exists()
