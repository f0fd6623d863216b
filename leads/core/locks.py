"""Postgres advisory locks: the one helper every worker, command and test takes them through.

Advisory locks live in Postgres, so they hold across worker processes and machines, and
Postgres drops them when the holder's session dies (a killed worker never leaves one behind).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection, transaction

# Lock namespaces (the first key); the second key tells items apart within one.
SCORES = 7_214_001  # every write of a profile's scores: shared by chunk writers, exclusive for label changes
IMPORT = 7_310_002  # one run per companies import job
SWEEP = 7_410_003  # one periodic sweep at a time
MAP = 7_510_004  # one compute_map at a time (map.services)
SWITCH = 7_610_005  # one finishing encoder switch at a time (embedding.switching)
INDEX = 7_710_006  # the active encoder's HNSW index: one drop or build at a time (embedding.switching)
OUTCOME_IMPORT = 7_810_007  # one run per deals import (outcomes.services)
FIT_DISTRIBUTION = 7_910_008  # one maker of a profile's kept distribution of fits (scoring.services)


def hold_for_transaction(namespace: int, key: int = 0, *, shared: bool = False) -> None:
    """Wait for the lock and keep it until the current transaction ends (commit or rollback)."""
    if not connection.in_atomic_block:
        raise RuntimeError("hold_for_transaction needs a transaction: wrap the caller in transaction.atomic()")
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"select {function}(%s, %s)", [namespace, key])


@contextlib.contextmanager
def try_hold(namespace: int, key: int = 0) -> Iterator[bool]:
    """Yield whether this session got the lock without waiting; released on exit, across transactions."""
    with connection.cursor() as cursor:
        cursor.execute("select pg_try_advisory_lock(%s, %s)", [namespace, key])
        ours = cursor.fetchone()[0]
    try:
        yield ours
    finally:
        if ours:
            with connection.cursor() as cursor:
                cursor.execute("select pg_advisory_unlock(%s, %s)", [namespace, key])


@contextlib.contextmanager
def scores_lock(profile_id: int, *, shared: bool = False) -> Iterator[None]:
    """A transaction holding a profile's scores lock: shared for writers that score against the
    labelled set as it is (chunks of a full rescore, newly embedded companies), exclusive for the
    pass that applies label changes, so no score is ever written from a labelled set older than
    the last pass (see scoring.services). One lock a profile: a pass in one never waits for another's."""
    with transaction.atomic():
        hold_for_transaction(SCORES, profile_id, shared=shared)
        yield


@contextlib.contextmanager
def every_scores_lock(profile_ids: list[int]) -> Iterator[None]:
    """A transaction holding every one of these profiles' scores locks, exclusive, taken in id
    order (so two holders cannot deadlock): no score of any is written meanwhile (an encoder switch)."""
    with transaction.atomic():
        for profile_id in sorted(profile_ids):
            hold_for_transaction(SCORES, profile_id)
        yield
