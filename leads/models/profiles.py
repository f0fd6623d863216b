"""Ideal-customer profiles: the notions of fit a team keeps side by side. Companies, their text,
vectors and the encoder are shared; each profile has its own verdicts and the scores made of them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from leads.models.labels import Verdict

# The profile every team has from the start (migration 0036 made it of what there was before profiles).
FIRST_PROFILE_ID = 1
FIRST_PROFILE_NAME = "Ideal customers"


class Profile(models.Model):
    name = models.CharField(max_length=80, unique=True)
    # Archived: read-only (no verdicts), hidden from reps; its labels and scores kept.
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        # Commands and webhooks find a profile by its name in any case (profiles.selectors.named):
        # two names that differ only in case would be one name to them.
        constraints = [
            models.UniqueConstraint(
                Lower("name"), name="one_profile_per_name_any_case",
                violation_error_message="A profile has this name already (in another case): choose another name.",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.name

    @classmethod
    def first(cls) -> Profile:
        """The first profile, made if there is none (a test's flush, a restore)."""
        profile, _ = cls.objects.get_or_create(pk=FIRST_PROFILE_ID, defaults={"name": FIRST_PROFILE_NAME})
        return profile


class CurrentVerdict(models.Model):
    """A labelled company's verdict now, in one profile: the latest label of its history there
    (a clear removes the row). Kept in step by the labels service (scoring.labels), the only writer;
    a few thousand rows a profile, what "labelled" and "unlabelled" are read from."""

    pk = models.CompositePrimaryKey("profile", "company")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+", db_index=False)  # the key leads
    company = models.ForeignKey("leads.Company", on_delete=models.CASCADE, related_name="verdicts", db_index=False)
    verdict = models.CharField(max_length=10, choices=[(Verdict.LIKE, "Liked"), (Verdict.DISLIKE, "Disliked")])
    given_at = models.DateTimeField()  # the current label's created_at: the "latest verdict first" order

    class Meta:
        indexes = [models.Index(fields=["company"], name="current_verdict_company")]


class ProfileAccess(models.Model):
    """A rep limited to some profiles: a rep with rows here works only in those (none: in every
    active one). Managers work in every profile."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="access")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile_access")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "profile"], name="one_access_per_user_and_profile")]
        verbose_name_plural = "profile access"

    def __str__(self) -> str:
        return f"{self.user} in {self.profile}"


class ProfileChoice(models.Model):
    """The profile a rep chose last (`?profile=`): where a page without one opens."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="profile_choice"
    )
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")


class ProfileScore:
    """`company.score`: the company's Score row in the profile it was read in
    (`Company.objects.in_profile(...).select_related("score")` sets it), None where that profile
    has no score for it. Read on a company not read in a profile, it says so instead of guessing."""

    def __get__(self, company, owner=None):
        if company is None:
            return self
        if "verdict" not in company.__dict__:
            raise AttributeError("read companies with Company.objects.in_profile(profile_id) to have their score")
        return None  # in a profile, and select_related found no score there
