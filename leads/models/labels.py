"""The verdicts reps give: their vocabulary and their history, the latest one current."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Subquery


class Verdict(models.TextChoices):
    LIKE = "like", "Liked"
    DISLIKE = "dislike", "Disliked"
    CLEAR = "clear", "Cleared"


class LabelSource(models.TextChoices):
    """Where a verdict came from, so that imported verdicts and a rep's own can be told apart."""

    CLICK = "click", "Dashboard click"
    API = "api", "API call"
    IMPORT = "import", "Import"
    ADMIN = "admin", "Admin action"
    OUTCOME = "outcome", "CRM outcome"  # a won or lost deal, while outcomes count as verdicts
    # A team verdict given back when outcomes stop counting (outcomes.services.restore_rep_verdicts):
    # neither a rep's new opinion nor a manager's settling.
    RESTORED = "restored", "Restored after outcomes"


# The value a verdict contributes to a neighbour's score.
VERDICT_VALUE = {Verdict.LIKE: 1.0, Verdict.DISLIKE: -1.0}


class LabelQuerySet(models.QuerySet):
    def current_of_company(self, field: str, profile_id: int) -> Subquery:
        """`field` of the company's (OuterRef("pk")) latest label in the profile: the current one,
        for annotating companies."""
        latest = self.filter(company=OuterRef("pk"), profile_id=profile_id).order_by("-created_at", "-pk")
        return Subquery(latest.values(field)[:1])

    def by_reps(self) -> LabelQuerySet:
        """Verdicts reps gave themselves: with a user, and not a manager's settling (admin), a deal's
        (outcome) or one given back (restored). What the agreement between reps and their
        disagreements are made of."""
        return self.filter(user__isnull=False).exclude(
            source__in=[LabelSource.ADMIN, LabelSource.OUTCOME, LabelSource.RESTORED]
        )


class Label(models.Model):
    """Every verdict ever given, clears included; the latest one is current."""

    objects = LabelQuerySet.as_manager()

    profile = models.ForeignKey(
        "leads.Profile", on_delete=models.PROTECT, related_name="labels", db_index=False
    )  # label_company_latest serves
    company = models.ForeignKey("leads.Company", on_delete=models.CASCADE, related_name="labels")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    source = models.CharField(max_length=10, choices=LabelSource.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The labels one action gave together (a bulk verdict, a lasso, an import): one undo takes
    # them all back. Empty for a verdict given alone.
    batch = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["company", "profile", "-created_at"], name="label_company_latest"),
            models.Index(fields=["batch"], name="label_batch", condition=models.Q(batch__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.verdict}"
