"""The incremental pass's two steps (scoring.services.apply_label_changes runs them under the
exclusive scores lock): which scores the pending label changes affect, and bringing them up to
date, from what each score stores where it can, from scratch where it lost a neighbour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Q

from leads.embedding import active
from leads.models import Score
from leads.models.lookups import Ids, id_array
from leads.scoring import knn as scoring
from leads.scoring import rows as score_rows
from leads.scoring import thresholds as score_thresholds
from leads.scoring import vector_copy

if TYPE_CHECKING:
    from leads.scoring.reads import LabelledSet

# pgvector computes distances in float32, we rank in float64: select with this much slack
# (cosine distance) and let the exact rescore decide. Over-selecting costs a little time, never a score.
SELECTION_SLACK = 1e-5
MERGE_BLOCK = 2048  # rows whose distances to the arrivals are computed at once


def _width_before(labelled: LabelledSet, entered: list[int]) -> int:
    """Neighbours a complete score had before this pass: k, or the labelled set less its arrivals."""
    return min(settings.SCORING_K, len(labelled) - len(np.intersect1d(labelled.company_ids, entered)))


@dataclass(frozen=True)
class Found:
    """What `affected_by` found: the companies to bring up to date, and the vectors it read."""

    affected: list[int]
    ids: np.ndarray  # ascending
    vectors: np.ndarray | None  # of `ids`; None when no company entered (nothing was read)
    stored: Stored | None = None  # the affected scores, when the scan for citing scores read them all


def affected_by(
    profile_id: int, changed: list[int], entered: list[int], moved: list[int], labelled: LabelledSet
) -> Found:
    """The changed companies themselves, every score that cites one, and every score that a
    company which entered the labelled set (or moved in it) would enter: closer than the score's
    k-th neighbour.

    Citing scores are found by one scan of the scores (no index: keeping a GIN index on the
    neighbour ids up to date cost more on every rewritten score than the scan costs a pass).
    Arrivals cost one pass over every vector against every score's k-th distance (kept in memory
    between passes, scoring.thresholds); its found vectors serve the merge. A company in
    the labelled set now that has not moved needs no scan of what cites it: a score citing it has
    it within its k-th distance, so the pass over the vectors finds that score."""
    found = set(changed)
    arrivals = set(np.intersect1d(labelled.company_ids, entered).tolist()).difference(moved)
    cited = [company_id for company_id in changed if company_id not in arrivals]
    vectors = labelled.vectors[np.isin(labelled.company_ids, entered)]
    if not len(vectors):  # the citing scores are all: the scan reads what the update needs of them
        width = _width_before(labelled, entered)
        stored = (
            Stored(*score_rows.read_neighbours(profile_id, width, citing=cited)).without(changed) if cited else None
        )
        ids = stored.ids.tolist() if stored else []
        return Found(sorted(found.union(ids)), np.empty(0, np.int64), None, stored)
    if cited:
        with connection.cursor() as cursor:
            cursor.execute(
                "select company_id from leads_score where profile_id = %s and neighbour_ids && %s::bigint[]",
                [profile_id, id_array(cited)],
            )
            found.update(row[0] for row in cursor.fetchall())
    with connection.cursor() as cursor:
        # Let Postgres split the pass over parallel workers: its cost model keeps it serial.
        cursor.execute("set local parallel_setup_cost = 0")
        cursor.execute("set local parallel_tuple_cost = 0")
        if settings.SCAN_PARALLEL_WORKERS:
            cursor.execute(
                "select set_config('max_parallel_workers_per_gather', %s, true)", [str(settings.SCAN_PARALLEL_WORKERS)]
            )
    thresholds = score_thresholds.current(profile_id)
    entering = vector_copy.entering if settings.SCORING_VECTORS_IN_MEMORY else score_rows.entering
    ids, vectors = entering(active.model_name(), vectors, thresholds, SELECTION_SLACK)
    order = np.argsort(ids)
    return Found(sorted(found.union(ids.tolist())), ids[order], vectors[order])


@dataclass(frozen=True)
class Stored:
    """Score rows as stored: every row's id and value; neighbours of the `complete` rows only
    (those with the expected number of neighbours, the only ones a merge can bring up to date)."""

    ids: np.ndarray
    fits: np.ndarray
    complete: np.ndarray  # bool, per row
    neighbour_ids: np.ndarray  # (complete rows, width)
    distances: np.ndarray  # (complete rows, width)

    def without(self, company_ids: list[int]) -> Stored:
        keep = ~np.isin(self.ids, company_ids)
        rows = keep[self.complete]
        return Stored(
            self.ids[keep], self.fits[keep], self.complete[keep], self.neighbour_ids[rows], self.distances[rows]
        )


def update_affected(
    profile_id: int, found: Found, changed: list[int], entered: list[int], labelled: LabelledSet, rescored
):
    """Rescore the affected companies; returns their values before, the scores written, and which
    of the changed companies each affected score cited before (only scores that cited one).
    `rescored(profile_id, scope, labelled)` scores the others from scratch (scoring.services).

    Most affected scores can be brought up to date from what they keep: one that cites a flipped
    company takes its new label, and one that a newly labelled company enters takes it in place of
    its k-th neighbour (the distance computed as the full rescore computes it, so the same
    neighbours win every tie). Only a score that lost a neighbour (cleared, deleted, or moved by a
    new vector) needs its next one, so is rescored from its vector against every labelled company;
    so are the changed companies themselves."""
    k = settings.SCORING_K
    arrivals = np.intersect1d(labelled.company_ids, entered)  # in the labelled set now
    expected = _width_before(labelled, entered)
    stored = found.stored or _stored_neighbours(profile_id, np.setdiff1d(found.affected, changed), expected)
    before = dict(zip(stored.ids.tolist(), stored.fits.tolist()))
    citing = np.isin(stored.neighbour_ids, changed)
    cites = citing.any(axis=1)  # the rows to look at one by one: those citing a changed company
    cited_before = {
        company_id: set(neighbours[hits].tolist())
        for company_id, neighbours, hits in zip(
            stored.ids[stored.complete][cites].tolist(), stored.neighbour_ids[cites], citing[cites]
        )
    }
    # Kept: every neighbour still labelled, none moved (a moved one may be nearer or farther now).
    kept = stored.complete.copy()
    kept[stored.complete] = np.isin(stored.neighbour_ids, labelled.company_ids).all(axis=1) & ~np.isin(
        stored.neighbour_ids, entered
    ).any(axis=1)
    keeps = stored.ids[kept]
    rows = kept[stored.complete]
    parts: list[score_rows.Written] = []
    # Only the scores the pass over the vectors found may take an arrival (the others are farther
    # from every arrival than their k-th neighbour, so only their labels can change).
    reached = np.isin(keeps, found.ids)
    for part, taking in ((reached, arrivals), (~reached, arrivals[:0])):
        if part.any():
            ids = keeps[part]
            vectors = found.vectors[np.searchsorted(found.ids, ids)] if len(taking) else None
            neighbours, distances = stored.neighbour_ids[rows][part], stored.distances[rows][part]
            result = _merge_arrivals(vectors, neighbours, distances, taking, labelled, k)
            parts.append(
                score_rows.write_scores(
                    profile_id, ids, result, labelled.company_ids, labelled.labels, radius=labelled.radius
                )
            )
    rest = sorted(set(found.affected).difference(keeps.tolist()))
    before.update(_values(profile_id, [i for i in rest if i not in before]))
    parts.append(
        rescored(profile_id, Q(company_id__any_of=Ids(rest)), labelled)
    )  # the others in `rest` have no score now
    fields = ("ids", "fits", "kth")
    written = score_rows.Written(*(np.concatenate([getattr(part, field) for part in parts]) for field in fields))
    return before, written, cited_before


def _stored_neighbours(profile_id: int, company_ids: np.ndarray, width: int) -> Stored:
    return Stored(*score_rows.read_neighbours(profile_id, width, ids=company_ids.tolist()))


def _merge_arrivals(vectors, neighbour_ids, distances, arrivals, labelled: LabelledSet, k: int) -> scoring.Scores:
    """Scores from kept neighbours (labels as they are now) and the arrivals (`vectors`: the
    scored companies', needed only when there are arrivals)."""
    if len(arrivals):
        columns = np.searchsorted(labelled.company_ids, arrivals)
        # In blocks: a block's float64 copy is reused by the allocator, where one copy of every
        # row cost its page faults, more than the arithmetic (docs/benchmarks.md, *Figures behind
        # the design*).
        new = np.vstack(
            [
                scoring.pairwise_distances(vectors[start : start + MERGE_BLOCK], labelled.vectors[columns])
                for start in range(0, len(vectors), MERGE_BLOCK)
            ]
        )
        neighbour_ids = np.hstack([neighbour_ids, np.broadcast_to(arrivals, new.shape)])
        distances = np.hstack([distances, new])
        order = np.lexsort((neighbour_ids, distances), axis=1)[:, :k]  # nearest first, ties by id
        neighbour_ids = np.take_along_axis(neighbour_ids, order, axis=1)
        distances = np.take_along_axis(distances, order, axis=1)
    return scoring.vote(np.searchsorted(labelled.company_ids, neighbour_ids), distances, labelled.labels)


def _values(profile_id: int, company_ids: list[int]) -> dict[int, float]:
    scores = Score.objects.filter(profile_id=profile_id, company_id__any_of=Ids(company_ids))
    return dict(scores.values_list("company_id", "fit"))
