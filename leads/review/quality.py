"""Does scoring work for this team? Leave-one-out ranking quality of the current labels, and
agreement between reps. Pure numpy: no Django, no database, no scikit-learn at run time (the
tests compare every figure with scikit-learn's).

Leave-one-out (LOO): each labelled company is scored from all the *other* labelled companies only,
exactly as `scoring.knn_scores` scores an unlabelled one (same distances, same tie-break by row,
same exact-match rule). Then we ask how well those scores rank the labels:

- ROC AUC: the chance that a liked company scores above a disliked one (ties count half);
  0.5 is a coin, 1.0 perfect. Rank-based (Mann-Whitney U), equal to sklearn's roc_auc_score.
- precision at n: of the n companies with the highest LOO score, the share that are liked
  (ties by row, that is by company id). None with fewer than n labels.

Next to the inverse-distance scorer, two others on the same neighbours, to show what the
weighting is worth:

- naive: ``np.average(labels, weights=distances)``, the bug our README warns about: the
  *farthest* neighbour counts most. Where every neighbour is at distance 0 that average is
  undefined (numpy raises); we take the plain mean there;
- uniform: the plain mean of the k nearest labels.

And beside the score, the fit (leads/scoring/evidence.py: the same k neighbours weighed by how close
they are, with a prior): what the team sorts by. Its LOO AUC and precision say whether ranking by
fit beats ranking by score for this team's labels; they need the team's radius of "close".

Precision at n is undefined with fewer than n labels, which is every team's first days; so each
report also gives the precision in the top min(n, labels) ("liked in top 14"), saying which n.

Bootstrap intervals (2.5th to 97.5th percentile) resample the labelled companies with
replacement, keeping each one's LOO score: how much the figure depends on which companies
happen to be labelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from leads.scoring import evidence
from leads.scoring.knn import BLOCK_CELLS, inverse_distance_weights, nearest_first, normalise_rows, pairwise_distances

DEFAULT_KS = (1, 3, 5, 10, 25)
TOP_N = (20, 50)
WEIGHTINGS = ("inverse", "naive", "uniform")
SCORE_DECIMALS = 12


@dataclass(frozen=True)
class LeaveOneOut:
    """The k_max nearest *other* labelled companies of each labelled company (rows of the labelled
    matrix, nearest first, ties by row): every LOO score up to k_max is read off these."""

    neighbours: np.ndarray  # (m, k') int, k' = min(k_max, m - 1); never the row itself
    distances: np.ndarray  # (m, k') float64 cosine distances, 0..2
    labels: np.ndarray  # (m,) +1 like / -1 dislike

    def scores(self, k: int, weighting: str = "inverse") -> np.ndarray:
        """(m,) LOO scores from the k nearest others (fewer when fewer are labelled); NaN with none."""
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        k = min(k, self.neighbours.shape[1])
        if k < 1:
            return np.full(len(self.labels), np.nan)
        distances = self.distances[:, :k]
        votes = self.labels[self.neighbours[:, :k]]
        if weighting == "inverse":
            weights = inverse_distance_weights(distances)
        elif weighting == "naive":
            total = distances.sum(axis=1, keepdims=True)
            weights = np.where(total > 0, distances / np.where(total > 0, total, 1.0), 1.0 / k)
        else:
            weights = np.full(distances.shape, 1.0 / k)
        # Rounded: a unanimous vote must tie with another unanimous vote (the weights can add up to
        # 1 - 1e-16), or the AUC would rank float noise.
        return np.round(np.clip((weights * votes).sum(axis=1), -1.0, 1.0), SCORE_DECIMALS)

    def fits(self, k: int, radius: float) -> np.ndarray:
        """(m,) LOO fits (evidence.of_neighbours) from the k nearest others at `radius` (cosine
        distance), as the rescore weighs an unlabelled company; NaN with no other label."""
        k = min(k, self.neighbours.shape[1])
        if k < 1:
            return np.full(len(self.labels), np.nan)
        weighed = evidence.of_neighbours(self.distances[:, :k], self.labels[self.neighbours[:, :k]], radius)
        return np.round(weighed.fit, SCORE_DECIMALS)  # as scores: equal fits must tie


def leave_one_out(
    vectors: np.ndarray, labels: np.ndarray, k_max: int, *, block_cells: int = BLOCK_CELLS
) -> LeaveOneOut:
    """Nearest other labelled companies of each of the m labelled `vectors` (m, dims), in blocks of
    rows (m x m distances never held at once; 20,000 labels: ~40 MB at a time)."""
    labels = np.asarray(labels, dtype=np.float64)
    m = len(labels)
    k = max(0, min(k_max, m - 1))
    if k == 0:
        empty = np.empty((m, 0))
        return LeaveOneOut(empty.astype(np.int64), empty, labels)
    unit = normalise_rows(vectors)
    step = max(1, block_cells // m)
    neighbours, distances = np.empty((m, k), dtype=np.int64), np.empty((m, k))
    for start in range(0, m, step):
        rows = np.arange(start, min(start + step, m))
        block = pairwise_distances(unit[rows], unit)
        block[np.arange(len(rows)), rows] = np.inf  # not itself: an identical twin still counts
        nearest = nearest_first(block, k)
        neighbours[rows] = nearest
        distances[rows] = np.take_along_axis(block, nearest, axis=1)
    return LeaveOneOut(neighbours, distances, labels)


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """ROC AUC of `scores` for labels +1 (positive) / -1; None unless both are present.
    Mann-Whitney U over average ranks, so tied scores count half, as in scikit-learn."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(labels) > 0
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(scores)
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given the mean of their ranks (scipy.stats.rankdata's 'average')."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]  # exclusive
    mean_rank = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def precision_at(scores: np.ndarray, labels: np.ndarray, n: int) -> float | None:
    """Share of likes among the n highest `scores` (ties by position); None with fewer than n."""
    if len(scores) < n or n < 1:
        return None
    top = np.lexsort((np.arange(len(scores)), -np.asarray(scores)))[:n]
    return float((np.asarray(labels)[top] > 0).mean())


def bootstrap_interval(
    scores: np.ndarray, labels: np.ndarray, metric, *, resamples: int, seed: int
) -> tuple[float | None, float | None]:
    """(2.5th, 97.5th percentile) of `metric(scores, labels)` over `resamples` resamples of the rows
    (of both arrays alike) with replacement; (None, None) when no resample gives a figure (the
    metric returns None or NaN where it is undefined) or resamples is 0. The one bootstrap of the
    project: the review's figures and the outcomes report's lift (outcomes.figures) use it."""
    rng = np.random.default_rng(seed)
    m = len(scores)
    figures = []
    for _ in range(resamples if m else 0):
        rows = rng.integers(0, m, m)
        figure = metric(scores[rows], labels[rows])
        if figure is not None and np.isfinite(figure):
            figures.append(figure)
    if not figures:
        return None, None
    low, high = np.percentile(figures, [2.5, 97.5])
    return float(low), float(high)


@dataclass(frozen=True)
class Figures:
    """Ranking quality of the LOO scores at one k; None where undefined (one class, too few labels,
    no radius given for the fit)."""

    k: int
    auc: float | None
    auc_interval: tuple[float | None, float | None]
    precision: dict[int, float | None]  # {20: ..., 50: ...}
    precision_interval: dict[int, tuple[float | None, float | None]]
    naive_auc: float | None
    naive_precision: dict[int, float | None]
    uniform_auc: float | None
    uniform_precision: dict[int, float | None]
    fit_auc: float | None = None  # the same, ranking by LOO fit instead of LOO score
    fit_precision: dict[int, float | None] = field(default_factory=dict)
    # Precision in the top min(n, labels): {20: (14, 0.71)} with 14 labels. (n read, by score, by fit).
    top: dict[int, tuple[int, float | None, float | None]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        figures = {"k": self.k, "auc": self.auc, "auc_low": self.auc_interval[0], "auc_high": self.auc_interval[1]}
        for n in self.precision:
            figures[f"precision_at_{n}"] = self.precision[n]
            figures[f"precision_at_{n}_low"], figures[f"precision_at_{n}_high"] = self.precision_interval[n]
        figures["naive_auc"] = self.naive_auc
        figures.update({f"naive_precision_at_{n}": v for n, v in self.naive_precision.items()})
        figures["uniform_auc"] = self.uniform_auc
        figures.update({f"uniform_precision_at_{n}": v for n, v in self.uniform_precision.items()})
        figures["fit_auc"] = self.fit_auc
        figures.update({f"fit_precision_at_{n}": v for n, v in self.fit_precision.items()})
        for n, (read, by_score, by_fit) in self.top.items():
            figures[f"top_{n}"] = read
            figures[f"precision_in_top_{n}"], figures[f"fit_precision_in_top_{n}"] = by_score, by_fit
        return figures


@dataclass(frozen=True)
class Report:
    labels: int
    liked: int
    k: int  # the configured k (settings.SCORING_K): the headline figures
    best_k: int | None  # the k with the highest AUC
    per_k: dict[int, Figures] = field(default_factory=dict)
    bootstrap: int = 0
    seed: int = 0
    radius: float | None = None  # what the fits were weighed with (cosine distance); None: no fit figures

    @property
    def headline(self) -> Figures | None:
        return self.per_k.get(self.k)

    def as_dict(self) -> dict:
        """One flat object for `evaluate --json` and the daily snapshot: the configured k's figures
        at the top level, every k's under "per_k"."""
        headline = self.headline.as_dict() if self.headline else {}
        return {
            **headline,
            "k": self.k,
            "best_k": self.best_k,
            "labels": self.labels,
            "liked": self.liked,
            "like_share": self.liked / self.labels if self.labels else None,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "radius": self.radius,
            "per_k": {str(k): figures.as_dict() for k, figures in sorted(self.per_k.items())},
        }


def evaluate(
    vectors: np.ndarray,
    labels: np.ndarray,
    *,
    ks: tuple[int, ...] = DEFAULT_KS,
    k: int = 10,
    top_n: tuple[int, ...] = TOP_N,
    bootstrap: int = 200,
    seed: int = 1,
    radius: float | None = None,
) -> Report:
    """The LOO ranking quality of the labelled set (`vectors` (m, dims), `labels` (m,) +1/-1) at
    each of `ks` and the configured `k` (always included); the fit's too given the team's
    `radius` (cosine distance, as evidence.of_neighbours takes it)."""
    labels = np.asarray(labels, dtype=np.float64)
    ks = measured_ks(ks, k)
    loo = leave_one_out(vectors, labels, max(ks))
    return report_of(loo, ks=ks, k=k, top_n=top_n, bootstrap=bootstrap, seed=seed, radius=radius)


def measured_ks(ks: tuple[int, ...], k: int) -> tuple[int, ...]:
    """The ks a report measures: `ks` and the configured `k`, ascending; the LOO must reach the last."""
    ks = tuple(sorted(set(ks) | {k}))
    if min(ks) < 1:
        raise ValueError(f"every k must be at least 1, got {ks}")
    return ks


def report_of(
    loo: LeaveOneOut,
    *,
    ks: tuple[int, ...],
    k: int,
    top_n: tuple[int, ...] = TOP_N,
    bootstrap: int = 200,
    seed: int = 1,
    radius: float | None = None,
) -> Report:
    """`evaluate` from a LOO already found (reaching max(ks)): a caller that needs the neighbours
    too (the review page) finds them once."""
    per_k = {each: _figures(loo, each, top_n, bootstrap, seed, radius) for each in ks}
    aucs = {each: figures.auc for each, figures in per_k.items() if figures.auc is not None}
    return Report(
        labels=len(loo.labels),
        liked=int((loo.labels > 0).sum()),
        k=k,
        best_k=max(aucs, key=lambda each: (aucs[each], -each)) if aucs else None,
        per_k=per_k,
        bootstrap=bootstrap,
        seed=seed,
        radius=radius,
    )


def _figures(
    loo: LeaveOneOut, k: int, top_n: tuple[int, ...], bootstrap: int, seed: int, radius: float | None
) -> Figures:
    labels = loo.labels
    scores = {weighting: loo.scores(k, weighting) for weighting in WEIGHTINGS}
    if len(labels) and np.isnan(scores["inverse"]).any():  # a single label: nothing to score it from
        scores = {weighting: np.empty(0) for weighting in WEIGHTINGS}
        labels = np.empty(0)
    fits = loo.fits(k, radius) if radius is not None and len(labels) else None

    def precision(weighting: str) -> dict[int, float | None]:
        return {n: precision_at(scores[weighting], labels, n) for n in top_n}

    ours = scores["inverse"]
    return Figures(
        k=k,
        auc=roc_auc(ours, labels),
        auc_interval=bootstrap_interval(ours, labels, roc_auc, resamples=bootstrap, seed=seed),
        precision=precision("inverse"),
        precision_interval={
            n: bootstrap_interval(ours, labels, lambda s, y, n=n: precision_at(s, y, n), resamples=bootstrap, seed=seed)
            for n in top_n
        },
        naive_auc=roc_auc(scores["naive"], labels),
        naive_precision=precision("naive"),
        uniform_auc=roc_auc(scores["uniform"], labels),
        uniform_precision=precision("uniform"),
        fit_auc=None if fits is None else roc_auc(fits, labels),
        fit_precision={n: None if fits is None else precision_at(fits, labels, n) for n in top_n},
        top={n: _top(ours, fits, labels, n) for n in top_n},
    )


def _top(
    scores: np.ndarray, fits: np.ndarray | None, labels: np.ndarray, n: int
) -> tuple[int, float | None, float | None]:
    """(min(n, labels), precision there by score, by fit): a figure from the first labels on."""
    read = min(n, len(labels))
    by_fit = None if fits is None else precision_at(fits, labels, read)
    return read, precision_at(scores, labels, read), by_fit


def cohen_kappa(first: list[str] | np.ndarray, second: list[str] | np.ndarray) -> float:
    """Cohen's kappa of two raters' verdicts on the same items: 1 full agreement, 0 what chance
    alone gives, below 0 worse than chance. NaN where chance agreement is already total (both
    gave one and the same verdict to everything), as scikit-learn's cohen_kappa_score."""
    first, second = np.asarray(first), np.asarray(second)
    if len(first) != len(second):
        raise ValueError(f"{len(first)} verdicts against {len(second)}")
    if len(first) == 0:
        return float("nan")
    categories = np.union1d(first, second)
    observed = float((first == second).mean())
    expected = float(sum((first == c).mean() * (second == c).mean() for c in categories))
    if expected == 1.0:
        return float("nan")
    return (observed - expected) / (1.0 - expected)
