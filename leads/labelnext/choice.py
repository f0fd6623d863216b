"""What to label next: the unlabelled companies whose verdict would teach the kNN scorer most.
Pure numpy: no Django, no database (like scoring/knn.py).

A kNN score is only as good as the labelled companies it is made of: one whose nearest labelled
neighbour is far is scored by strangers. So one number ranks the candidates: how much nearer a
verdict would bring labelled ground to the unlabelled companies, counting most where the scores
are uncertain (a weighted coverage, or facility-location, gain):

    gain_i = (1 - 0.8 s_i^2) * mean over unlabelled j of (1 - 0.5 s_j^2) * max(0, d1_j - d_ij)

where d1_j is the cosine distance from j to its nearest labelled company, d_ij the distance from
candidate i to j and s the current kNN scores (in [-1, 1]). It is large for the three reasons a
rep understands, and each pick is given the one that fits it best:

- unexplored: unlike anything labelled yet, its nearest labelled company farther than
  `low_confidence_threshold` (a high percentile of how far labelled companies are from their own
  nearest labelled company): d1 is large around it, so are the terms;
- uncertain: its neighbours disagree (|score| below UNCERTAIN_BELOW): the first factor is ~1,
  not 0.2, and its neighbours' scores near 0 count double;
- influential: otherwise: it is close to many unlabelled companies (many terms).
- confirm: none of those, and it gains nothing (no unlabelled company is nearer to it than to a
  labelled one): a small team runs out of the others before the list is full; its verdict checks
  what the scorer says of it and little else. Last.

docs/evaluation.md compares it with labelling the top of the list and with random labels on the
real YC companies, and says what was tried first (an "expected score change" gain did no better than random).

Diversity: picks are made greedily, and after each pick the unlabelled companies count it as
labelled (d1_j = min(d1_j, d_ij)), so a near-duplicate of a pick gains nothing more and the top of
the list is not ten copies of one company. The gain is a coverage function (submodular): gains
only shrink as picks are made, so a lazy greedy (a heap; only the top entry is re-evaluated) picks
exactly what the plain greedy would, with a few evaluations per pick.

Cost, whatever the number of companies N: at most MAX_CANDIDATES candidates (a random sample
beyond that) are compared with a random reference sample of REFERENCE_SIZE of them, which stands
for "the unlabelled companies": n x R cosine distances (20,000 x 2,000: under a second on one
core). The current scores and nearest labelled distances come from the stored Score rows when the
caller has them; else they are computed here (n x m for m labelled companies).

Cold start (nothing labelled): `spread` picks companies spread over the embedding space, each
standing for a crowd (k-means++ seeding and a few k-means steps on a sample, then the member
nearest each centre, biggest cluster first): never the first rows, never lone outliers.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from leads.scoring.knn import BLOCK_CELLS, cosine_distances, knn_scores, normalise_rows

UNCERTAIN = "uncertain"
UNEXPLORED = "unexplored"
INFLUENTIAL = "influential"
CONFIRM = "confirm"
REASONS = (UNCERTAIN, UNEXPLORED, INFLUENTIAL, CONFIRM)

# How much a confident score discounts a candidate (its own, then its unlabelled neighbours'):
# a candidate among unanimous neighbours still counts for 1 - 0.8 (all likes so far: s = +1 everywhere).
OWN_CERTAINTY_DISCOUNT = 0.8
NEIGHBOUR_CERTAINTY_DISCOUNT = 0.5
# A score this close to 0 means the neighbours disagree: the weights split no more than 3:1.
UNCERTAIN_BELOW = 0.5
# "Unlike anything labelled": farther from the labelled set than this percentile of the labelled
# companies' own distances to their nearest labelled company.
SPACING_PERCENTILE = 90.0
REFERENCE_SIZE = 2_000
MAX_CANDIDATES = 20_000
# Cold start clusters at most this many candidates (a sample beyond): 100 per cluster for 50 picks.
SPREAD_SAMPLE = 5_000
# Cold start: k-means seedings tried, the tightest clustering kept.
KMEANS_RUNS = 4
# Rows of a distance block: keeps each (rows x columns) float64 block to ~16 MB.


@dataclass(frozen=True)
class Ranking:
    """The p = min(limit, n) best candidates, best first, with what each pick is based on."""

    rows: np.ndarray  # (p,) int: rows of the `candidates` array
    reasons: tuple[str, ...]  # (p,) one of REASONS
    gains: np.ndarray  # (p,) gain (mean cosine distance won, weighted) when picked; NaN at cold start
    scores: np.ndarray  # (p,) current kNN score in [-1, 1]; NaN at cold start
    nearest_distances: np.ndarray  # (p,) cosine distance (0..2) to the nearest labelled company; inf at cold start
    # (p,) share of the unlabelled companies it would be the nearest labelled company of; at cold
    # start, the share of the companies its cluster holds.
    reach: np.ndarray
    threshold: float  # low_confidence_threshold of the labelled set (0.0 with fewer than 2 labels, or stored flags)
    reference_size: int = 0  # how many unlabelled companies `reach` is a share of (a sample of them)

    def __len__(self) -> int:
        return len(self.rows)


def low_confidence_threshold(
    labelled: np.ndarray, *, percentile: float = SPACING_PERCENTILE, sample_size: int = REFERENCE_SIZE, seed: int = 0
) -> float:
    """Cosine distance (0..2) beyond which a company is "unlike anything labelled yet".

    The `percentile` of the distances from each labelled company to its nearest *other* labelled
    company (at most `sample_size` of them, sampled, against all): the threshold follows the
    labelled set, tight when it is dense, loose when a few labels are spread out. With fewer than
    two labelled companies there is nothing to compare with and every company is far (0.0)."""
    m = len(labelled)
    if m < 2:
        return 0.0
    vectors = normalise_rows(labelled)
    rows = np.arange(m)
    if m > sample_size:
        rows = np.sort(np.random.default_rng(seed).choice(m, sample_size, replace=False))
    nearest = np.empty(len(rows))
    step = max(1, BLOCK_CELLS // m)
    for start in range(0, len(rows), step):
        block = rows[start : start + step]
        distances = cosine_distances(vectors[block], vectors)
        distances[np.arange(len(block)), block] = np.inf  # not itself (an identical twin still counts)
        nearest[start : start + step] = np.maximum(distances.min(axis=1), 0.0)
    return float(np.percentile(nearest, percentile))


def is_low_confidence(nearest_distance, threshold: float):
    """Whether a score rests on labelled companies unlike it: its nearest labelled neighbour is
    farther (cosine distance) than `threshold`. A bool for a number, a bool array for an array."""
    far = np.asarray(nearest_distance, dtype=np.float64) > threshold
    return bool(far) if far.ndim == 0 else far


def rank(
    candidates: np.ndarray,
    labelled: np.ndarray,
    labels: np.ndarray,
    *,
    limit: int = 50,
    k: int = 10,
    scores: np.ndarray | None = None,
    neighbour_distances: np.ndarray | None = None,
    threshold: float | None = None,
    unexplored: np.ndarray | None = None,
    seed: int = 0,
    reference_size: int = REFERENCE_SIZE,
    max_candidates: int = MAX_CANDIDATES,
) -> Ranking:
    """The `limit` candidates (n, dims) most worth a verdict, given the labelled companies (m, dims)
    and their labels (m,) in {+1, -1}; the spread of `spread` when m = 0.

    `scores` (n,) and `neighbour_distances` (n, k') are the candidates' current kNN scores and
    their neighbours' cosine distances, nearest first (NaN where a row has fewer): pass the stored
    Score arrays to skip the kNN search; if either is None they are computed. `unexplored` (n,)
    bool: the stored Score.unexplored flags (nothing labelled is close); without them a candidate
    is unexplored when its nearest labelled company is farther than `threshold`. Unexplored picks
    come first: a verdict there teaches the scorer about a whole part of the list it knows
    nothing of. Deterministic for a seed."""
    candidates = np.asarray(candidates)
    if len(labelled) == 0 or len(candidates) == 0:
        return spread(candidates, limit, seed=seed)
    rng = np.random.default_rng(seed)
    rows = _sample_rows(len(candidates), max_candidates, rng)
    vectors = normalise_rows(candidates[rows])
    if scores is None or neighbour_distances is None:
        result = knn_scores(vectors, labelled, labels, k, chunk_size=max(1, BLOCK_CELLS // len(labelled)))
        values, distances = result.values, result.distances
    else:
        values = np.asarray(scores, dtype=np.float64)[rows]
        distances = np.asarray(neighbour_distances, dtype=np.float64).reshape(len(candidates), -1)[rows]
    values = np.nan_to_num(values)
    if threshold is None and unexplored is None:  # stored flags need no threshold (an m x m pass)
        threshold = low_confidence_threshold(labelled, seed=seed)
    nearest = nearest_distances(distances)
    reference = _Reference(
        vectors, values, nearest, rng.choice(len(rows), min(reference_size, len(rows)), replace=False)
    )
    picks, gains = _greedy(vectors, values, reference, min(limit, len(rows)))
    far = is_low_confidence(nearest, threshold) if unexplored is None else np.asarray(unexplored, bool)[rows]
    first = np.argsort(~far[picks], kind="stable")  # unexplored first, each group in the greedy's order
    picks, gains = picks[first], gains[first]
    reasons = tuple(_reason(values[i], far[i], gain) for i, gain in zip(picks, gains))
    reach = reference.nearer(vectors[picks], picks)
    return Ranking(
        rows[picks], reasons, gains, values[picks], nearest[picks], reach, float(threshold or 0.0), len(reference.rows)
    )


def nearest_distances(distances: np.ndarray) -> np.ndarray:
    """Each row's nearest neighbour distance, from neighbour distances (NaN where missing; inf when none)."""
    distances = np.atleast_2d(np.asarray(distances, dtype=np.float64))
    return np.where(np.isfinite(distances), distances, np.inf).min(axis=1, initial=np.inf)


class _Reference:
    """The reference sample standing for the unlabelled companies, and how picks change it."""

    def __init__(self, vectors, values, nearest, rows):
        self.rows = rows  # rows of the candidate sample
        self.vectors = vectors[rows]
        # Unlabelled companies with an uncertain score count for more (up to twice).
        self.weights = 1.0 - NEIGHBOUR_CERTAINTY_DISCOUNT * values[rows] ** 2
        self.labelled_nearest = np.minimum(nearest[rows], 2.0)  # to anything labelled; 2 = nothing
        self.nearest = self.labelled_nearest.copy()  # to anything labelled or picked
        self.position = np.full(len(vectors), -1)  # where a candidate sits in the reference, if it does
        self.position[rows] = np.arange(len(rows))

    def _won(self, vectors: np.ndarray, rows: np.ndarray, nearest: np.ndarray | None = None) -> np.ndarray:
        """(candidates, R): how much nearer labelled ground each candidate brings each reference company."""
        distances = cosine_distances(vectors, self.vectors)
        won = np.maximum((self.nearest if nearest is None else nearest) - distances, 0.0)
        own = self.position[rows]
        won[np.flatnonzero(own >= 0), own[own >= 0]] = 0.0  # a candidate does not count itself
        return won

    def gains(self, vectors: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        own = 1.0 - OWN_CERTAINTY_DISCOUNT * values**2
        return own * (self._won(vectors, rows) @ self.weights) / len(self.rows)

    def nearer(self, vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Share of the reference each candidate would be the nearest labelled company of (as labelled now)."""
        return (self._won(vectors, rows, self.labelled_nearest) > 0).mean(axis=1)

    def add(self, vector: np.ndarray) -> None:
        """Count the pick as labelled: it is now the nearest labelled company of those nearer to it.
        (A pick in the reference has distance 0 to itself: it stops counting.)"""
        self.nearest = np.minimum(self.nearest, cosine_distances(self.vectors, vector))


def _greedy(vectors, values, reference: _Reference, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Lazy greedy: the heap holds each candidate's gain as of some pick; gains only shrink, so a
    top entry that is up to date beats every other. Ties go to the lower row."""
    step = max(1, BLOCK_CELLS // len(reference.rows))
    gains = np.concatenate([
        reference.gains(vectors[s : s + step], values[s : s + step], np.arange(s, min(s + step, len(vectors))))
        for s in range(0, len(vectors), step)
    ])  # fmt: skip
    heap = [(-gain, row, 0) for row, gain in enumerate(gains.tolist())]
    heapq.heapify(heap)
    picks, picked_gains = [], []
    while heap and len(picks) < count:
        negative, row, as_of = heapq.heappop(heap)
        if as_of < len(picks):
            gain = reference.gains(vectors[row][None, :], values[row : row + 1], np.array([row]))[0]
            heapq.heappush(heap, (-gain, row, len(picks)))
            continue
        picks.append(row)
        picked_gains.append(-negative)
        reference.add(vectors[row])
    return np.array(picks, dtype=np.int64), np.array(picked_gains)


def _reason(score: float, far: bool, gain: float) -> str:
    if far:
        return UNEXPLORED
    if abs(score) < UNCERTAIN_BELOW:
        return UNCERTAIN
    return INFLUENTIAL if gain > 0 else CONFIRM


def _sample_rows(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size, replace=False))


def spread(
    candidates: np.ndarray, limit: int, *, seed: int = 0, iterations: int = 10, max_candidates: int = SPREAD_SAMPLE
) -> Ranking:
    """Cold start: `limit` candidates spread over the embedding space, each the member nearest the
    centre of a cluster of similar companies (spherical k-means on a sample, k-means++ seeding),
    biggest cluster first. Reason: unexplored."""
    n = len(candidates)
    count = min(limit, n)
    if count == 0:
        empty = np.empty(0)
        return Ranking(np.empty(0, dtype=np.int64), (), empty, empty, empty, empty, 0.0)
    rng = np.random.default_rng(seed)
    rows = _sample_rows(n, max_candidates, rng)
    vectors = normalise_rows(np.asarray(candidates)[rows]).astype(np.float32)  # float32: twice as fast, enough here
    # Best of a few seedings, as scikit-learn's n_init: one unlucky seeding can split a crowd in two
    # and leave a smaller topic out.
    runs = [_kmeans(vectors, _kmeans_plus_plus(vectors, count, rng), iterations) for _ in range(KMEANS_RUNS)]
    centres = max(runs, key=lambda centres: (vectors @ centres.T).max(axis=1).sum())
    similarity = vectors @ centres.T
    cluster = similarity.argmax(axis=1)
    sizes = np.bincount(cluster, minlength=len(centres))
    picks = []
    for c in sorted(np.flatnonzero(sizes), key=lambda c: (-sizes[c], c)):
        members = np.flatnonzero(cluster == c)
        picks.append(members[np.argmax(similarity[members, c])])
    picks = _fill_farthest(vectors, picks, count)
    reach = np.array([sizes[cluster[p]] / len(rows) for p in picks])
    nan = np.full(len(picks), np.nan)
    return Ranking(rows[picks], (UNEXPLORED,) * len(picks), nan, nan, np.full(len(picks), np.inf), reach, 0.0)


def _kmeans_plus_plus(vectors: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Seeds far apart: each next one drawn with probability proportional to its squared distance
    to the nearest seed so far."""
    seeds = [int(rng.integers(len(vectors)))]
    nearest = cosine_distances(vectors, vectors[seeds[0]]).astype(np.float64)
    while len(seeds) < count and nearest.sum() > 0:
        weights = nearest**2  # float64: rng.choice wants probabilities that add up to 1 within 1e-8
        seeds.append(int(rng.choice(len(vectors), p=weights / weights.sum())))
        nearest = np.minimum(nearest, cosine_distances(vectors, vectors[seeds[-1]]))
    return vectors[seeds]


def _kmeans(vectors: np.ndarray, centres: np.ndarray, iterations: int) -> np.ndarray:
    """Spherical k-means (cosine): an empty cluster keeps its centre."""
    for _ in range(iterations):
        membership = np.zeros((len(centres), len(vectors)), dtype=vectors.dtype)
        membership[(vectors @ centres.T).argmax(axis=1), np.arange(len(vectors))] = 1.0
        sums = membership @ vectors  # a matrix product: np.add.at is ~50 times slower
        filled = np.linalg.norm(sums, axis=1) > 0
        centres = np.where(filled[:, None], normalise_rows(sums), centres).astype(vectors.dtype)
    return centres


def _fill_farthest(vectors: np.ndarray, picks: list[int], count: int) -> np.ndarray:
    """Fewer clusters than asked (duplicates): add the rows farthest from every pick so far."""
    picks = list(picks)
    if len(picks) < count:
        nearest = cosine_distances(vectors, vectors[picks]).min(axis=1)
        nearest[picks] = -1.0
        while len(picks) < count:
            row = int(np.argmax(nearest))
            picks.append(row)
            nearest = np.minimum(nearest, cosine_distances(vectors, vectors[row]))
            nearest[picks] = -1.0
    return np.array(picks, dtype=np.int64)
