"""Turning company text into vectors in pgvector."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models.functions import Length

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
    companies = list(
        Company.objects.filter(pk__any_of=list(company_ids))
        .needing_embedding(name)
        .only("name", "description", "industry", "text_hash")
    )
    if not companies:
        return []
    _refuse_a_mismatched_column()
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
    """Send the ids to the workers in batches of EMBEDDING_BATCH_SIZE; returns how many batches
    were queued. Batches are cut from the companies sorted by text length: the encoder pads every
    text of a batch to its longest, so a batch of similar lengths wastes least."""
    ordered = list(
        Company.objects.filter(pk__any_of=company_ids)
        .order_by(Length("name") + Length("industry") + Length("description"), "pk")
        .values_list("pk", flat=True)
    )
    size = settings.EMBEDDING_BATCH_SIZE
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    for batch in batches:
        send("leads.embed_companies", batch)
    return len(batches)


def queue_pending_embeddings() -> int:
    """Queue every company without a current vector (after an import, a crash or a model change)."""
    ids = list(Company.objects.needing_embedding(embedding.model_name()).order_by("pk").values_list("pk", flat=True))
    if ids:
        log.info("queueing %d companies for embedding", len(ids))
    return queue_embedding(ids)


# --- The vector column and the encoder ------------------------------------------------


def stored_dimensions() -> int | None:
    """The size of the database's vector column, None before the migrations made it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select atttypmod from pg_attribute where attrelid = to_regclass(%s) and attname = 'vector'",
            [CompanyEmbedding._meta.db_table],
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] > 0 else None


def dimensions_mismatch() -> str | None:
    """What to do when the database's vectors are not the size EMBEDDING_MODEL makes; None if they are."""
    stored, wanted = stored_dimensions(), settings.EMBEDDING_DIMENSIONS
    if stored is None or stored == wanted:
        return None
    chosen = settings.EMBEDDING_MODEL or embedding.DEFAULT
    fitting = [name for name, spec in embedding.ENCODERS.items() if spec.dimensions == stored]
    back = f"set EMBEDDING_MODEL back to {' or '.join(fitting)}" if fitting else "set EMBEDDING_MODEL back"
    return (
        f"The database holds {stored}-dimensional vectors, but EMBEDDING_MODEL={chosen!r} makes {wanted}."
        f" Either {back} (the encoder that made them), or use EMBEDDING_MODEL={chosen!r} with a fresh"
        " database (another DATABASE_URL, or `make clean-data` for the embedded one, which deletes every"
        " company and label). An existing database cannot switch encoders of another size in place yet."
    )


_column_checked = False


def _refuse_a_mismatched_column() -> None:
    """Before the first write in this process: a clear error rather than Postgres's 'expected 384
    dimensions, not 512' on every batch."""
    global _column_checked
    if not _column_checked:
        problem = dimensions_mismatch()
        if problem:
            raise ImproperlyConfigured(problem)
        _column_checked = True
