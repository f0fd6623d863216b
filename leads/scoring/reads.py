"""The labelled set and the companies to score, read as every scoring path and every page that
weighs labels reads them (read-side: nothing here writes). The scoring services write with them;
review, label next and the import's progress read them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import connection
from django.db.models import Q

from leads.embedding import active
from leads.models import CompanyEmbedding, PendingScoreChange, ScoringState
from leads.models.lookups import Ids
from leads.scoring import evidence
from leads.scoring import knn as scoring
from leads.scoring import rows as score_rows


@dataclass(frozen=True)
class LabelledSet:
    company_ids: np.ndarray  # (m,) int64, ascending: the tie-break order
    vectors: np.ndarray  # (m, dims) float64, unit length
    labels: np.ndarray  # (m,) +1 / -1
    radius: float = 1.0  # the team's "close" (ScoringState.radius): what every fit is weighed with

    def __len__(self) -> int:
        return len(self.company_ids)


def load_labelled_set(profile_id: int) -> LabelledSet:
    """The profile's labelled companies that have a current vector: exact kNN runs over all of them.

    The labelled set is small, so we search it exhaustively in numpy instead of through the
    HNSW index, whose post-filtering would return fewer than k labelled neighbours."""
    ids, vectors, liked = score_rows.read_labelled(
        CompanyEmbedding.objects.labelled(active.model_name(), profile_id), profile_id
    )
    return LabelledSet(
        company_ids=ids,
        vectors=scoring.normalise_rows(vectors),
        labels=np.where(liked, 1.0, -1.0),
        radius=stored_radius(profile_id) if len(ids) else 1.0,  # no labels, no score: nothing to weigh yet
    )


def stored_radius(profile_id: int) -> float:
    """The radius every score of the profile is weighed with (ScoringState.radius, stored by the
    full rescore that measured it); measured here, not stored, before the first full rescore did."""
    radius = ScoringState.of(profile_id).radius
    return measure_radius()[0] if radius is None else radius


def measure_radius() -> tuple[float, int]:
    """evidence.radius_of a fixed sample of the companies' current vectors, and how many companies
    there were: the same companies give the same radius (the sample is drawn from the ids in
    order, with a fixed seed)."""
    current = CompanyEmbedding.objects.current(active.model_name())
    ids = np.array(sorted(current.values_list("company_id", flat=True)), dtype=np.int64)
    companies = len(ids)
    if companies > evidence.RADIUS_REFERENCE:
        ids = np.sort(np.random.default_rng(0).choice(ids, evidence.RADIUS_REFERENCE, replace=False))
    _, vectors = score_rows.read_vectors(current.filter(company_id__any_of=Ids(ids.tolist())))
    return evidence.radius_of(vectors), companies


# --- Reading candidate vectors (score_rows does the bulk reads and writes) ---------------


def read_candidates(scope: Q, profile_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of the companies the profile scores within `scope` (a Q on company_id).
    Call in a transaction (the scores lock's)."""
    with connection.cursor() as cursor:
        # Vectors are read by id from memory or SSD: with Postgres's default (4, for spinning
        # disks) the planner scanned every company to join tens of thousands of ids, several times slower.
        cursor.execute("set local random_page_cost = 1.1")
    return score_rows.read_vectors(CompanyEmbedding.objects.to_score(active.model_name(), profile_id).filter(scope))


def recomputed_since(profile_id: int, since) -> bool:
    """A full rescore of the profile started at or after `since` (many verdicts at once, a new
    encoder or k): it rewrites every score without logging each change (ScoreChange), so "how many
    changed since" has no count to give."""
    started = ScoringState.of(profile_id).full_started_at
    return started is not None and started >= since


def scores_are_current(profile_id: int) -> bool:
    """No label change of the profile waits and no full rescore of it is under way."""
    return (
        not PendingScoreChange.objects.filter(profile_id=profile_id).exists()
        and not ScoringState.of(profile_id).chunks_left
    )
