"""Every vector of the active encoder, held in the worker's memory for the incremental pass's one
look at every company: which scores a newly labelled company enters (incremental.affected_by).

Postgres answers that with a scan of every vector (rows.entering): ~1 s at a million companies on
2 cores, most of a like's pass, and a core taken from the encoder during an import. numpy does
the same over a copy in ~0.1 s (docs/benchmarks.md, *The vectors in the worker's memory*). The
copy costs 4 bytes a dimension a company (1.5 GB at a million with MiniLM) in each worker process
that runs passes, and ~15 s to read (leads/tasks.py reads it as the interactive worker starts);
SCORING_VECTORS_IN_MEMORY=0 keeps the scan in Postgres instead.

Kept up to date by what the vectors' writes stamp: every write of a vector sets its created_at to
its transaction's start (embedding.services). Each pass reads the vectors stamped at or after the
start of the oldest transaction that was open when the copy was last brought up to date
(pg_stat_activity): a write committed since then was open then, or began later. Deleted vectors
stay in the copy: they are of deleted companies, which have no score to enter.

Exact: the copy holds the vectors as Postgres stores them (float32), and selects with the pass's
slack widened by the most float32 can be off on a dot product of this many dimensions (d x 2^-24
of the cosine for vectors of any length, doubled), so that it selects every score a new label
enters, as the scan does; the pass computes the distances that decide again, in float64."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import connection

from leads.models import CompanyEmbedding
from leads.scoring import rows as score_rows

log = logging.getLogger(__name__)

BLOCK = 65_536  # rows whose norms are computed at once (a float64 copy of every row: 3 GB at a million)


@dataclass
class _Copy:
    database: str
    model_name: str
    ids: np.ndarray  # company id of each row
    vectors: np.ndarray  # (capacity, dimensions) float32; rows past `count` unused
    norms: np.ndarray  # each row's norm, float64
    count: int
    row_of: np.ndarray  # company id -> row, -1 where none
    since: datetime  # vectors stamped at or after this are read again by the next refresh


_copy: _Copy | None = None
_lock = threading.Lock()


def entering(model_name: str, vectors: np.ndarray, thresholds: np.ndarray, slack: float):
    """As rows.entering: (ids, float32 vectors) of the companies whose k-th distance (`thresholds`,
    by company id, -1 where none) one of `vectors` is within, from the copy."""
    with _lock:  # threads of one process share the copy: none reads it while another writes it
        copy = _current(model_name)
        n = copy.count
        ids, stored, norms = copy.ids[:n], copy.vectors[:n], copy.norms[:n]
        limits = np.full(n, -np.inf)
        known = ids < len(thresholds)
        limits[known] = thresholds[ids[known]]
        # a float32 sum of d products is within d x 2^-24 of the exact cosine (the norms are float64): doubled
        limits += slack + stored.shape[1] * 2.0**-23
        hit = np.zeros(n, dtype=bool)
        for vector in np.asarray(vectors, dtype=np.float32):
            with np.errstate(divide="ignore", invalid="ignore"):  # a zero vector: NaN, as in Postgres: never within
                distances = 1.0 - (stored @ vector) / (norms * float(np.linalg.norm(vector.astype(np.float64))))
            hit |= distances <= limits
        return ids[hit].astype(np.int64), stored[hit].copy()


def warm(model_name: str) -> None:
    """Read the copy now (or bring it up to date), not in the next pass (benchmarks)."""
    with _lock:
        _current(model_name)


def held_bytes() -> int:
    """What the copy holds in this process (0 when none)."""
    return 0 if _copy is None else _copy.vectors.nbytes + _copy.norms.nbytes + _copy.ids.nbytes + _copy.row_of.nbytes


def forget() -> None:
    """Drop the copy (tests, benchmarks)."""
    global _copy
    _copy = None


def _current(model_name: str) -> _Copy:
    global _copy
    database = connection.settings_dict["NAME"]
    if _copy is None or (_copy.database, _copy.model_name) != (database, model_name) or not _copy.count:
        _copy = None  # its memory back before the new one is read
        started = time.perf_counter()
        since = _oldest_open()
        ids, vectors = score_rows.read_vectors(
            CompanyEmbedding.objects.filter(model_name=model_name), in_id_order=False
        )  # sorted, a million vectors would be held twice for a moment
        row_of = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
        row_of[ids] = np.arange(len(ids))
        _copy = _Copy(database, model_name, ids, vectors, _norms(vectors), len(ids), row_of, since)
        log.info(
            "%d vectors of %s in memory for the passes (%d MB, read in %.1f s)",
            len(ids), model_name, held_bytes() // 2**20, time.perf_counter() - started,
        )  # fmt: skip
        return _copy
    since = _oldest_open()
    ids, vectors = score_rows.read_vectors(
        CompanyEmbedding.objects.filter(model_name=model_name, created_at__gte=_copy.since), in_id_order=False
    )
    _put(_copy, ids, vectors)
    _copy.since = since
    return _copy


def _put(copy: _Copy, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Write `vectors` into the copy: in place for companies it holds, appended for the others."""
    if not len(ids):
        return
    if int(ids.max()) >= len(copy.row_of):
        grown = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
        grown[: len(copy.row_of)] = copy.row_of
        copy.row_of = grown
    rows = copy.row_of[ids]
    new = rows < 0
    if new.any():
        needed = copy.count + int(new.sum())
        if needed > len(copy.vectors):  # grow by a quarter at least: an import adds batch after batch
            capacity = max(needed, len(copy.vectors) + len(copy.vectors) // 4)
            copy.vectors = _grown(copy.vectors, capacity)
            copy.norms = _grown(copy.norms, capacity)
            copy.ids = _grown(copy.ids, capacity)
        rows[new] = np.arange(copy.count, needed)
        copy.row_of[ids[new]] = rows[new]
        copy.ids[rows[new]] = ids[new]
        copy.count = needed
    copy.vectors[rows] = vectors
    copy.norms[rows] = _norms(vectors)


def _grown(array: np.ndarray, capacity: int) -> np.ndarray:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _norms(vectors: np.ndarray) -> np.ndarray:
    """Each row's norm in float64, a block at a time."""
    norms = np.empty(len(vectors))
    for start in range(0, len(vectors), BLOCK):
        block = vectors[start : start + BLOCK].astype(np.float64)
        norms[start : start + BLOCK] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return norms


def _oldest_open() -> datetime:
    """The start of the oldest transaction open now in this database (this one's at the latest):
    every vector written by a transaction not committed yet will be stamped at or after it.
    pg_stat_activity is read afresh (a transaction keeps its first look otherwise)."""
    with connection.cursor() as cursor:
        cursor.execute("select pg_stat_clear_snapshot()")
        cursor.execute(
            "select least(statement_timestamp(), min(xact_start)) from pg_stat_activity"
            " where datname = current_database() and backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]
