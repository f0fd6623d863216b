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

from django.db import connection, transaction
from django.utils import timezone

from leads.core import locks
from leads.embedding import active, hnsw
from leads.embedding import encoders as embedding
from leads.embedding import services as embeddings
from leads.models import Company, EncoderState
from leads.models.encoders import hnsw_index_name
from leads.scoring import services as scores

log = logging.getLogger(__name__)


class SwitchError(ValueError):
    """A switch that cannot start: the message says why and what to do."""


def start(setting: str) -> EncoderState:
    """Begin embedding every company with the encoder `setting` names (a short name or a
    sentence-transformers model), in the background. Starting again with another name replaces
    a switch under way (its vectors are dropped)."""
    setting = setting.strip()
    spec, dimensions = embedding.resolve(setting)  # loads it: ImproperlyConfigured if it cannot
    with transaction.atomic():
        in_use = active.encoder()
        state = _state(for_update=True)
        if spec.stored_name == in_use.stored_name:
            raise SwitchError(f"Scores already use {setting!r} ({spec.stored_name}): nothing to switch.")
        replaced = embedding.encoder_for(state.target, state.target_dimensions) if state.target else None
        state.target, state.target_dimensions, state.switch_started_at = setting, dimensions, timezone.now()
        state.save()
    if replaced and replaced.stored_name != spec.stored_name:
        _drop(replaced.stored_name)
    queued = queue_missing()
    log.info("switching encoders to %s: %d batches queued", setting, queued)
    return state


def queue_missing() -> int:
    """Queue the companies without a current vector from the target (new ones, edited ones, lost
    batches); returns the batches queued (the sweep calls it when the queue is idle)."""
    spec = active.target()
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
    hnsw.build_index(spec.stored_name, state.target_dimensions)
    with locks.every_scores_lock(scores.scoring_profiles()):
        state = _state(for_update=True)
        if not state.target or embedding.encoder_for(state.target, state.target_dimensions) != spec:
            return False  # called off or replaced meanwhile
        if Company.objects.needing_embedding(spec.stored_name).exists():
            return False  # companies added meanwhile: the next call switches
        old = active.encoder()
        state.active, state.active_dimensions = state.target, state.target_dimensions
        state.target, state.target_dimensions, state.switched_at = "", None, timezone.now()
        state.save()
    log.info("scoring switched from %s to %s", old.stored_name, spec.stored_name)
    for profile_id in scores.scoring_profiles():  # another encoder spreads companies differently
        scores.queue_full_rescore(profile_id, remeasure=True)
    _drop(old.stored_name)
    return True


def _state(*, for_update: bool = False) -> EncoderState:
    """The row (made as migrate makes it, if a test's flush or a restore left none)."""
    rows = EncoderState.objects.select_for_update() if for_update else EncoderState.objects
    in_use = active.encoder()  # the setting's, when there is no row
    state, _ = rows.get_or_create(
        pk=1, defaults={"active": embedding.setting_for(in_use.stored_name), "active_dimensions": in_use.dimensions}
    )
    return state


def _drop(stored_name: str) -> None:
    """Delete one encoder's index and (through the embeddings service) its vectors."""
    with connection.cursor() as cursor:
        cursor.execute(f"drop index if exists {hnsw_index_name(stored_name)}")
    embeddings.drop_vectors(stored_name)
