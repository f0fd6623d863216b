"""The proof's figures: win rates by group, lift over the base rate with a bootstrap interval, the
trend by month. Pure numpy: one entry per decided deal (won or lost) in, plain dicts out.

win rate: won / (won + lost) among a group's deals; base rate: the same over every deal counted;
lift: a group's win rate / the base rate (1: no better than picking at random, 2: twice as many
wins). The interval resamples the deals with replacement (BOOTSTRAP times, a fixed seed, so the
same deals give the same interval) and keeps the 2.5th and 97.5th percentiles of the lift."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from leads.review.quality import bootstrap_interval

BOOTSTRAP = 1000
SEED = 27
TOPS = (0.01, 0.05, 0.10, 0.25)  # rank buckets: the top 1%, 5%, 10%, 25% of the day's scored companies


@dataclass(frozen=True)
class Row:
    group: str
    deals: int
    won: int
    lost: int
    win_rate: float | None  # None: no deals

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Lift:
    group: str
    value: float | None  # the group's win rate / the base rate; None when either is undefined
    low: float | None  # bootstrap 95% interval
    high: float | None
    deals: int  # the group's deals

    def as_dict(self) -> dict:
        return asdict(self)


def row(group: str, won: np.ndarray) -> Row:
    deals, wins = len(won), int(np.count_nonzero(won))
    return Row(group, deals, wins, deals - wins, wins / deals if deals else None)


def by_group(won: np.ndarray, groups: np.ndarray, order: Sequence[str]) -> list[Row]:
    """A row per group in `order` (groups without deals too), for deals whose group is one of them."""
    won, groups = np.asarray(won, bool), np.asarray(groups)
    return [row(group, won[groups == group]) for group in order]


def by_top(won: np.ndarray, top_share: np.ndarray, tops: Sequence[float] = TOPS) -> list[Row]:
    """A row per rank bucket: deals whose company was in the top 1% (5%, ...) of the day's fits."""
    won, top_share = np.asarray(won, bool), np.asarray(top_share, float)
    return [row(f"top {round(top * 100)}%", won[top_share < top]) for top in tops]


def lift(won: np.ndarray, selected: np.ndarray, *, group: str, bootstrap: int = BOOTSTRAP, seed: int = SEED) -> Lift:
    """The selected deals' win rate over every deal's, and its bootstrap 95% interval."""
    won, selected = np.asarray(won, bool), np.asarray(selected, bool)
    value = _lift(won, selected)
    if value is None:
        return Lift(group, None, None, None, int(selected.sum()))
    low, high = bootstrap_interval(won, selected, _lift, resamples=bootstrap, seed=seed)
    return Lift(group, value, low, high, int(selected.sum()))


def _lift(won: np.ndarray, selected: np.ndarray) -> float | None:
    """The selected deals' win rate / every deal's; None where the selection has no deals or nothing was won."""
    if not len(won) or not selected.any() or not won.any():
        return None
    return float(won[selected].mean() / won.mean())


def by_month(won: np.ndarray, months: np.ndarray, selected: np.ndarray) -> list[dict]:
    """Per month (as 'YYYY-MM', oldest first): every deal's win rate and the selected deals'."""
    won, months, selected = np.asarray(won, bool), np.asarray(months), np.asarray(selected, bool)
    trend = []
    for month in sorted(set(months.tolist())):
        here = months == month
        everyone, chosen = row(month, won[here]), row(month, won[here & selected])
        trend.append({"month": month, "deals": everyone.deals, "won": everyone.won, "win_rate": everyone.win_rate,
                      "selected_deals": chosen.deals, "selected_won": chosen.won,
                      "selected_win_rate": chosen.win_rate})  # fmt: skip
    return trend
