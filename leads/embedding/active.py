"""The encoder the team's vectors are made by: the database's (EncoderState, changed by
switch_model), so that every process on every machine uses the same vectors; before the
database has one (before `migrate`), the one EMBEDDING_MODEL names. Read-side: what encoder
to embed, score and search with; the encoders themselves are leads.embedding.encoders."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connection

from leads.embedding import encoders
from leads.embedding.encoders import Encoder
from leads.models import Company, EncoderState


def encoder() -> Encoder:
    """Asked of the database each time (one indexed row): a switch takes effect everywhere at once."""
    found = _database_encoder()
    if found:
        return encoders.encoder_for(*found)
    return encoders.encoder_for(settings.EMBEDDING_MODEL, settings.EMBEDDING_DIMENSIONS)


def model_name() -> str:
    """The name recorded with each vector: a vector with any other is stale."""
    return encoder().stored_name


def encode(texts: list[str], using: Encoder | None = None) -> np.ndarray:
    """encoders.encode with this encoder, or `using` (compare_encoders runs two in one process)."""
    return encoders.encode(texts, using or encoder())


def load(using: Encoder | None = None) -> float:
    """Load this encoder (or `using`) in this process now; seconds taken."""
    return encoders.load(using or encoder())


def batch_size(spec: Encoder | None = None) -> int:
    """Companies per embedding task for this encoder (or `spec`)."""
    return encoders.batch_size(spec or encoder())


def _database_encoder() -> tuple[str, int] | None:
    """(active, dimensions) from EncoderState; None before `migrate` made it (or with no
    database to ask, as in settings checks)."""
    global _state_table
    if not _state_table:  # once per process: is the table there yet?
        try:
            _state_table = EncoderState._meta.db_table in connection.introspection.table_names()
        except DatabaseError:
            return None
        if not _state_table:
            return None
    return EncoderState.read("active", "active_dimensions")


_state_table = False


def setting_mismatch() -> str | None:
    """What to do when EMBEDDING_MODEL names another encoder than the one the database scores
    with (the database decides once it has one: switch_model changes it); None if they agree."""
    in_use = encoder()
    chosen = settings.EMBEDDING_MODEL or encoders.DEFAULT
    if encoders.encoder_for(chosen, settings.EMBEDDING_DIMENSIONS).stored_name == in_use.stored_name:
        return None
    using = encoders.setting_for(in_use.stored_name)
    return (
        f"EMBEDDING_MODEL={chosen!r}, but the database scores with {using!r}, so {using!r} is used."
        f" Run `python manage.py switch_model {chosen}` to switch (in the background, scores stay"
        f" visible), or set EMBEDDING_MODEL={using!r}."
    )


def setting_matches_the_database(app_configs=None, **kwargs) -> list[checks.Warning]:
    """`manage.py check`, `migrate` (so `make run`) and runserver warn when EMBEDDING_MODEL names
    another encoder than the one the database scores with, saying what to do (registered by
    LeadsConfig.ready)."""
    try:
        problem = setting_mismatch()
    except DatabaseError:  # no database to ask (yet): the database's own checks say so
        return []
    return [checks.Warning(problem, id="leads.W001")] if problem else []


# --- A switch_model under way ----------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    target: str  # the EMBEDDING_MODEL value being switched to; "" when no switch runs
    embedded: int  # companies with a current vector from the target
    total: int

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.embedded / self.total)


def target() -> Encoder | None:
    """The encoder a switch is embedding with, None when no switch runs."""
    setting, dimensions = _switch()
    return encoders.encoder_for(setting, dimensions) if setting else None


def progress() -> Progress:
    setting, dimensions = _switch()
    if not setting:
        return Progress("", 0, 0)
    spec = encoders.encoder_for(setting, dimensions)
    total = Company.objects.count()
    return Progress(setting, total - Company.objects.needing_embedding(spec.stored_name).count(), total)


def _switch() -> tuple[str, int | None]:
    """(target, its dimensions) of EncoderState; ("", None) when no switch runs."""
    return EncoderState.read("target", "target_dimensions") or ("", None)
