"""Evidence and fit: how much labelled ground a kNN score stands on, and the number the team sorts
by. Pure numpy: no Django, no database (like scoring/knn.py).

A kNN score is a weighted average whose weights are normalised: ten labelled neighbours all at
cosine distance 0.7 ("not close at all") give the same score as ten at 0.1. So a company far from
everything labelled still scores like the majority of the labels, and a team that starts with
mostly likes sees unrelated companies as "strong fit". The score stays as it is (scikit-learn's
`KNeighborsRegressor(weights='distance')`, knn.py); beside it, from the same k neighbours:

- evidence: each labelled neighbour counts for K(d) = exp(-(d / radius)^2) of a company: 1 at the
  same place, 0.37 at `radius`, 0.02 at twice it. The evidence is their sum, in "labelled
  companies' worth" (0..k).
- fit: the neighbours' labels weighted by K, with a prior worth PRIOR_WEIGHT of a company at
  PRIOR_LABEL (a company nobody labelled anything like is, for a team, more likely not a customer):

      fit = (sum K_i * y_i + PRIOR_WEIGHT * PRIOR_LABEL) / (sum K_i + PRIOR_WEIGHT)      in [-1, 1]

  Close, agreeing neighbours give a fit near their label; far ones give the prior.
- unexplored: no labelled neighbour within UNEXPLORED_BEYOND radii: nothing labelled is close,
  whatever the score says. Fit is never positive without a liked company within LIKED_WITHIN radii:
  it is no fit until someone labels a company like it.
- supported: a liked company within SUPPORTED_WITHIN radii, closer than LIKED_WITHIN. Fit orders the
  list (its ranking is measured best with the wider reach), but only a supported company is called
  "strong fit" or "likely" (bands.py): a band is a claim a rep acts on, and it was measured more
  precise with the closer evidence (docs/evaluation.md).

The radius is the team's own scale of "close", not a constant: encoders and languages spread
companies very differently (MiniLM puts Japanese company descriptions 0.28 apart, English ones
0.61). It is RADIUS_SHARE of the distance within which a company typically finds its nearest
NEIGHBOURHOOD_SHARE of the team's companies (`radius_of`), which on every set measured is the
typical distance between labelled companies too (docs/evaluation.md). It depends on the companies
and the encoder, not on the labels, so a verdict changes only the fits whose neighbours it changes,
and the incremental rescore stays exact.

Constants picked on three YC profiles with seeds 1-4 and reported on the rest, on French and
Japanese sets, with `manage.py evaluate_fit` (docs/evaluation.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leads.scoring.knn import cosine_distances

RADIUS_SHARE = 0.8
NEIGHBOURHOOD_SHARE = 0.01
PRIOR_WEIGHT = 0.3
EXPONENT = 2
PRIOR_LABEL = -0.5
UNEXPLORED_BEYOND = 1.5
LIKED_WITHIN = 1.5
SUPPORTED_WITHIN = 1.25
# Companies sampled to measure the radius: 800 against 4,000 distances, a small fraction of a pass.
RADIUS_QUERIES, RADIUS_REFERENCE = 800, 4_000


@dataclass(frozen=True)
class Evidence:
    """Fit and evidence of n scored companies (see the module docstring)."""

    fit: np.ndarray  # (n,) float64 in [-1, 1]
    evidence: np.ndarray  # (n,) float64, 0..k: labelled companies' worth of close neighbours
    unexplored: np.ndarray  # (n,) bool: the nearest labelled company is farther than UNEXPLORED_BEYOND radii
    supported: np.ndarray  # (n,) bool: a liked company within SUPPORTED_WITHIN radii, what a band of fit needs


def closeness(distances: np.ndarray, radius: float) -> np.ndarray:
    """K(d) = exp(-(d / radius)^2) per neighbour: what one labelled company at cosine distance d counts for."""
    distances = np.asarray(distances, dtype=np.float64)
    return np.exp(-((distances / radius) ** EXPONENT))


def of_neighbours(distances: np.ndarray, labels: np.ndarray, radius: float) -> Evidence:
    """Fit and evidence from each company's k neighbours: cosine `distances` (n, k) and their
    `labels` (n, k) in {+1, -1}, as the kNN score keeps them (a company with no neighbours has
    evidence 0 and the prior as its fit)."""
    distances = np.atleast_2d(np.asarray(distances, dtype=np.float64))
    labels = np.atleast_2d(np.asarray(labels, dtype=np.float64)).reshape(distances.shape)
    weights = closeness(distances, radius) if distances.size else np.zeros(distances.shape)
    evidence = weights.sum(axis=1)
    fit = ((weights * labels).sum(axis=1) + PRIOR_WEIGHT * PRIOR_LABEL) / (evidence + PRIOR_WEIGHT)
    unexplored = ~(distances <= UNEXPLORED_BEYOND * radius).any(axis=1)
    close_like = ((distances <= LIKED_WITHIN * radius) & (labels > 0)).any(axis=1)
    fit = np.where(close_like, fit, np.minimum(fit, 0.0))  # no fit without a close liked company
    supported = ((distances <= SUPPORTED_WITHIN * radius) & (labels > 0)).any(axis=1)
    return Evidence(np.clip(fit, -1.0, 1.0), evidence, unexplored, supported)


def radius_of(vectors: np.ndarray, *, seed: int = 0) -> float:
    """The team's "close", cosine distance: RADIUS_SHARE of the median over sampled companies of the
    distance holding their nearest NEIGHBOURHOOD_SHARE of the companies (`vectors` (n, dims), unit
    length or not). 1.0 with fewer than two companies (nothing to compare)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    n = len(vectors)
    if n < 2:
        return 1.0
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(seed)
    asked = rng.choice(n, min(n, RADIUS_QUERIES), replace=False)
    against = rng.choice(n, min(n, RADIUS_REFERENCE), replace=False)
    distances = cosine_distances(vectors[asked], vectors[against])
    distances[asked[:, None] == against[None, :]] = np.nan  # not itself: a small team has few others
    within = np.nanquantile(distances, NEIGHBOURHOOD_SHARE, axis=1)
    return float(max(RADIUS_SHARE * np.median(within), 1e-6))
