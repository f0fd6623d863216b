"""The companies nearest to a company or to any vector: cosine distance between current vectors,
read off the active encoder's HNSW index (the company page, the API, the admin, search by meaning)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from pgvector.django import CosineDistance

from leads.embedding import active
from leads.models import Company, CompanyEmbedding
from leads.models.companies import sized_vector
from leads.models.encoders import HNSW_EF_SEARCH


@dataclass(frozen=True)
class SimilarCompany:
    company: Company  # with its score loaded, when it has one
    distance: float  # cosine distance, 0..2
    similarity: float  # 1 - distance, -1..1


def similar_companies(
    company: Company, *, profile_id: int, limit: int = 10, unlabelled: bool = False
) -> list[SimilarCompany]:
    """The `limit` other companies nearest to `company` by cosine distance between current
    vectors, nearest first (ties by id), with their scores and verdicts in the profile; only
    unlabelled ones there if asked. [] while the company has no current vector (waiting for embedding)."""
    vectors = CompanyEmbedding.objects.current(active.model_name())
    query = vectors.filter(company=company).values_list("vector", flat=True).first()
    if query is None:
        return []
    return nearest_to(query, profile_id=profile_id, limit=limit, unlabelled=unlabelled, excluding=company.pk)


def nearest_to(
    vector, *, profile_id: int, limit: int = 10, unlabelled: bool = False, excluding: int | None = None
) -> list[SimilarCompany]:
    """The `limit` companies whose current vectors are nearest to `vector` (the active encoder's),
    nearest first (ties by id), read in the profile; only those unlabelled there if asked; never
    company `excluding`.

    Approximate: it walks pgvector's HNSW index, which keeps it fast on a million companies. An
    iterative scan reads at most hnsw.max_scan_tuples (20,000) index entries, so a filter that
    almost nothing passes can still return fewer than `limit`."""
    encoder = active.encoder()
    candidates = CompanyEmbedding.objects.current(encoder.stored_name)
    if excluding is not None:
        candidates = candidates.exclude(company_id=excluding)
    if unlabelled:
        candidates = candidates.to_score(encoder.stored_name, profile_id)
    # relaxed_order can return rows slightly out of order: read a few more than asked, sort, cut.
    distance = CosineDistance(sized_vector(encoder.dimensions), vector)  # the encoder's own HNSW index
    nearest = candidates.annotate(distance=distance).order_by("distance")[: limit + 10]
    with transaction.atomic(), connection.cursor() as cursor:
        # The index yields the nearest vectors first and the filter (current text, unlabelled,
        # not itself) comes after it: a plain scan stops after ef_search entries and can return
        # fewer than `limit` rows; pgvector 0.8's iterative scan goes on until `limit` pass.
        cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        # ef_search (HNSW_EF_SEARCH): the candidates the graph search keeps.
        cursor.execute(
            "SELECT set_config('hnsw.ef_search', %s, true)", [str(min(1000, max(HNSW_EF_SEARCH, 2 * limit)))]
        )
        # The planner takes the two conditions of "current" (same company, same text hash) as
        # independent, estimates ~1 matching row, concludes LIMIT must read the whole index and
        # picks a full scan plus sort. Without sorting, the ordered index scan is the only plan left
        # (docs/benchmarks.md, similar companies).
        cursor.execute("SELECT set_config('enable_sort', 'off', true)")
        rows = list(nearest)
        # Read-only: rolling back ends the settings above here, even inside a caller's transaction.
        transaction.set_rollback(True)
    rows = sorted(rows, key=lambda row: (row.distance, row.company_id))[:limit]
    companies = Company.objects.in_profile(profile_id).in_bulk([row.company_id for row in rows])
    return [
        SimilarCompany(company=companies[row.company_id], distance=row.distance, similarity=1.0 - row.distance)
        for row in rows
        if row.company_id in companies
    ]
