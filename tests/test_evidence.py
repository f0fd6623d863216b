"""leads/scoring/evidence.py: fit and evidence from a company's labelled neighbours, by hand."""

import numpy as np
import pytest

from leads.scoring import evidence
from leads.scoring.knn import knn_scores


def closeness(d, radius):
    return np.exp(-((d / radius) ** evidence.EXPONENT))


def test_ten_far_neighbours_are_not_ten_close_ones():
    """The plain score's blind spot: normalised weights give both the same score; fit does not."""
    labels = np.ones((2, 10))
    distances = np.array([[0.1] * 10, [0.7] * 10])
    weighed = evidence.of_neighbours(distances, labels, radius=0.4)
    near, far = weighed.fit
    assert near > 0.9 and far <= 0.0  # all liked, but far away: no fit
    assert weighed.evidence[0] == pytest.approx(10 * closeness(0.1, 0.4))
    assert weighed.unexplored.tolist() == [False, True] and weighed.supported.tolist() == [True, False]


def test_fit_is_the_closeness_weighted_vote_with_the_prior():
    d = np.array([[0.2, 0.3, 0.5]])
    y = np.array([[1.0, -1.0, 1.0]])
    k = closeness(d[0], 0.4)
    expected = (k @ y[0] + evidence.PRIOR_WEIGHT * evidence.PRIOR_LABEL) / (k.sum() + evidence.PRIOR_WEIGHT)
    weighed = evidence.of_neighbours(d, y, radius=0.4)
    assert weighed.fit[0] == pytest.approx(expected)
    assert weighed.evidence[0] == pytest.approx(k.sum())


def test_a_company_is_never_a_fit_without_a_liked_neighbour_close_enough():
    radius = 0.4
    just_out = evidence.LIKED_WITHIN * radius + 1e-6
    # A close dislike makes it explored; the only like is just beyond reach.
    weighed = evidence.of_neighbours(np.array([[0.1, just_out]]), np.array([[-1.0, 1.0]]), radius)
    assert not weighed.unexplored[0] and weighed.fit[0] <= 0.0 and not weighed.supported[0]


def test_a_score_with_no_neighbours_gets_the_prior_and_no_evidence():
    weighed = evidence.of_neighbours(np.empty((2, 0)), np.empty((2, 0)), radius=0.5)
    assert weighed.evidence.tolist() == [0.0, 0.0] and weighed.unexplored.all()
    assert weighed.fit == pytest.approx([evidence.PRIOR_LABEL] * 2)


def test_fit_orders_a_like_heavy_start_better_than_the_plain_score():
    """Liked companies around one centre, a few dislikes around another; candidates near the likes
    are fits, far ones (a third centre nothing labelled is near) are not. The plain score puts the
    far ones at the likes' majority, fit puts them below every close fit."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 32))

    def around(centre, n, spread=0.35):
        return centres[centre] + spread * rng.normal(size=(n, 32))

    labelled = np.vstack([around(0, 8), around(1, 2)])
    labels = np.array([1.0] * 8 + [-1.0] * 2)
    fits, strangers = around(0, 20), around(2, 20)
    found = knn_scores(np.vstack([fits, strangers]), labelled, labels, k=10)
    radius = evidence.radius_of(np.vstack([labelled, fits, strangers]))
    weighed = evidence.of_neighbours(found.distances, labels[found.neighbours], radius)
    assert found.values[20:].min() > 0.3  # the blind spot: strangers score like the majority
    assert weighed.fit[:20].min() > weighed.fit[20:].max()
    assert weighed.unexplored[20:].all() and weighed.unexplored[:20].mean() < 0.5


def test_the_radius_is_the_team_s_own_scale_and_leaves_each_company_out():
    rng = np.random.default_rng(0)
    tight = rng.normal(size=(1, 64)) + 0.05 * rng.normal(size=(300, 64))
    loose = rng.normal(size=(1, 64)) + 0.5 * rng.normal(size=(300, 64))
    assert evidence.radius_of(tight) < evidence.radius_of(loose)
    pairs = np.repeat(rng.normal(size=(5, 64)), 2, axis=0) + 1e-3 * rng.normal(size=(10, 64))
    assert 0 < evidence.radius_of(pairs) < 0.1  # the twin, not the company itself (0) or a stranger (~1)
    assert evidence.radius_of(pairs) == evidence.radius_of(pairs)  # the same companies, the same radius
    assert evidence.radius_of(pairs[:1]) == 1.0
