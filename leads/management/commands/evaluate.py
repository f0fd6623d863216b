"""Does scoring work for this team? Leave-one-out ranking quality of the current labels.

python manage.py evaluate [--json] [--k 1 3 5 10 25] [--bootstrap 200] [--seed 1] [--record]

Each labelled company is scored from all the other labels only; the figures (leads/review/quality.py)
say how well those scores rank likes above dislikes, for the inverse-distance scorer at each k,
next to the fit (leads/scoring/evidence.py, what the dashboard sorts by), weights = distances (the bug the
README warns about) and uniform weights. The figures are the label review page's (one cache)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from leads.profiles import selectors as profiles
from leads.review import quality
from leads.review import selectors as review
from leads.review import snapshots as quality_service


class Command(BaseCommand):
    help = "Leave-one-out ranking quality of the current labels (ROC AUC, precision at 20 and 50)."

    def add_arguments(self, parser):
        parser.add_argument("--k", nargs="+", type=int, default=list(quality.DEFAULT_KS), dest="ks")
        parser.add_argument("--bootstrap", type=int, default=200, help="resamples for the intervals (0: none)")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")
        parser.add_argument("--record", action="store_true", help="store today's figures for the review page's trend")

    def handle(self, *args, ks, bootstrap, seed, as_json, record, **options):
        if min(ks) < 1 or bootstrap < 0:
            raise CommandError("every --k must be at least 1, --bootstrap at least 0")
        profile_id = profiles.first_id()
        measured = review.labelled_quality(profile_id=profile_id, ks=tuple(ks), bootstrap=bootstrap, seed=seed)
        report = measured.report
        if record:
            quality_service.record_quality(report=report, fingerprint=measured.fingerprint, profile_id=profile_id)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write(table(report))


def table(report: quality.Report) -> str:
    lines = [
        f"{report.labels} labelled companies, {report.liked} liked; each scored from the others only.",
        f"{'k':>4}  {'ROC AUC':<22}{'top 20 liked':<20}{'top 50 liked':<20}{'fit AUC':<9}{'fit top 20':<12}"
        f"{'weights=distances':<19}{'uniform':<8}",
    ]
    for k, figures in sorted(report.per_k.items()):
        lines.append(_row(k, figures, "*" if k == report.k else " "))
    radius = "no radius" if report.radius is None else f"radius {report.radius:.3f}"
    lines += [
        f"* the configured k (SCORING_K); best AUC at k = {report.best_k}. Intervals: {report.bootstrap} bootstrap resamples.",
        f"Fit: the score weighed by how close the neighbours are ({radius}). (top n): fewer labels than n, all of them.",
    ]
    return "\n".join(lines)


def _row(k: int, figures: quality.Figures, mark: str) -> str:
    def top(n: int, by_fit: bool = False) -> str:
        """Precision in the top n, or in the top min(n, labels) saying which while fewer are labelled."""
        read, by_score, fit = figures.top[n]
        shown = _figure(fit if by_fit else by_score, percent=True)
        interval = "" if by_fit or read < n else _interval(*figures.precision_interval[n], percent=True)
        return shown + interval + (f" (top {read})" if read < n and read else "")

    return (
        f"{k:>3}{mark}  {_figure(figures.auc) + _interval(*figures.auc_interval):<22}"
        f"{top(20):<20}{top(50):<20}{_figure(figures.fit_auc):<9}{top(20, by_fit=True):<12}"
        f"{_figure(figures.naive_auc):<19}{_figure(figures.uniform_auc):<8}"
    )


def _figure(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{100 * value:.0f}%" if percent else f"{value:.3f}"


def _interval(low: float | None, high: float | None, percent: bool = False) -> str:
    return "" if low is None else f" ({_figure(low, percent)}–{_figure(high, percent)})"
