"""The benchmark companies: N noisy copies of the base companies, deterministic for a seed.

Company i (ids 1..N) copies base company base_of[i - 1]: base vector + Gaussian noise
(NOISE per dimension), normalised. Two copies of one company end up ~0.26 apart in cosine
distance, a copy ~0.14 from its original: clusters like real near-duplicates and rivals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from leads.bench.base import BaseSet
from leads.models import Verdict

NOISE = 0.03  # standard deviation per dimension
CHUNK = 20_000  # companies generated (and copied into Postgres) at a time: ~100 MB whatever N is


@dataclass(frozen=True)
class Chunk:
    ids: np.ndarray  # (c,) int64 company ids
    base: np.ndarray  # (c,) int index into the base set
    vectors: np.ndarray  # (c, dims) float32, unit length


def base_of(base: BaseSet, companies: int, seed: int) -> np.ndarray:
    """Which base company each benchmark company copies."""
    return np.random.default_rng([seed, 0]).integers(len(base), size=companies)


def chunks(base: BaseSet, companies: int, seed: int) -> Iterator[Chunk]:
    which = base_of(base, companies, seed)
    rng = np.random.default_rng([seed, 1])
    dims = base.vectors.shape[1]
    for start in range(0, companies, CHUNK):
        index = which[start : start + CHUNK]
        vectors = base.vectors[index] + rng.standard_normal((len(index), dims), dtype=np.float32) * np.float32(NOISE)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        yield Chunk(np.arange(start + 1, start + 1 + len(index), dtype=np.int64), index, vectors)


def initial_verdicts(base: BaseSet, companies: int, labels: int, seed: int) -> list[tuple[int, Verdict]]:
    """`labels` companies chosen at random, each with its base company's verdict."""
    which = base_of(base, companies, seed)
    chosen = np.sort(np.random.default_rng([seed, 2]).choice(companies, size=min(labels, companies), replace=False))
    return [(int(i) + 1, Verdict.LIKE if base.liked[which[i]] else Verdict.DISLIKE) for i in chosen]


def profile_verdicts(base: BaseSet, companies: int, labels: int, seed: int, number: int) -> list[tuple[int, Verdict]]:
    """The labels of the benchmark's profile `number` (1: the first, `initial_verdicts`). Another
    profile's are drawn independently: `labels` other companies at random, and another notion of
    fit, as many base companies liked but others (the verdicts shuffled over the base companies),
    so that copies of one company still agree, as one team's verdicts do."""
    if number == 1:
        return initial_verdicts(base, companies, labels, seed)
    which = base_of(base, companies, seed)
    liked = base.liked[np.random.default_rng([seed, 4, number]).permutation(len(base))]
    chosen = np.random.default_rng([seed, 2, number]).choice(companies, size=min(labels, companies), replace=False)
    return [(int(i) + 1, Verdict.LIKE if liked[which[i]] else Verdict.DISLIKE) for i in np.sort(chosen)]
