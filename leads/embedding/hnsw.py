"""The HNSW index of an encoder's vectors: dropped before a bulk embedding (inserting vectors one
by one into it costs more than building it over every vector at once) and built again after the
last batch, or for a switch's target before scoring moves to it. Until it is there, similar
companies are found by an exact scan."""

from __future__ import annotations

import logging
import time

from django.db import connection

from leads.core import locks
from leads.embedding import active
from leads.embedding.encoders import Encoder
from leads.models import Company, CompanyEmbedding
from leads.models.encoders import HNSW_BUILD_MEMORY, hnsw_index_name, hnsw_index_sql

log = logging.getLogger(__name__)


def defer_index(company_ids: list[int], spec: Encoder) -> bool:
    """Before companies are queued for the active encoder `spec`: when those needing a vector are
    at least as many as the vectors it has, drop its HNSW index; returns whether it did. Building
    the index over every vector at once costs a fraction of inserting them one by one on the
    worker's time between two batches (docs/benchmarks.md, *Figures behind the design*).
    Until the index is built again similar companies are found by an exact scan. Not inside a
    transaction (the drop is concurrent: reads and writes of the vectors go on)."""
    if not company_ids or connection.in_atomic_block:
        return False
    # Counted up to one more than the companies, which is enough to compare: one company edited
    # among a million does not count a million vectors.
    indexed = CompanyEmbedding.objects.filter(model_name=spec.stored_name)[: len(company_ids) + 1].count()
    if len(company_ids) < indexed:
        return False
    new = Company.objects.filter(pk__any_of=company_ids).needing_embedding(spec.stored_name).count()
    if new == 0 or new < indexed:
        return False
    with locks.try_hold(locks.INDEX) as ours:
        if not ours:  # being built: the new vectors go into it one by one
            return False
        with connection.cursor() as cursor:
            cursor.execute(f"drop index concurrently if exists {hnsw_index_name(spec.stored_name)}")
    log.info("HNSW index dropped for %d companies to embed; built again once they are", new)
    return True


def build_missing_index() -> bool:
    """Build the active encoder's HNSW index if it is missing or invalid (dropped by
    `defer_index`, a build cut off half-way) and no company is left to embed; returns whether
    it did. One build at a time, across workers."""
    spec = active.encoder()
    if index_ready(spec.stored_name):
        return False
    with locks.try_hold(locks.INDEX) as ours:
        # Left to embed: found early in the table until the last batches of a bulk embedding.
        if not ours or index_ready(spec.stored_name) or Company.objects.needing_embedding(spec.stored_name).exists():
            return False
        started = time.perf_counter()
        build_index(spec.stored_name, spec.dimensions)
    log.info("HNSW index for %s built in %.1f s", spec.stored_name, time.perf_counter() - started)
    return True


def index_ready(stored_name: str | None = None) -> bool:
    """Whether the encoder's HNSW index (the active one's by default) exists and is valid."""
    return _index_valid(hnsw_index_name(stored_name or active.model_name())) is True


def _index_valid(name: str) -> bool | None:
    """None when there is no such index; False when a concurrent build is under way or failed."""
    with connection.cursor() as cursor:
        cursor.execute("select i.indisvalid from pg_index i where i.indexrelid = to_regclass(%s)", [name])
        found = cursor.fetchone()
    return None if found is None else found[0]


def build_index(stored_name: str, dimensions: int) -> None:
    """An encoder's HNSW index: a switch's target's, or the active one's after a bulk embedding
    (minutes at a million companies; callers hold a lock, one build each). Concurrently when not inside a
    transaction, so embedding goes on meanwhile; a concurrent build that failed half-way leaves an
    invalid index, which is dropped and built again."""
    name = hnsw_index_name(stored_name)
    with connection.cursor() as cursor:
        if _index_valid(name) is False:
            cursor.execute(f"drop index {name}")
        sql = hnsw_index_sql(stored_name, dimensions, _quote)
        cursor.execute(f"set maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")  # in memory: faster, better
        try:
            if connection.in_atomic_block:
                # Checks deferred to the end of a transaction would refuse CREATE INDEX: run them now.
                cursor.execute("set constraints all immediate")
                cursor.execute(sql)
            else:
                cursor.execute(sql.replace("create index if not exists", "create index concurrently if not exists"))
        finally:
            cursor.execute("reset maintenance_work_mem")


def _quote(value: str) -> str:
    """A SQL string literal (DDL takes no parameters)."""
    return "'" + value.replace("'", "''") + "'"
