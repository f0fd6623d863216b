"""The daily record of ranking quality (QualitySnapshot): the trend on the label review page.

Today's snapshot follows the labels: the sweep records it again whenever the labelled set changed
since (its fingerprint, kept in `figures`), so the trend's last point is never a morning's figures
from two labels while the headline shows the afternoon's."""

from __future__ import annotations

import datetime

from django.utils import timezone

from leads.models import QualitySnapshot
from leads.review import quality
from leads.review import selectors as review

# The snapshot's own columns; the whole report (every k, the fit, the fingerprint) is in `figures`.
COLUMNS = ("auc", "auc_low", "auc_high", "precision_at_20", "precision_at_50", "naive_auc", "uniform_auc")


def quality_report(
    *, profile_id: int, ks: tuple[int, ...] = quality.DEFAULT_KS, bootstrap: int = 200, seed: int = 1
) -> quality.Report:
    """The leave-one-out quality of the profile's labelled set now, headline figures at settings.SCORING_K
    (review.labelled_quality: the review page's very figures, cached until the labels change)."""
    return review.labelled_quality(profile_id=profile_id, ks=ks, bootstrap=bootstrap, seed=seed).report


def record_quality(
    *,
    report: quality.Report | None = None,
    fingerprint: str | None = None,
    date: datetime.date | None = None,
    profile_id: int,
) -> QualitySnapshot:
    """Store today's figures (replacing any taken earlier today): the labelled set's now, or
    `report`, measured on the set of `fingerprint` (None: unknown, the sweep measures again).
    Measured in `profile_id`, and kept as its snapshot."""
    if report is None:
        measured = review.labelled_quality(profile_id=profile_id)
        report, fingerprint = measured.report, measured.fingerprint
    figures = {**report.as_dict(), "fingerprint": fingerprint}
    snapshot, _ = QualitySnapshot.objects.update_or_create(
        profile_id=profile_id,
        date=date or timezone.localdate(),
        defaults={
            "labels": report.labels,
            "liked": report.liked,
            "k": report.k,
            **{name: figures.get(name) for name in COLUMNS},
            "figures": figures,
        },
    )
    return snapshot


def record_quality_if_due(profile_id: int) -> QualitySnapshot | None:
    """The sweep's call: a few queries on most runs; the evaluation (cached with the review page's)
    when today has no snapshot yet or the profile's labelled set changed since today's was taken."""
    taken = (
        QualitySnapshot.objects.filter(profile_id=profile_id, date=timezone.localdate())
        .values_list("figures", flat=True)
        .first()
    )
    if taken is not None and taken.get("fingerprint") == review.labelled_fingerprint(profile_id):
        return None
    return record_quality(profile_id=profile_id)
