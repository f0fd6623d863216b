"""The review page's figures of ranking quality: which k suits the team, and the trend of the
daily snapshots with today's point from the labels as they are now (review.labelled_quality, the
one measurement the page shows)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from leads.models import QualitySnapshot
from leads.review import quality

TREND_DAYS = 90


@dataclass(frozen=True)
class TopFigure:
    """Liked among the n highest LOO scores (and fits); while fewer than n are labelled, among the
    top `read` = all of them, saying so: a team's first days have a figure too."""

    n: int  # asked: 20, 50
    read: int  # min(n, labelled companies scored)
    precision: float | None  # by score; None with nothing scored
    fit_precision: float | None  # by fit

    @property
    def partial(self) -> bool:
        return self.read < self.n


@dataclass(frozen=True)
class QualityAtK:
    k: int
    auc: float | None
    auc_low: float | None
    auc_high: float | None
    naive_auc: float | None
    uniform_auc: float | None
    fit_auc: float | None  # ranking by LOO fit (leads/scoring/evidence.py) instead of LOO score
    top: tuple[TopFigure, ...]

    @property
    def distinct_top(self) -> tuple[TopFigure, ...]:
        """`top` less figures over the same companies (with 17 labels, top 20 and top 50 both read 17)."""
        return tuple(t for i, t in enumerate(self.top) if i == 0 or t.read != self.top[i - 1].read)


@dataclass(frozen=True)
class QualityByK:
    labels: int
    liked: int
    k: int  # the configured k (settings.SCORING_K)
    best_k: int | None
    rows: list[QualityAtK]

    @property
    def headline(self) -> QualityAtK:
        """The row of the k in use: the page's headline is this very row."""
        return next(row for row in self.rows if row.k == self.k)


def quality_by_k(report: quality.Report) -> QualityByK:
    """The report's figures at every k measured, for the page: which k suits this team, and what
    the naive and uniform weights and the fit would give."""
    rows = [_at(figures) for _, figures in sorted(report.per_k.items())]
    return QualityByK(report.labels, report.liked, report.k, report.best_k, rows)


def _at(figures: quality.Figures) -> QualityAtK:
    low, high = figures.auc_interval
    top = tuple(TopFigure(n, *figures.top[n]) for n in sorted(figures.top))
    return QualityAtK(figures.k, figures.auc, low, high, figures.naive_auc, figures.uniform_auc, figures.fit_auc, top)


@dataclass(frozen=True)
class TrendPoint:
    date: datetime.date
    auc: float | None
    precision_at_20: float | None
    fit_auc: float | None


@dataclass(frozen=True)
class TrendChart:
    """An inline SVG chart of the daily figures, 0 to 1: AUC, precision at 20 and fit AUC, one
    point a day; today's is the labels as they are now. Each series' latest point is a dot, so a
    first day (no line yet) still shows."""

    width: int
    height: int
    auc_points: str  # "x,y x,y ..." for a <polyline>
    precision_points: str
    fit_points: str
    dots: list[tuple[str, str, str]]  # (series, x, y) of each series' latest point, for a <circle>
    chance_y: float  # where AUC 0.5 (a coin) is drawn
    first: TrendPoint
    last: TrendPoint

    @property
    def single(self) -> bool:
        return self.first.date == self.last.date


SERIES = ("auc", "precision_at_20", "fit_auc")


def quality_trend(
    report: quality.Report, *, profile_id: int, days: int = TREND_DAYS, width: int = 600, height: int = 120
) -> TrendChart | None:
    """The profile's daily snapshots before today, then today's figures from `report` (its labels now)."""
    points = _trend_points(report, days, profile_id)
    if not any(getattr(p, series) is not None for p in points for series in SERIES):
        return None
    pad = 6
    span = max((points[-1].date - points[0].date).days, 1)

    def xy(point: TrendPoint, value: float) -> tuple[str, str]:
        x = pad + (width - 2 * pad) * (point.date - points[0].date).days / span
        return f"{x:.1f}", f"{pad + (height - 2 * pad) * (1.0 - value):.1f}"

    lines = {s: [xy(p, getattr(p, s)) for p in points if getattr(p, s) is not None] for s in SERIES}
    joined = {series: " ".join(f"{x},{y}" for x, y in drawn) for series, drawn in lines.items()}
    return TrendChart(
        width,
        height,
        joined["auc"],
        joined["precision_at_20"],
        joined["fit_auc"],
        dots=[(series, *drawn[-1]) for series, drawn in lines.items() if drawn],
        chance_y=pad + (height - 2 * pad) * 0.5,
        first=points[0],
        last=points[-1],
    )


def _trend_points(report: quality.Report, days: int, profile_id: int) -> list[TrendPoint]:
    today = timezone.localdate()
    taken = QualitySnapshot.objects.filter(profile_id=profile_id, date__lt=today)
    earlier = list(taken.order_by("-date")[: days - 1])[::-1]
    points = [TrendPoint(s.date, s.auc, s.precision_at_20, (s.figures or {}).get("fit_auc")) for s in earlier]
    now = report.headline
    if now is not None:
        points.append(TrendPoint(today, now.auc, now.precision.get(20), now.fit_auc))
    return points
