"""The daily record of ranking quality (QualitySnapshot): the trend on the label review page."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import timezone

from leads import quality
from leads.models import QualitySnapshot
from leads.services import scores


def quality_report(*, ks: tuple[int, ...] = quality.DEFAULT_KS, bootstrap: int = 200, seed: int = 1) -> quality.Report:
    """The leave-one-out quality of the current labelled set, headline figures at settings.SCORING_K."""
    labelled = scores.load_labelled_set()
    return quality.evaluate(
        labelled.vectors, labelled.labels, ks=ks, k=settings.SCORING_K, bootstrap=bootstrap, seed=seed
    )


def record_quality(*, report: quality.Report | None = None, date: datetime.date | None = None) -> QualitySnapshot:
    """Store today's figures (replacing any taken earlier today)."""
    report = report or quality_report()
    figures = report.as_dict()
    snapshot, _ = QualitySnapshot.objects.update_or_create(
        date=date or timezone.localdate(),
        defaults={
            "labels": report.labels,
            "liked": report.liked,
            "k": report.k,
            **{
                name: figures.get(name)
                for name in (
                    "auc",
                    "auc_low",
                    "auc_high",
                    "precision_at_20",
                    "precision_at_50",
                    "naive_auc",
                    "uniform_auc",
                )
            },
            "figures": figures,
        },
    )
    return snapshot


def record_quality_if_due() -> QualitySnapshot | None:
    """The sweep's call: one query on most runs; the evaluation itself at most once a day."""
    if QualitySnapshot.objects.filter(date=timezone.localdate()).exists():
        return None
    return record_quality()
