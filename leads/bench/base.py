"""The base companies the benchmark copies: real companies, really embedded, cached on disk.

Benchmark vectors must look like real embeddings (clusters, near neighbours at realistic
distances), so each benchmark company is a noisy copy of a real one. The real ones are the
Y Combinator directory in ../shared/data when the checkout has it, else the demo CSV; they are
embedded once with the real model and cached under LEADS_HOME/bench/."""

from __future__ import annotations

import ast
import csv
import hashlib
import multiprocessing
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import django
import numpy as np
from django.conf import settings

from leads.companies.identity import embedding_text
from leads.embedding import active
from leads.embedding import encoders as embedding

YC_CSV = settings.BASE_DIR.parent / "shared" / "data" / "yc-companies-2024-05-11.csv"
DEMO_CSV = settings.BASE_DIR / "leads" / "demo" / "companies.csv"
# A sales team's ideal customer profile over YC tags: ~27% of the companies. Verdicts follow the
# company, so neighbours mostly agree, as real verdicts do.
YC_LIKED_TAGS = {"fintech", "payments", "developer-tools", "api", "open-source", "data-engineering"}
SYNTHETIC_WORDS = ("Acme", "Harbor", "Summit", "Atlas", "Copper", "Northwind")


@dataclass(frozen=True)
class BaseSet:
    source: str  # where the companies came from
    names: list[str]
    descriptions: list[str]
    industries: list[str]
    countries: list[str]
    liked: np.ndarray  # (b,) bool: the verdict every labelled copy of the company gets
    vectors: np.ndarray  # (b, dims) float32, unit length
    digest: str  # identifies the vectors: a filled database is reused only for the same base

    def __len__(self) -> int:
        return len(self.names)


def load(base_vectors: Path | None, log: Callable[[str], None]) -> BaseSet:
    """The base set: given vectors (tests), or the real companies embedded (cached)."""
    if base_vectors is not None:
        return _synthetic(np.load(base_vectors), source=str(base_vectors))
    if YC_CSV.exists():
        source, rows = YC_CSV.name, _yc_rows(YC_CSV)
    else:
        source, rows = DEMO_CSV.name, _demo_rows(DEMO_CSV)
    names, descriptions, industries, countries, liked = (list(column) for column in zip(*rows))
    texts = [embedding_text(name=n, description=d, industry=i) for n, d, i in zip(names, descriptions, industries)]
    vectors, digest = _cached_embeddings(texts, log)
    return BaseSet(source, names, descriptions, industries, countries, np.array(liked, dtype=bool), vectors, digest)


def _yc_rows(path: Path) -> list[tuple[str, str, str, str, bool]]:
    rows = []
    with path.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            parts = [row["short_description"].strip(), row["long_description"].strip()]
            tags = set(ast.literal_eval(row["tags"] or "[]"))
            rows.append(
                (
                    row["company_name"].strip(),
                    "\n".join(p for p in parts if p),
                    "",
                    row["country"],
                    bool(tags & YC_LIKED_TAGS),
                )
            )
    return rows


def _demo_rows(path: Path) -> list[tuple[str, str, str, str, bool]]:
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    liked_industries = {row["industry"] for row in rows if row["label"] == "like"}
    return [
        (row["name"], row["description"], row["industry"], row["country"], row["industry"] in liked_industries)
        for row in rows
    ]


def _synthetic(vectors: np.ndarray, *, source: str) -> BaseSet:
    """A base from given vectors (tests): made-up names, verdicts from a hash of the index."""
    vectors = np.asarray(vectors, dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    count = len(vectors)
    return BaseSet(
        source=source,
        names=[f"{SYNTHETIC_WORDS[i % len(SYNTHETIC_WORDS)]} {i}" for i in range(count)],
        descriptions=[f"Synthetic base company number {i}." for i in range(count)],
        industries=[""] * count,
        countries=["US"] * count,
        liked=np.array([zlib.crc32(str(i).encode()) % 10 < 3 for i in range(count)], dtype=bool),
        vectors=vectors,
        digest=hashlib.sha256(vectors.tobytes()).hexdigest()[:16],
    )


def _cached_embeddings(texts: list[str], log: Callable[[str], None]) -> tuple[np.ndarray, str]:
    return embedded_once(texts, log)


def embedded_once(
    texts: list[str], log: Callable[[str], None], *, encoder: str | None = None
) -> tuple[np.ndarray, str]:
    """The texts embedded by `encoder` (a key of leads.embedding.encoders; None: the configured
    one), and a digest of encoder and texts, under which the vectors are cached in LEADS_HOME/bench/."""
    name = active.model_name() if encoder is None else embedding.encoder_for(encoder).stored_name
    digest = hashlib.sha256("\0".join([name, *texts]).encode()).hexdigest()[:16]
    path = Path(settings.LEADS_HOME) / "bench" / f"{encoder or 'base'}-{digest}.npy"
    if path.exists():
        return np.load(path), digest
    log(f"embedding {len(texts):,} companies with {name} once (~70 s per 4,663 on 2 cores); cached in {path}")
    # In a child process: the model and torch would otherwise count in this process's memory.
    with child_process() as pool:
        vectors = pool.submit(_encode, texts, encoder).result()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, digest


def child_process() -> ProcessPoolExecutor:
    """One fresh process (spawned: no copy of this one's torch threads or connections) with Django
    set up before its first task is unpickled: unpickling a benchmark function imports its module,
    whose imports need the app registry."""
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=django.setup)


def _encode(texts: list[str], encoder: str | None) -> np.ndarray:
    return active.encode(texts, using=None if encoder is None else embedding.encoder_for(encoder))
