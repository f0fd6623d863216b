"""Switching encoders in place: `manage.py switch_model NAME`.

1. `start(NAME)` loads the new encoder once (a missing package or a model of unknown size is
   refused here, not in a worker), records it as the target and queues every company for it.
   The workers embed them in the background; the old vectors keep every score, search and
   similar-companies list as they were.
2. `finish()`, once every company has a current vector from the target (the command and the
   sweep ask), builds the target's HNSW index, then in one transaction under the exclusive scores
   lock makes it the active encoder, and queues a full rescore: from then on everything reads the
   new vectors.
3. The old encoder's vectors and index are dropped.

Vectors of another size are fine: the vector column takes any size, and each encoder's vectors
have their own partial HNSW index (models.encoders).

The active encoder's index is also built in one go after a bulk embedding: `defer_index` drops it
before the companies are queued when they outnumber the vectors it holds, and
`build_missing_index` builds it once the last is embedded (the worker and the sweep ask)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from leads import embedding, locks
from leads.models import Company, CompanyEmbedding, EncoderState
from leads.models.encoders import HNSW_BUILD_MEMORY, hnsw_index_name, hnsw_index_sql
from leads.services import embeddings, scores

log = logging.getLogger(__name__)


class SwitchError(ValueError):
    """A switch that cannot start: the message says why and what to do."""


@dataclass(frozen=True)
class Progress:
    target: str  # the EMBEDDING_MODEL value being switched to; "" when no switch runs
    embedded: int  # companies with a current vector from the target
    total: int

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.embedded / self.total)


def start(setting: str) -> EncoderState:
    """Begin embedding every company with the encoder `setting` names (a short name or a
    sentence-transformers model), in the background. Starting again with another name replaces
    a switch under way (its vectors are dropped)."""
    setting = setting.strip()
    spec, dimensions = embedding.resolve(setting)  # loads it: ImproperlyConfigured if it cannot
    with transaction.atomic():
        active = embedding.encoder()
        state = _state(for_update=True)
        if spec.stored_name == active.stored_name:
            raise SwitchError(f"Scores already use {setting!r} ({spec.stored_name}): nothing to switch.")
        replaced = embedding.encoder_for(state.target, state.target_dimensions) if state.target else None
        state.target, state.target_dimensions, state.switch_started_at = setting, dimensions, timezone.now()
        state.save()
    if replaced and replaced.stored_name != spec.stored_name:
        _drop(replaced.stored_name)
    queued = queue_missing()
    log.info("switching encoders to %s: %d batches queued", setting, queued)
    return state


def target() -> embedding.Encoder | None:
    """The encoder a switch is embedding with, None when no switch runs."""
    state = _state()
    return embedding.encoder_for(state.target, state.target_dimensions) if state.target else None


def progress() -> Progress:
    state = _state()
    if not state.target:
        return Progress("", 0, 0)
    spec = embedding.encoder_for(state.target, state.target_dimensions)
    total = Company.objects.count()
    return Progress(state.target, total - Company.objects.needing_embedding(spec.stored_name).count(), total)


def queue_missing() -> int:
    """Queue the companies without a current vector from the target (new ones, edited ones, lost
    batches); returns the batches queued (the sweep calls it when the queue is idle)."""
    spec = target()
    if spec is None:
        return 0
    ids = list(Company.objects.needing_embedding(spec.stored_name).values_list("pk", flat=True))
    return embeddings.queue_embedding(ids, target=True)


def finish() -> bool:
    """Switch scoring to the target if every company has a current vector from it; returns
    whether it switched. One caller at a time (the command and the sweep may both ask)."""
    with locks.try_hold(locks.SWITCH) as ours:
        return ours and _finish()


def _finish() -> bool:
    state = _state()
    if not state.target:
        return False
    spec = embedding.encoder_for(state.target, state.target_dimensions)
    if Company.objects.needing_embedding(spec.stored_name).exists():
        return False
    _build_index(spec.stored_name, state.target_dimensions)
    with locks.scores_lock():
        state = _state(for_update=True)
        if not state.target or embedding.encoder_for(state.target, state.target_dimensions) != spec:
            return False  # called off or replaced meanwhile
        if Company.objects.needing_embedding(spec.stored_name).exists():
            return False  # companies added meanwhile: the next call switches
        old = embedding.encoder()
        state.active, state.active_dimensions = state.target, state.target_dimensions
        state.target, state.target_dimensions, state.switched_at = "", None, timezone.now()
        state.save()
    log.info("scoring switched from %s to %s", old.stored_name, spec.stored_name)
    scores.queue_full_rescore(remeasure=True)  # another encoder spreads companies differently
    _drop(old.stored_name)
    return True


# --- The active encoder's index during a bulk embedding --------------------------------------


def defer_index(company_ids: list[int], spec: embedding.Encoder) -> bool:
    """Before companies are queued for the active encoder `spec`: when those needing a vector are
    at least as many as the vectors it has, drop its HNSW index; returns whether it did. Building
    the index over every vector at once costs ~0.2-0.4 ms a vector on one core, inserting the
    vectors one by one ~1.3 ms, on the worker's time between two batches (docs/benchmarks.md).
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
    spec = embedding.encoder()
    if index_ready(spec.stored_name):
        return False
    with locks.try_hold(locks.INDEX) as ours:
        # Left to embed: found early in the table until the last batches of a bulk embedding.
        if not ours or index_ready(spec.stored_name) or Company.objects.needing_embedding(spec.stored_name).exists():
            return False
        started = time.perf_counter()
        _build_index(spec.stored_name, spec.dimensions)
    log.info("HNSW index for %s built in %.1f s", spec.stored_name, time.perf_counter() - started)
    return True


def index_ready(stored_name: str | None = None) -> bool:
    """Whether the encoder's HNSW index (the active one's by default) exists and is valid."""
    return _index_valid(hnsw_index_name(stored_name or embedding.model_name())) is True


def _index_valid(name: str) -> bool | None:
    """None when there is no such index; False when a concurrent build is under way or failed."""
    with connection.cursor() as cursor:
        cursor.execute("select i.indisvalid from pg_index i where i.indexrelid = to_regclass(%s)", [name])
        found = cursor.fetchone()
    return None if found is None else found[0]


def _build_index(stored_name: str, dimensions: int) -> None:
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


def _state(*, for_update: bool = False) -> EncoderState:
    """The row (made as migrate makes it, if a test's flush or a restore left none)."""
    rows = EncoderState.objects.select_for_update() if for_update else EncoderState.objects
    active = embedding.encoder()  # the setting's, when there is no row
    state, _ = rows.get_or_create(
        pk=1, defaults={"active": embedding.setting_for(active.stored_name), "active_dimensions": active.dimensions}
    )
    return state


def _drop(stored_name: str) -> None:
    """Delete one encoder's index and (through the embeddings service) its vectors."""
    with connection.cursor() as cursor:
        cursor.execute(f"drop index if exists {hnsw_index_name(stored_name)}")
    embeddings.drop_vectors(stored_name)


def _quote(value: str) -> str:
    """A SQL string literal (DDL takes no parameters)."""
    return "'" + value.replace("'", "''") + "'"
