"""Inverse-distance k-nearest-neighbour scores. Pure numpy: no Django, no database.

Every unlabelled company gets the weighted average of the labels (+1 like,
-1 dislike) of its k nearest labelled companies, by cosine distance d (0..2):

    w_i = 1 / d_i          score = sum(w_i * y_i) / sum(w_i)      in [-1, 1]

Why not ``np.average(neighbour_labels, weights=distances)``? Weighting by the
distance itself gives the *farthest* neighbour the most say: a company almost
identical to a liked one (d = 0.05) and far from a disliked one (d = 0.60)
would score (0.05 - 0.60) / 0.65 = -0.85, a confident "dislike". Inverse
distances give (20 - 1.67) / 21.67 = +0.85: the near neighbour dominates, as it
should. A neighbour at d = 0 (the same text) would divide by zero; as in
scikit-learn, when any neighbour sits at distance 0 the score is the mean of
the labels at distance 0 and the others get no weight.

The result equals ``sklearn.neighbors.KNeighborsRegressor(n_neighbors=k,
weights='distance', metric='cosine', algorithm='brute')`` (see tests).
With no labels at all a company is not scored (NaN here, NULL in the database).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Cosine distances below this are float64 rounding noise around an exact match.
ZERO_DISTANCE = 1e-12
# Distances are rounded to this many decimals before neighbours are chosen (see pairwise_distances).
DISTANCE_DECIMALS = 12


@dataclass(frozen=True)
class Scores:
    """Scores of n candidates against m labelled companies, k' = min(k, m) neighbours each."""

    values: np.ndarray  # (n,) float64 in [-1, 1]; NaN = not scored (no labels)
    neighbours: np.ndarray  # (n, k') int: rows of the labelled matrix, nearest first, ties by row
    distances: np.ndarray  # (n, k') float64 cosine distances
    weights: np.ndarray  # (n, k') float64 share of the total weight; rows add up to 1


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]  # no (n, dims) temporary
    return vectors / np.where(norms == 0, 1.0, norms)


def inverse_distance_weights(distances: np.ndarray) -> np.ndarray:
    """Each neighbour's share of the weight, per row: 1/d normalised, or exact matches only."""
    distances = np.asarray(distances, dtype=np.float64)
    exact = distances <= ZERO_DISTANCE
    has_exact = exact.any(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        raw = np.where(has_exact, exact.astype(np.float64), 1.0 / np.where(exact, 1.0, distances))
    return raw / raw.sum(axis=1, keepdims=True)


def knn_scores(
    candidates: np.ndarray,
    labelled: np.ndarray,
    labels: np.ndarray,
    k: int,
    *,
    chunk_size: int = 4096,
) -> Scores:
    """Score each row of `candidates` (n, dims) from `labelled` (m, dims) with `labels` (m,) in {+1, -1}."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    labels = np.asarray(labels, dtype=np.float64)
    n, m = len(candidates), len(labelled)
    if len(labels) != m:
        raise ValueError(f"{m} labelled vectors but {len(labels)} labels")
    k_used = min(k, m)
    if k_used == 0:
        empty = np.empty((n, 0))
        return Scores(np.full(n, np.nan), empty.astype(np.int64), empty, empty)

    labelled = normalise_rows(labelled)
    parts = [
        _score_chunk(candidates[start : start + chunk_size], labelled, labels, k_used)
        for start in range(0, n, chunk_size)
    ]
    if not parts:
        empty = np.empty((0, k_used))
        return Scores(np.empty(0), empty.astype(np.int64), empty, empty)
    fields = ("values", "neighbours", "distances", "weights")
    return Scores(*(np.concatenate([getattr(part, field) for part in parts]) for field in fields))


def _score_chunk(chunk, labelled, labels, k):
    # One float64 matrix product per chunk: exact, and on 2 cores no slower than a
    # float32 pre-selection followed by a float64 re-rank (the gather dominates).
    distances = pairwise_distances(chunk, labelled)
    nearest = nearest_first(distances, k)
    return vote(nearest, np.take_along_axis(distances, nearest, axis=1), labels)


def vote(nearest: np.ndarray, distances: np.ndarray, labels: np.ndarray) -> Scores:
    """The scores from each candidate's chosen neighbours (rows of the labelled set, nearest
    first) and their distances: the one place the weighted vote is computed."""
    weights = inverse_distance_weights(distances)
    # Clip: a unanimous vote can round to 1.0000000000000002.
    values = np.clip((weights * labels[nearest]).sum(axis=1), -1.0, 1.0)
    return Scores(values, nearest, distances, weights)


# Distances computed per block of rows wherever all pairs are too many: at most this many float64
# cells (32 MB) at once.
BLOCK_CELLS = 4_000_000


def cosine_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine distances between unit-length rows of `a` and of `b` (or the one vector `b`), in
    [0, 2]; pairwise_distances also normalises and rounds, for scores."""
    return np.clip(1.0 - a @ b.T, 0.0, 2.0)


def pairwise_distances(candidates: np.ndarray, labelled_normalised: np.ndarray) -> np.ndarray:
    """Cosine distances (n, m), rounded to DISTANCE_DECIMALS.

    The same pair can come out of BLAS a few ulps apart depending on how many rows are
    multiplied at once; rounding makes the full rescore (thousands of rows) and the
    incremental one (a handful) see the same distances, so they pick the same neighbours."""
    distances = normalise_rows(candidates) @ labelled_normalised.T
    # In place: every new (n, m) array costs its page faults, more than the arithmetic.
    np.subtract(1.0, distances, out=distances)
    np.clip(distances, 0.0, 2.0, out=distances)
    return np.round(distances, DISTANCE_DECIMALS, out=distances)


def nearest_first(distances: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k smallest distances per row, nearest first, ties by column.

    Columns are labelled companies in id order, so a tie goes to the lower company id on
    every path (full, incremental, chunked), as the incremental rescore needs."""
    n, m = distances.shape
    if k >= m:
        return np.lexsort((np.broadcast_to(np.arange(m), (n, m)), distances), axis=1)
    nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(distances, nearest, axis=1).max(axis=1)
    # argpartition picks arbitrarily among ties at the k-th distance: redo those rows by (distance, column).
    tied = np.flatnonzero((distances <= kth[:, None]).sum(axis=1) > k)
    for row in tied:
        nearest[row] = np.lexsort((np.arange(m), distances[row]))[:k]
    chosen = np.take_along_axis(distances, nearest, axis=1)
    order = np.lexsort((nearest, chosen), axis=1)
    return np.take_along_axis(nearest, order, axis=1)
