"""Score bands and ranks (leads/scoring/bands.py): pure, no database."""

from __future__ import annotations

import numpy as np
import pytest

from leads.scoring.bands import BANDS, Distribution


def spread(low: float, high: float, n: int = 1001) -> Distribution:
    return Distribution.of(np.linspace(low, high, n))


def test_it_bands_a_symmetric_team_by_rank_and_sign():
    team = spread(-0.5, 0.5)
    assert [team.band(v).key for v in (0.5, 0.46, 0.44, 0.3, 0.01, -0.01, -0.5)] == [
        "strong", "strong", "likely", "likely", "unsure", "unlikely", "unlikely",
    ]  # fmt: skip


def test_a_negative_score_is_never_a_fit_and_a_positive_one_never_unlikely():
    gloomy = spread(-0.9, -0.1)  # a team that dislikes almost everything
    assert gloomy.band(-0.1).key == "unsure"  # its best company: top of the list, but negative
    assert {gloomy.band(v).key for v in np.linspace(-0.9, -0.1, 50)} <= {"unsure", "unlikely"}
    sunny = spread(0.1, 0.9)
    assert sunny.band(0.1).key == "unsure"  # its worst: bottom of the list, but positive
    assert "unlikely" not in {sunny.band(v).key for v in np.linspace(0.1, 0.9, 50)}


def test_a_modest_best_score_is_still_a_strong_fit_for_a_team_whose_scores_are_modest():
    demo = spread(-0.3, 0.22)  # the demo: the best company scores +0.22
    assert demo.band(0.22).label == "strong fit"
    assert demo.rank_text(0.22) == "top 1% of 1,001"


def test_it_ranks_from_the_top_and_the_bottom():
    team = spread(0.0, 1.0)
    assert team.rank_text(0.97) == "top 3% of 1,001"
    assert team.rank_text(0.10) == "bottom 10% of 1,001"
    assert team.top_share(1.0) == 0.0 and team.top_share(-1.0) == 1.0


def test_equal_scores_share_one_rank():
    team = Distribution.of([0.5] * 90 + list(np.linspace(-1, 0, 10)))
    assert team.top_share(0.5) == 0.0
    assert team.band(0.5).key == "strong"


def test_the_histogram_counts_every_scored_company_in_its_band():
    team = Distribution.of(np.random.default_rng(3).uniform(-1, 1, 5000))
    bins = team.histogram()
    assert len(bins) == 20 and abs(sum(b["count"] for b in bins) - 5000) <= 20
    assert bins[-1]["band"] == "strong" and bins[0]["band"] == "unlikely"
    assert all(b["count"] > 150 for b in bins)  # uniform: ~250 a bin


def test_nothing_scored_has_no_bands_and_an_empty_histogram():
    empty = Distribution.of([])
    assert empty.total == 0 and empty.band(0.3).key == "unsure"
    assert sum(b["count"] for b in empty.histogram()) == 0


@pytest.mark.parametrize("value", np.linspace(-1, 1, 41))
def test_the_cutoffs_are_the_bands_edges(value):
    """selectors.band_filter asks the database with the cutoffs: they must agree with band()."""
    team = Distribution.of(np.random.default_rng(5).normal(0.1, 0.3, 2000).clip(-1, 1))
    cut = team.cutoffs()
    expected = (
        "strong" if value > 0 and value >= cut["strong"]
        else "likely" if value > 0 and value >= cut["likely"]
        else "unlikely" if value < 0 and value <= cut["unlikely"]
        else "unsure"
    )  # fmt: skip
    assert team.band(value).key == expected
    assert {b.key for b in BANDS} == {"strong", "likely", "unsure", "unlikely", "unexplored"}


def test_it_puts_a_company_nothing_labelled_is_close_to_in_unexplored_whatever_its_fit():
    team = Distribution.of(np.linspace(-1, 1, 201))
    assert team.band(0.99).key == "strong"
    assert team.band(0.99, unexplored=True).key == "unexplored"
    assert team.band(-0.99, unexplored=True).key == "unexplored"


def test_only_a_supported_fit_is_strong_or_likely():
    team = Distribution.of(np.linspace(-1, 1, 201))
    assert team.band(0.99, supported=True).key == "strong" and team.band(0.7, supported=True).key == "likely"
    assert team.band(0.99, supported=False).key == "unsure" and team.band(0.7, supported=False).key == "unsure"


def test_many_fits_at_once_get_the_band_each_gets_alone():
    rng = np.random.default_rng(9)
    team = Distribution.of(rng.normal(0.1, 0.3, 2000).clip(-1, 1))
    values = np.concatenate([rng.uniform(-1, 1, 300), [0.0, team.cutoffs()["strong"], team.cutoffs()["unlikely"]]])
    unexplored, supported = rng.random(len(values)) < 0.2, rng.random(len(values)) < 0.7
    keys = team.bands(values, unexplored, supported)
    cut = team.cutoffs()
    expected = [
        "unexplored" if u
        else "strong" if s and v > 0 and v >= cut["strong"]
        else "likely" if s and v > 0 and v >= cut["likely"]
        else "unlikely" if v < 0 and v <= cut["unlikely"]
        else "unsure"
        for v, u, s in zip(values, unexplored, supported)
    ]  # fmt: skip
    assert keys.tolist() == expected
    assert keys.tolist() == [team.band(v, u, s).key for v, u, s in zip(values, unexplored, supported)]
    assert set(keys) == {"strong", "likely", "unsure", "unlikely", "unexplored"}
    assert Distribution.of([]).bands([0.5], [False], [True]).tolist() == ["unsure"]
