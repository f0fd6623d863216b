"""Turning company text into vectors in pgvector."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction

from leads import embedding
from leads.models import Company, CompanyEmbedding
from leads.models.companies import FILL_WORDS_SQL, id_array
from leads.services import scores
from leads.services.queue import send

log = logging.getLogger(__name__)


def embed_companies(company_ids: Iterable[int]) -> list[int]:
    """Embed the given companies whose vector is missing or stale; return the ids embedded.

    Safe to run twice: a company whose text hash and model are unchanged is skipped."""
    name = embedding.model_name()
    companies = list(Company.objects.filter(pk__in=list(company_ids)).needing_embedding(name))
    if not companies:
        return []
    vectors = embedding.encode([company.text for company in companies])
    rows = [
        CompanyEmbedding(company=company, model_name=name, text_hash=company.text_hash, vector=vector)
        for company, vector in zip(companies, vectors)
    ]
    embedded = [company.pk for company in companies]
    with transaction.atomic():
        CompanyEmbedding.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["company", "model_name"],
            update_fields=["text_hash", "vector", "created_at"],
        )
        with connection.cursor() as cursor:  # its description becomes searchable (CompanyWords)
            cursor.execute(FILL_WORDS_SQL, [id_array(embedded)])
    return embedded


def embed_and_score(company_ids: Iterable[int]) -> list[int]:
    """The one path from text to score (worker, `embed` command, tests): embed the companies
    whose vector is missing or stale, then score the new unlabelled ones against the labelled
    set; a labelled company with a new vector is a label change (incremental rescore)."""
    embedded = embed_companies(company_ids)
    if embedded:
        labelled = list(Company.objects.filter(pk__in=embedded).labelled().values_list("pk", flat=True))
        if labelled:
            with transaction.atomic():
                scores.labels_changed(labelled, entered=labelled)  # a labelled vector moved
        scores.score_companies(set(embedded) - set(labelled))
    return embedded


def queue_embedding(company_ids: list[int]) -> int:
    """Send the ids to the workers in batches; returns how many batches were queued."""
    size = settings.EMBEDDING_BATCH_SIZE
    batches = [company_ids[i : i + size] for i in range(0, len(company_ids), size)]
    for batch in batches:
        send("leads.embed_companies", batch)
    return len(batches)


def queue_pending_embeddings() -> int:
    """Queue every company without a current vector (after an import, a crash or a model change)."""
    ids = list(Company.objects.needing_embedding(embedding.model_name()).order_by("pk").values_list("pk", flat=True))
    if ids:
        log.info("queueing %d companies for embedding", len(ids))
    return queue_embedding(ids)
