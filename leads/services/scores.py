"""Writing kNN scores for companies from the current labels."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from leads import embedding, scoring
from leads.models import VERDICT_VALUE, CompanyEmbedding, Score, ScoringState
from leads.services.queue import enqueue_on_commit

log = logging.getLogger(__name__)

# pg_try_advisory_lock key: one full rescore at a time across all workers.
_RESCORE_LOCK = 7_214_001
_CHUNK = 5000


@dataclass(frozen=True)
class LabelledSet:
    company_ids: np.ndarray  # (m,)
    vectors: np.ndarray  # (m, dims)
    labels: np.ndarray  # (m,) +1 / -1


def load_labelled_set() -> LabelledSet:
    """Labelled companies that have a current vector: exact kNN runs over all of them.

    The labelled set is small, so we search it exhaustively in numpy instead of
    through the HNSW index, whose post-filtering would return fewer than k
    labelled neighbours (pgvector issues #259, #671)."""
    rows = list(
        CompanyEmbedding.objects.filter(
            model_name=embedding.model_name(), company__verdict__in=list(VERDICT_VALUE)
        ).values_list("company_id", "company__verdict", "vector", "text_hash", "company__text_hash")
    )
    rows = [row for row in rows if row[3] == row[4]]
    dims = settings.EMBEDDING_DIMENSIONS
    return LabelledSet(
        company_ids=np.array([row[0] for row in rows], dtype=np.int64),
        vectors=np.array([row[2] for row in rows], dtype=np.float32).reshape(len(rows), dims),
        labels=np.array([VERDICT_VALUE[row[1]] for row in rows], dtype=np.float64),
    )


def score_companies(company_ids: Iterable[int], labelled: LabelledSet | None = None) -> int:
    """(Re)score the given unlabelled, embedded companies; returns how many got a score."""
    labelled = labelled if labelled is not None else load_labelled_set()
    ids = list(company_ids)
    rows = list(
        CompanyEmbedding.objects.filter(
            model_name=embedding.model_name(), company_id__in=ids, company__verdict=""
        ).values_list("company_id", "vector")
    )
    if not rows or len(labelled.company_ids) == 0:
        Score.objects.filter(company_id__in=ids).delete()
        return 0
    candidate_ids = [row[0] for row in rows]
    result = scoring.knn_scores(
        np.array([row[1] for row in rows], dtype=np.float32), labelled.vectors, labelled.labels, settings.SCORING_K
    )
    now = timezone.now()
    scores = [
        Score(
            company_id=cid, value=float(result.values[i]), neighbours=_explanation(result, i, labelled), computed_at=now
        )
        for i, cid in enumerate(candidate_ids)
    ]
    Score.objects.bulk_create(
        scores, update_conflicts=True, unique_fields=["company"], update_fields=["value", "neighbours", "computed_at"]
    )
    return len(scores)


def _explanation(result: scoring.Scores, row: int, labelled: LabelledSet) -> list[dict]:
    return [
        {
            "company_id": int(labelled.company_ids[j]),
            "distance": round(float(d), 6),
            "weight": round(float(w), 6),
            "label": float(labelled.labels[j]),
        }
        for j, d, w in zip(result.neighbours[row], result.distances[row], result.weights[row])
    ]


def rescore_all() -> int:
    """Synchronous full rescore: every unlabelled embedded company, in chunks."""
    labelled = load_labelled_set()
    Score.objects.filter(company__verdict__in=list(VERDICT_VALUE)).delete()
    if len(labelled.company_ids) == 0:
        Score.objects.all().delete()
        return 0
    ids = list(
        CompanyEmbedding.objects.filter(model_name=embedding.model_name(), company__verdict="")
        .order_by("company_id")
        .values_list("company_id", flat=True)
    )
    total = 0
    for start in range(0, len(ids), _CHUNK):
        with transaction.atomic():
            total += score_companies(ids[start : start + _CHUNK], labelled)
    return total


def rescore_if_labels_changed() -> bool | None:
    """Rescore unless an earlier task already covered the newest labels.

    Returns True after a rescore, False when there was nothing to do, and None
    when another worker holds the rescore lock (the caller retries later)."""
    with connection.cursor() as cursor:
        cursor.execute("select pg_try_advisory_lock(%s)", [_RESCORE_LOCK])
        if not cursor.fetchone()[0]:
            return None
        try:
            state = ScoringState.get()
            if state.scored_version >= state.labels_version:
                return False
            rescore_all()
            ScoringState.objects.filter(pk=1).update(scored_version=state.labels_version)
            log.info("rescored for labels version %d", state.labels_version)
            return True
        finally:
            cursor.execute("select pg_advisory_unlock(%s)", [_RESCORE_LOCK])


def request_rescore() -> None:
    """Bump the labels version in the caller's transaction and queue a coalesced rescore.

    The version row is updated inside the labelling transaction, so a rescore
    that read the version before this commit cannot claim to have covered it."""
    ScoringState.get()
    ScoringState.objects.filter(pk=1).update(labels_version=F("labels_version") + 1)
    enqueue_on_commit("leads.rescore_if_labels_changed", countdown=settings.RESCORE_DELAY_SECONDS)


def score_new_embeddings(company_ids: list[int]) -> None:
    """After vectors changed: a labelled company moved, so everything may change;
    otherwise only the re-embedded companies need a score."""
    if CompanyEmbedding.objects.filter(company_id__in=company_ids, company__verdict__in=list(VERDICT_VALUE)).exists():
        with transaction.atomic():
            request_rescore()
    else:
        score_companies(company_ids)
