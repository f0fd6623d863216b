"""The kNN scores we derive, and the bookkeeping of the rescore."""

from __future__ import annotations

import numpy as np
from django.contrib.postgres.fields import ArrayField
from django.db import models

from leads.models.companies import Company
from leads.models.profiles import FIRST_PROFILE_ID, Profile
from leads.scoring.knn import inverse_distance_weights


class Score(models.Model):
    """The kNN score of an unlabelled company and the k labelled neighbours that made it.

    The neighbours are kept as parallel arrays, nearest first, so that a full rescore writes
    them with one binary COPY and the incremental rescore can ask the database which scores
    cite a company (a scan: no index on neighbour_ids, whose upkeep doubled the cost of every
    rewritten score) and which a new label would enter (its distance below kth_distance).

    The table is partitioned by profile, one table each (`partition`, migration 0042): a
    profile's scans read its own rows only."""

    pk = models.CompositePrimaryKey("profile", "company")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+", db_index=False)  # the key leads
    # A company has a score in each profile that scores it; `Company.objects.in_profile` reads one
    # profile's as `company.score`.
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="scores", db_index=False
    )  # score_company
    value = models.FloatField()  # in [-1, 1]: the plain kNN score (scikit-learn's)
    # What the team sorts by and bands are made of (leads/scoring/evidence.py): the score weighed by how
    # much labelled evidence is close, in [-1, 1]; never positive without a close liked company.
    fit = models.FloatField()
    evidence = models.FloatField()  # labelled companies' worth of close neighbours, 0..k
    unexplored = models.BooleanField()  # no labelled neighbour is close (evidence.UNEXPLORED_BEYOND)
    supported = models.BooleanField()  # a liked neighbour is close enough for a band of fit (evidence.SUPPORTED_WITHIN)
    neighbour_ids = ArrayField(models.BigIntegerField())
    neighbour_distances = ArrayField(models.FloatField())  # cosine distance, 0..2
    neighbour_labels = ArrayField(models.FloatField())  # +1 like / -1 dislike, as scored
    # Distance of the k-th neighbour; +inf while fewer than k companies are labelled
    # (then any new label is a neighbour).
    kth_distance = models.FloatField()
    computed_at = models.DateTimeField()
    # The number of leads_score_version the statement that last wrote this score took: the
    # incremental pass reads only the k-th distances written since its copy (scoring.thresholds).
    version = models.BigIntegerField(default=0, editable=False)

    class Meta:
        indexes = [
            # The dashboard's order (selectors.BestFirst): its first page reads ~50 entries.
            models.Index(fields=["profile", "-fit", "company"], name="score_best_fit_first"),
            models.Index(fields=["profile", "version"], name="score_version"),
            models.Index(fields=["company"], name="score_company"),
        ]

    def __str__(self) -> str:
        return f"{self.company_id} ({self.profile_id}): {self.signed}"

    @staticmethod
    def partition(profile_id: int) -> str:
        """The table that holds one profile's scores: leads_score is partitioned by profile, one
        table each, made with the profile (migration 0042)."""
        return f"leads_score_profile_{int(profile_id)}"

    @property
    def signed(self) -> str:
        """'+0.81' / '-0.40': the sign matters to a reader, floatformat drops it ('0.00': neither)."""
        return signed(self.value)

    @property
    def signed_fit(self) -> str:
        return signed(self.fit)

    @property
    def evidence_words(self) -> str:
        """The evidence as every page words it: "none close by" when nothing labelled is close
        (unexplored, as the company page's sentence says), else the labelled companies' worth."""
        if self.unexplored:
            return "none (nothing labelled is close)"
        return f"{self.evidence:.1f} labelled companies' worth close by"

    @property
    def neighbours(self) -> list[dict]:
        """[{"company_id", "distance", "weight", "label"}, ...] nearest first; weight is the
        neighbour's share of the total weight (shares add up to 1)."""
        if not self.neighbour_ids:
            return []
        weights = inverse_distance_weights(np.array([self.neighbour_distances]))[0]
        return [
            {"company_id": cid, "distance": round(d, 6), "weight": round(float(w), 6), "label": label}
            for cid, d, w, label in zip(self.neighbour_ids, self.neighbour_distances, weights, self.neighbour_labels)
        ]


def signed(value: float) -> str:
    """How a score or fit is shown: two decimals with its sign, 0.00 unsigned."""
    text = f"{value:+.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


class PendingScoreChange(models.Model):
    """A labelled-set change the scores have not caught up with yet: a company whose verdict
    changed, or whose vector changed while labelled, or which was deleted while labelled.

    Written in the same transaction as the change; the incremental rescore takes (deletes)
    every committed row and rescores exactly the companies they affect. Many clicks on the
    same or other companies pile up here and cost one pass."""

    pk = models.CompositePrimaryKey("profile", "company_id")
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+", db_index=False)  # the key leads
    company_id = models.BigIntegerField()  # no FK: a deleted company still counts
    # It may have entered the labelled set, or moved in it (newly labelled, or labelled and
    # re-embedded): only then can it enter other scores' neighbours, which costs a pass over every
    # vector. A flip, a clear or a deletion only touches the scores that cite it.
    entered = models.BooleanField(default=True)
    # It moved: labelled and re-embedded. Scores may cite it at its old place, which a pass over
    # the vectors with its new one does not find: they are looked up by what they cite.
    moved = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)


class ScoreChange(models.Model):
    """A fit that an incremental rescore changed: from what, to what, because of which verdicts.
    What the dashboard's "37 scores changed" links to; kept for a day (the sweep trims it)."""

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+", db_index=False)
    company_id = models.BigIntegerField()  # no FK: the log outlives a deleted company
    old_fit = models.FloatField(null=True)  # None: it had no score
    new_fit = models.FloatField(null=True)  # None: it has none now (labelled since)
    causes = ArrayField(models.BigIntegerField())  # the companies whose verdicts changed in that pass
    # Each cause's verdict as the pass took it ("like", "dislike", "clear"): what made the move, not
    # what the company's verdict is by the time someone reads the log.
    cause_verdicts = ArrayField(models.CharField(max_length=7), default=list)
    changed_at = models.DateTimeField(db_index=True)


class ScoringState(models.Model):
    """A row a profile: how far its full rescore split over workers has got, and what its scores
    were made with."""

    profile = models.OneToOneField(Profile, on_delete=models.CASCADE, related_name="+")

    chunks_left = models.IntegerField(default=0)  # > 0 while a full rescore's chunk tasks run
    # Set when some company was scored against an empty labelled set (so has no score row the
    # incremental pass could find): the next pass that sees labels runs a full rescore instead.
    needs_full_rescore = models.BooleanField(default=True)
    full_started_at = models.DateTimeField(null=True, blank=True)
    # The k (SCORING_K) the last full rescore used: when the setting changes, the sweep rescores.
    k = models.PositiveSmallIntegerField(null=True, blank=True)
    # The team's "close" (cosine distance, evidence.radius_of the companies' vectors): measured
    # when a full rescore starts, used by every score until the next one, so that every path
    # computes the same fits. None: not measured yet (the next full rescore measures it).
    radius = models.FloatField(null=True, blank=True)
    # How many companies the radius was measured on: a team that grows from a few (the first
    # import still being embedded) has it measured again (scoring.services.radius_outgrown).
    radius_companies = models.IntegerField(default=0)
    # Moves after the commit of every write to the profile's scores (scoring.rows.scores_written):
    # a kept distribution of fits made at this number is the profile's as committed.
    scores_written = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    @classmethod
    def of(cls, profile_id: int) -> ScoringState:
        """The profile's row, made with its defaults if there is none yet (the first profile too,
        after a test's flush or a restore)."""
        row = cls.objects.filter(profile_id=profile_id).first()
        if row is None:
            if profile_id == FIRST_PROFILE_ID:
                Profile.first()
            row, _ = cls.objects.get_or_create(profile_id=profile_id)
        return row

    @classmethod
    def change(cls, profile_id: int, **values) -> bool:
        """Update the profile's row (made first if there is none)."""
        cls.of(profile_id)
        cls.objects.filter(profile_id=profile_id).update(**values)


class FitDistribution(models.Model):
    """A profile's distribution of fits (bands.Distribution: quantiles and count) as the worker
    last made it, with the profile's ScoringState.scores_written it was made at. Pages of a big
    profile read it instead of sorting every fit (~0.4 s at a million) after each pass
    (companies.distribution, scoring.services.keep_distribution)."""

    profile = models.OneToOneField(Profile, on_delete=models.CASCADE, primary_key=True, related_name="+")
    quantiles = ArrayField(models.FloatField())  # the fits at bands.FRACTIONS, ascending
    total = models.IntegerField()  # how many scores
    scores_written = models.BigIntegerField()  # the profile's ScoringState.scores_written they were read at
    computed_at = models.DateTimeField(auto_now=True)
