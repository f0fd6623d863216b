"""Every score's k-th neighbour distance in a profile, as one float32 array indexed by company id
(-1 where a company has no score there): what the incremental pass compares a newly labelled company's distances
with, to find the scores it enters.

Reading it is a scan of every score (docs/benchmarks.md, *Figures behind the design*), so the
pass keeps it in the worker's memory between passes (4 bytes a company). Every statement that
writes leads_score takes the next number of the sequence leads_score_version (a trigger,
migration 0016), and the upsert stamps the rows it writes with a number of its own (Score.version,
indexed). The pass holds the exclusive scores lock, so while it runs no other writer can change a
score, and every number taken before it is committed or rolled back: the number it reads tells
whether its copy is still the database's, and if not, the scores stamped after the copy's number
are exactly those written since (an embedding batch's, during an import: a few hundred rows
instead of a scan of every score on every pass). After its own writes it patches its copy, kept
only once the transaction commits (a rollback leaves the copy at an older number: what was
written since is read).

One copy a profile, made the first time a pass of that profile runs in this worker: memory grows by
the profiles labelled, not by every profile. The sequence is shared by every profile: another
profile's writes move it, and its delta read then finds none of this profile's rows.

A copy may hold a distance for a score deleted since: that only makes the pass look at one
company more. It holds each distance rounded to float32 (within 1e-7), inside the pass's slack."""

from __future__ import annotations

import numpy as np
from django.db import connection, transaction

_copies: dict[int, tuple[int, np.ndarray]] = {}  # profile id: (version, thresholds) as last known


def current(profile_id: int) -> np.ndarray:
    """The k-th distances of every score of the profile as committed (call under its exclusive scores lock)."""
    version = _version()
    copy = _copies.get(profile_id)
    if copy is None:
        _copies[profile_id] = (version, _read(profile_id))
    elif copy[0] != version:
        _copies[profile_id] = (version, _patched(copy[1], _read(profile_id, since=copy[0])))
    return _copies[profile_id][1]


def _patched(base: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`base` with the (id, k-th) `rows` written since it was read."""
    if not len(rows):
        return base
    patched = np.full(max(len(base), int(rows["id"].max()) + 1), -1.0, dtype=np.float32)
    patched[: len(base)] = base
    patched[rows["id"]] = rows["kth"]
    return patched


def written(profile_id: int, affected: list[int], ids: np.ndarray, kth: np.ndarray) -> None:
    """The profile's pass rewrote the scores of `affected`: those of `ids` now have the k-th distances
    `kth`, the others none. Patch the copy once this transaction commits (call under the
    exclusive scores lock, after the writes)."""
    copy = _copies.get(profile_id)
    if copy is None or not affected:
        return
    base = _copies.pop(profile_id)[1]  # no copy until the commit: a rollback must not keep the patch
    version = _version()
    gone = np.array(affected, dtype=np.int64)
    patched = np.full(max(len(base), int(gone.max()) + 1), -1.0, dtype=np.float32)
    patched[: len(base)] = base
    patched[gone] = -1.0
    patched[ids] = kth  # float32: rounded to nearest, within the pass's slack

    def keep() -> None:
        _copies[profile_id] = (version, patched)

    transaction.on_commit(keep)


def forget() -> None:
    """Drop the copies (tests)."""
    _copies.clear()


def _version() -> int:
    """The last number taken (0 before the first: a fresh sequence's last_value is the first it gives)."""
    with connection.cursor() as cursor:
        cursor.execute("select case when is_called then last_value else 0 end from leads_score_version")
        return int(cursor.fetchone()[0])


def _read(profile_id: int, *, since: int | None = None):
    """Every score's (id, k-th) of the profile, in one scan run in parallel, as an array indexed by id; with
    `since`, the (id, k-th) rows of the scores written by a statement numbered after it (the
    version index: a batch's scores, not a million). Each comes as one binary string."""
    where = " where profile_id = %s" + ("" if since is None else " and version > %s")
    with connection.cursor() as cursor:
        cursor.execute(
            "select string_agg(int8send(company_id) || float4send(kth_distance::float4), '') from leads_score" + where,
            [profile_id] if since is None else [profile_id, since],
        )
        rows = _rows(cursor.fetchone()[0])
    if since is not None:
        return rows
    thresholds = np.full(int(rows["id"].max()) + 1 if len(rows) else 0, -1.0, dtype=np.float32)
    thresholds[rows["id"]] = rows["kth"]
    return thresholds


def _rows(blob) -> np.ndarray:
    return np.frombuffer(bytes(blob or b""), dtype=[("id", ">i8"), ("kth", ">f4")])
