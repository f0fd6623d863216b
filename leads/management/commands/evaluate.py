"""Does scoring work for this team? Leave-one-out ranking quality of the current labels.

python manage.py evaluate [--json] [--k 1 3 5 10 25] [--bootstrap 200] [--seed 1] [--record]

Each labelled company is scored from all the other labels only; the figures (leads/quality.py)
say how well those scores rank likes above dislikes, for the inverse-distance scorer at each k,
next to weights = distances (the bug the README warns about) and uniform weights."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from leads import quality
from leads.services import quality as quality_service


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
        report = quality_service.quality_report(ks=tuple(ks), bootstrap=bootstrap, seed=seed)
        if record:
            quality_service.record_quality(report=report)
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write(table(report))


def table(report: quality.Report) -> str:
    def f(value, percent=False):
        if value is None:
            return "—"
        return f"{100 * value:.0f}%" if percent else f"{value:.3f}"

    def interval(low, high, percent=False):
        return "" if low is None else f" ({f(low, percent)}–{f(high, percent)})"

    lines = [
        f"{report.labels} labelled companies, {report.liked} liked; each scored from the others only.",
        f"{'k':>4}  {'ROC AUC':<22}{'top 20 liked':<20}{'top 50 liked':<20}{'weights=distances':<19}{'uniform':<8}",
    ]
    for k, figures in sorted(report.per_k.items()):
        mark = "*" if k == report.k else " "
        lines.append(
            f"{k:>3}{mark}  {f(figures.auc) + interval(*figures.auc_interval):<22}"
            f"{f(figures.precision[20], True) + interval(*figures.precision_interval[20], True):<20}"
            f"{f(figures.precision[50], True) + interval(*figures.precision_interval[50], True):<20}"
            f"{f(figures.naive_auc):<19}{f(figures.uniform_auc):<8}"
        )
    lines.append(
        f"* the configured k (SCORING_K); best AUC at k = {report.best_k}. Intervals: {report.bootstrap} bootstrap resamples."
    )
    return "\n".join(lines)
