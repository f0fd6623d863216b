"""A bulk embedding builds the active encoder's HNSW index after its companies, in one go
(embedding.switching.defer_index / build_missing_index), instead of inserting each vector."""

from __future__ import annotations

import time

import pytest
from django.db import connection, transaction

from leads import tasks
from leads.companies.nearest import similar_companies
from leads.core import queue
from leads.embedding import active, hnsw
from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company
from leads.models.encoders import hnsw_index_name
from tests.conftest import WORLD_COMPANIES
from tests.test_similar import exact_similar
from tests.worker_helpers import start_worker

pytestmark = pytest.mark.django_db(transaction=True)  # the index is dropped and built concurrently


@pytest.fixture
def index_restored():
    """Whatever a test leaves, the next one finds the index (the flush leaves nothing to embed)."""
    yield
    hnsw.build_missing_index()
    assert hnsw.index_ready()


def create(names: list[str]) -> list[int]:
    return [
        Company.objects.create(name=name, website=website, description=description, industry=industry).pk
        for name, (website, description, industry) in ((n, WORLD_COMPANIES[n]) for n in names)
    ]


def exact_nearest(company: Company, count: int) -> list[int]:
    return [pk for pk, _ in exact_similar(company, limit=count, unlabelled=False)]


def test_the_index_is_dropped_for_more_companies_than_it_holds_and_built_once_all_are_embedded(
    fake_encoder, index_restored
):
    names = list(WORLD_COMPANIES)
    first = create(names[:2])
    embeddings.embed_and_score(first)
    later = create(names[2:])  # 4 more than the index holds
    assert not hnsw.defer_index(later[:1], active.encoder())  # fewer than the 2 vectors it holds: inserted one by one
    assert not hnsw.defer_index(first + first, active.encoder())  # embedded already: nothing new for the index
    assert hnsw.index_ready()
    with transaction.atomic():  # not inside a transaction: the drop is concurrent
        assert not hnsw.defer_index(later, active.encoder())
    assert hnsw.defer_index(later, active.encoder())
    assert not hnsw.index_ready()
    with connection.cursor() as cursor:
        cursor.execute("select to_regclass(%s)", [hnsw_index_name(active.model_name())])
        assert cursor.fetchone()[0] is None

    embeddings.embed_and_score(later[:2])
    assert not hnsw.build_missing_index()  # two companies still to embed
    assert not hnsw.index_ready()
    # Meanwhile similar companies come from an exact scan: still the nearest.
    bravo = Company.objects.get(name="Bravo Beers")
    assert [s.company.pk for s in similar_companies(bravo, profile_id=FIRST_PROFILE_ID, limit=3)] == exact_nearest(
        bravo, 3
    )

    embeddings.embed_and_score(later[2:])
    assert hnsw.build_missing_index()
    assert hnsw.index_ready()
    assert not hnsw.build_missing_index()  # built already: nothing to do
    assert [s.company.pk for s in similar_companies(bravo, profile_id=FIRST_PROFILE_ID, limit=3)] == exact_nearest(
        bravo, 3
    )


def test_a_build_cut_off_half_way_is_built_again(fake_encoder, index_restored):
    embeddings.embed_and_score(create(list(WORLD_COMPANIES)))
    name = hnsw_index_name(active.model_name())
    with connection.cursor() as cursor:  # what a concurrent build that failed leaves: an invalid index
        cursor.execute("update pg_index set indisvalid = false where indexrelid = to_regclass(%s)", [name])
    assert not hnsw.index_ready()
    assert hnsw.build_missing_index()
    assert hnsw.index_ready()


def test_the_sweep_builds_an_index_no_worker_built(fake_encoder, index_restored):
    ids = create(list(WORLD_COMPANIES))
    assert hnsw.defer_index(ids, active.encoder())
    embeddings.embed_and_score(ids)  # as if the worker had stopped before building it
    queue.purge()  # the sweep builds only when the queue is idle
    try:
        tasks.sweep()
    finally:
        queue.purge()  # what the sweep queued (the map): no worker here takes it
    assert hnsw.index_ready()


@pytest.mark.e2e
def test_a_worker_builds_the_index_after_the_last_batch_of_a_bulk_embedding(tmp_path, index_restored):
    embeddings.embed_and_score(create(["Alpha Brewing"]))
    ids = create(list(WORLD_COMPANIES)[1:])
    worker = start_worker(tmp_path, "bulk")
    try:
        assert embeddings.queue_embedding(ids) >= 1
        assert not hnsw.index_ready()  # dropped: 5 new companies, 1 vector indexed
        deadline = time.monotonic() + 120
        while not hnsw.index_ready():
            worker.assert_alive()
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.2)
    finally:
        worker.stop()
    # Built after the last batch: every company embedded by then, with its words.
    assert not Company.objects.needing_embedding(active.model_name()).exists()
    assert "HNSW index for " in worker.log() and " built in " in worker.log()
