"""Which encoder's vectors are scored and searched, and the switch to another (switch_model)."""

from __future__ import annotations

import hashlib

from django.db import models

from leads.models.onerow import OneRow


class EncoderState(OneRow):
    """One row. `active` is the encoder whose vectors every score, search and similar-companies
    query uses (an EMBEDDING_MODEL value: a short name or a sentence-transformers model). While
    `manage.py switch_model` runs, `target` is the encoder every company is being embedded with
    in the background; when all are, scoring moves to it in one step and `target` is emptied.

    A fresh database takes EMBEDDING_MODEL (migration 0015); after that the database decides, so
    that every web process and worker, on every machine, uses the same vectors."""

    active = models.CharField(max_length=300)
    active_dimensions = models.PositiveIntegerField()
    target = models.CharField(max_length=300, blank=True)
    target_dimensions = models.PositiveIntegerField(null=True, blank=True)
    switch_started_at = models.DateTimeField(null=True, blank=True)
    switched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="one_encoder_state")]


def hnsw_index_name(stored_name: str) -> str:
    """The name of the HNSW index over one encoder's vectors (a partial index per encoder: the
    vector column holds vectors of any size, an index only vectors of one)."""
    return "embedding_hnsw_" + hashlib.sha256(stored_name.encode()).hexdigest()[:12]


# The candidates an HNSW search keeps (hnsw.ef_search), for every nearest-neighbour query (similar
# companies, near-duplicates). pgvector's default of 40 missed some of the true 10 nearest at 100k
# companies; 128 keeps recall near 1 at a million and the search fast (docs/benchmarks.md, *Figures behind the design*).
HNSW_EF_SEARCH = 128

# Memory for building an HNSW index. With Postgres's default (64 MB) the graph of a million
# companies does not fit and pgvector builds on disk: 12.6 minutes and recall@10 0.91 for similar
# companies, against 4.2 minutes and 0.97 with 2 GB (measured at 1M, docs/benchmarks.md).
# Allocated as the build needs it, up to this.
HNSW_BUILD_MEMORY = "2GB"


def hnsw_index_sql(stored_name: str, dimensions: int, quote_value) -> str:
    """CREATE INDEX for one encoder's vectors (`quote_value`: the connection's, for the name)."""
    return (
        f"create index if not exists {hnsw_index_name(stored_name)} on leads_companyembedding"
        f" using hnsw ((vector::vector({int(dimensions)})) vector_cosine_ops) with (m = 16, ef_construction = 64)"
        f" where model_name = {quote_value(stored_name)}"
    )
