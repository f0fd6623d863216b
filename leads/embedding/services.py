"""Turning company text into vectors in pgvector."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
from django.db import connection, transaction
from django.db.models.functions import Length

from leads.core.queue import send_in_turn
from leads.embedding import active, hnsw
from leads.models import Company, CompanyEmbedding, CompanyWords
from leads.models.companies import fill_words_sql
from leads.models.lookups import id_array
from leads.scoring import rows as score_rows
from leads.scoring import services as scores

log = logging.getLogger(__name__)


def embed_companies(company_ids: Iterable[int], *, target: bool = False) -> list[int]:
    """Embed the given companies whose vector is missing or stale; return the ids embedded.
    With `target`, for the encoder a switch_model is moving to (see embedding.switching).

    Safe to run twice: a company whose text hash and model are unchanged is skipped."""
    spec = active.target() if target else active.encoder()
    if spec is None:  # the switch finished or was called off since the batch was queued
        return []
    companies = list(
        Company.objects.filter(pk__any_of=list(company_ids))
        .needing_embedding(spec.stored_name)
        .only("name", "description", "industry", "text_hash")
    )
    if not companies:
        return []
    vectors = active.encode([company.text for company in companies], spec)
    embedded = [company.pk for company in companies]
    with transaction.atomic():
        _write_vectors(embedded, [company.text_hash for company in companies], spec.stored_name, vectors)
        if not target:
            with connection.cursor() as cursor:  # its description becomes searchable (CompanyWords)
                cursor.execute(fill_words_sql(), [id_array(embedded)])
    return embedded


_VECTOR_STAGING = "create temp table vector_rows (company_id bigint, vector vector) on commit drop"

_VECTOR_UPSERT = """
insert into leads_companyembedding as e (company_id, model_name, text_hash, vector, created_at)
select v.company_id, %s, h.text_hash, v.vector, now()
from vector_rows v join unnest(%s::bigint[], %s::varchar[]) as h (company_id, text_hash) using (company_id)
on conflict (company_id, model_name) do update
    set text_hash = excluded.text_hash, vector = excluded.vector, created_at = excluded.created_at
"""


def _write_vectors(company_ids: list[int], hashes: list[str], stored_name: str, vectors: np.ndarray) -> None:
    """Upsert the vectors through a binary COPY (call in a transaction). Django's bulk_create sent
    each vector as text for Postgres to parse, several times slower (docs/benchmarks.md, *Figures behind the design*)."""
    with connection.cursor() as cursor:
        cursor.execute(_VECTOR_STAGING)
        score_rows.write_vectors("vector_rows", company_ids, vectors)
        cursor.execute(_VECTOR_UPSERT, [stored_name, id_array(company_ids), hashes])
        cursor.execute("drop table vector_rows")


def refill_search_words(*, batch: int = 20_000) -> int:
    """Read the search words of every company that has them again, `batch` companies a
    transaction (after SEARCH_LANGUAGES changed: `manage.py embed --search-words`); how many."""
    done, last = 0, 0
    while True:
        ids = list(
            CompanyWords.objects.filter(company_id__gt=last)
            .order_by("company_id")
            .values_list("company_id", flat=True)[:batch]
        )
        if not ids:
            return done
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(fill_words_sql(), [id_array(ids)])
        done, last = done + len(ids), ids[-1]


def drop_vectors(stored_name: str) -> int:
    """Delete every vector one encoder made (embedding.switching, after a switch away from it)."""
    return CompanyEmbedding.objects.filter(model_name=stored_name)._raw_delete(CompanyEmbedding.objects.db)


def embed_and_score(company_ids: Iterable[int]) -> list[int]:
    """The one path from text to score (worker, `embed` command, tests): embed the companies
    whose vector is missing or stale, then score the new unlabelled ones against the labelled
    set; a labelled company with a new vector is a label change (incremental rescore)."""
    embedded = embed_companies(company_ids)
    if embedded:
        with transaction.atomic():
            scores.labelled_changed(embedded, moved=True)  # a labelled vector moved: in each profile labelled
        scores.score_companies(embedded)  # in each profile, those unlabelled there
    return embedded


def queue_embedding(company_ids: list[int], *, target: bool = False) -> int:
    """Send the ids to the workers in batches (embedding.batch_size); returns how many batches
    were queued (`target`: for a switch_model's encoder). Batches are cut from the companies sorted
    by text length: the encoder pads every text of a batch to its longest, so a batch of similar
    lengths wastes least."""
    ordered = list(
        Company.objects.filter(pk__any_of=company_ids)
        .order_by(Length("name") + Length("industry") + Length("description"), "pk")
        .values_list("pk", flat=True)
    )
    spec = active.target() if target else active.encoder()
    if spec is None:  # a switch called off meanwhile: nothing to embed for it
        return 0
    if not target:  # many at once: their index is built after them, in one go (embedding.switching)
        hnsw.defer_index(ordered, spec)
    size = active.batch_size(spec)
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    # In turn (queue.send_in_turn): a later import, a model switch or a company a rep adds waits
    # behind at most BULK_WINDOW batches of this one, not all of them.
    send_in_turn("leads.embed_companies", [[batch, *([True] if target else [])] for batch in batches])
    return len(batches)


def queue_pending_embeddings() -> int:
    """Queue every company without a current vector (after an import, a crash or a model change)."""
    ids = list(Company.objects.needing_embedding(active.model_name()).order_by("pk").values_list("pk", flat=True))
    if ids:
        log.info("queueing %d companies for embedding", len(ids))
    return queue_embedding(ids)
