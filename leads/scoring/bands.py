"""Bands and ranks: what a company's fit (leads/scoring/evidence.py) means for this team. Pure numpy: no Django.

A raw fit says little on its own: with few labels, or one-sided ones, the best company of a team
can fit +0.22. So a fit is read against the team's own distribution of fits:

- rank: the share of scored companies with a higher fit ("top 3% of 48,000");
- band, one definition used by every page, the admin, the API and the export:
  - unexplored: no labelled company is close (Score.unexplored), whatever its fit;
  - strong fit: positive, in the top 5%, and supported (a liked company is close: Score.supported);
  - likely: positive, in the top 25%, and supported;
  - unlikely: negative, and in the bottom half;
  - unsure: everything else.

The sign keeps bands honest: a negative fit is never a fit however high it ranks, a positive
one never "unlikely"; and only a company with a close liked company (evidence.py) is "strong fit"
or "likely", however high its fit ranks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

STRONG_TOP, LIKELY_TOP, UNLIKELY_BOTTOM = 0.05, 0.25, 0.50
# Quantiles kept of the distribution: enough for a rank to the nearest half per cent.
FRACTIONS = np.linspace(0.0, 1.0, 201)


@dataclass(frozen=True)
class Band:
    key: str  # strong / likely / unsure / unlikely: CSS classes, API and CSV values
    label: str  # what a rep reads


STRONG = Band("strong", "strong fit")
LIKELY = Band("likely", "likely")
UNSURE = Band("unsure", "unsure")
UNLIKELY = Band("unlikely", "unlikely")
UNEXPLORED = Band("unexplored", "unexplored")
BANDS = (STRONG, LIKELY, UNSURE, UNLIKELY, UNEXPLORED)
BY_KEY = {band.key: band for band in BANDS}


@dataclass(frozen=True)
class Distribution:
    """The fits of every scored company, as quantiles (values at FRACTIONS, ascending)."""

    quantiles: np.ndarray
    total: int

    @classmethod
    def of(cls, values) -> Distribution:
        values = np.asarray(values, dtype=np.float64)
        if not len(values):
            return cls(np.empty(0), 0)
        return cls(np.quantile(values, FRACTIONS), len(values))

    def top_share(self, value: float) -> float:
        """The share of scored companies with a higher score, 0..1 (0: the best), to the nearest
        half per cent (a step over the quantiles: equal scores share one rank)."""
        if not self.total:
            return 0.0
        at_or_below = np.searchsorted(self.quantiles, value, side="right")
        return float(1.0 - FRACTIONS[at_or_below - 1]) if at_or_below else 1.0

    def cutoffs(self) -> dict[str, float]:
        """The score at the top 5%, the top 25% and the median: the bands' edges (see band())."""
        if not self.total:
            return {"strong": np.inf, "likely": np.inf, "unlikely": -np.inf}
        strong, likely, unlikely = np.interp(
            [1 - STRONG_TOP, 1 - LIKELY_TOP, UNLIKELY_BOTTOM], FRACTIONS, self.quantiles
        )
        return {"strong": float(strong), "likely": float(likely), "unlikely": float(unlikely)}

    def band(self, value: float, unexplored: bool = False, supported: bool = True) -> Band:
        """The one definition of the bands, from a fit, whether nothing labelled is close and
        whether a liked company is close enough to call it a fit; `selectors.band_filter` asks the
        same of the database."""
        if unexplored:
            return UNEXPLORED
        cut = self._cutoffs
        if supported and value > 0 and value >= cut["strong"]:
            return STRONG
        if supported and value > 0 and value >= cut["likely"]:
            return LIKELY
        if value < 0 and value <= cut["unlikely"]:
            return UNLIKELY
        return UNSURE

    def bands(self, values, unexplored, supported) -> np.ndarray:
        """band()'s keys for many fits at once (a day's snapshot of a million, the map's 20,000
        points), in numpy: the same rule, kept equal to band() by tests/test_bands.py."""
        values = np.asarray(values, dtype=np.float64)
        unexplored, supported = np.asarray(unexplored, dtype=bool), np.asarray(supported, dtype=bool)
        cut = self._cutoffs
        return np.select(
            [
                unexplored,
                supported & (values > 0) & (values >= cut["strong"]),
                supported & (values > 0) & (values >= cut["likely"]),
                (values < 0) & (values <= cut["unlikely"]),
            ],
            [UNEXPLORED.key, STRONG.key, LIKELY.key, UNLIKELY.key],
            UNSURE.key,
        )

    @functools.cached_property
    def _cutoffs(self) -> dict[str, float]:
        return self.cutoffs()  # once per distribution: a page asks for a band per row

    def rank_text(self, value: float) -> str:
        """'top 3% of 48,000'; 'bottom 10% of 48,000' in the lower half."""
        return f"{rank_words(self.top_share(value))} of {self.total:,}"

    def histogram(self, bins: int = 20) -> list[dict]:
        """Companies per fit bin from -1 to 1 (estimated from the quantiles: "about"), each with the
        band its middle reaches where a liked company is close (`band`, `band_label`): a bin holds
        unsupported and unexplored companies too, which the page says."""
        edges = np.linspace(-1.0, 1.0, bins + 1)
        if self.total:
            at_or_below = np.searchsorted(self.quantiles, edges, side="right")
            cumulative = np.where(at_or_below > 0, FRACTIONS[np.maximum(at_or_below - 1, 0)], 0.0) * self.total
            cumulative[0], cumulative[-1] = 0.0, self.total
            counts = np.diff(cumulative)
        else:
            counts = np.zeros(bins)
        return [
            {"low": float(a), "high": float(b), "count": round(float(c)), "band": band.key, "band_label": band.label}
            for a, b, c in zip(edges, edges[1:], counts)
            for band in [self.band((a + b) / 2)]
        ]


def rank_words(top: float) -> str:
    """A rank from the share of companies with a higher fit: 'top 3%'; 'bottom 10%' in the lower half."""
    return f"top {_percent(top)}" if top < 0.5 else f"bottom {_percent(1.0 - top)}"


def _percent(share: float) -> str:
    """At least 1%: 'top 0%' reads as broken."""
    return f"{max(1, round(share * 100))}%" if share < 0.995 else "100%"
