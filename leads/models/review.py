"""Label review: daily quality figures and managers' decisions."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from leads.models.companies import Company
from leads.models.labels import Label


class QualitySnapshot(models.Model):
    """One day's leave-one-out ranking quality of the labels (leads/review/quality.py), for the trend on
    the label review page: written by review.snapshots.record_quality (the sweep, once a day, and
    `evaluate --record`)."""

    profile = models.ForeignKey("leads.Profile", on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    labels = models.PositiveIntegerField()
    liked = models.PositiveIntegerField()
    k = models.PositiveIntegerField()  # the configured k the headline figures are for
    # None where undefined: one class only, or fewer labels than the precision counts.
    auc = models.FloatField(null=True)
    auc_low = models.FloatField(null=True)  # bootstrap interval, 2.5th to 97.5th percentile
    auc_high = models.FloatField(null=True)
    precision_at_20 = models.FloatField(null=True)
    precision_at_50 = models.FloatField(null=True)
    naive_auc = models.FloatField(null=True)  # np.average(labels, weights=distances): the README's bug
    uniform_auc = models.FloatField(null=True)
    figures = models.JSONField(default=dict)  # the whole report: every k, every interval
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["profile", "date"], name="one_quality_snapshot_a_day")]

    def __str__(self) -> str:
        return f"{self.date}: AUC {self.auc}"


class ReviewDecision(models.Model):
    """A manager's "keep: this is right" on a label review entry. The entry stays hidden while the
    labels it was about are the latest ones; any new label on its companies brings it back."""

    class Kind(models.TextChoices):
        SUSPICIOUS = "suspicious", "Suspicious label"
        CONFLICT = "conflict", "Reps disagree"
        DUPLICATE = "duplicate", "Near-duplicates labelled apart"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    # The disliked company of a near-duplicate pair (company is the liked one); None otherwise.
    other = models.ForeignKey(Company, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The latest label of company (and of other) when kept.
    label = models.ForeignKey(Label, null=True, on_delete=models.CASCADE, related_name="+")
    other_label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField(max_length=10, blank=True)  # company's verdict then, for the record
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "company"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.company_id}: kept by {self.user}"
