"""Won and lost deals read in from the team's CRM (outcomes), kept apart from reps' verdicts, and
the daily history of scores the proof of the scorer is read against."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from leads.models.companies import Company
from leads.models.imports import UploadedTable


class Stage(models.TextChoices):
    WON = "won", "Won"
    LOST = "lost", "Lost"
    OPEN = "open", "Open"


class MatchedBy(models.TextChoices):
    """How a deal's row found its company, in the order it is tried (outcomes.services)."""

    RECORD = "record", "CRM record id"
    DOMAIN = "domain", "Domain"
    NAME = "name", "Name"


class OutcomeImport(UploadedTable):
    """One deals file: who brought it, how it is read (the preview's choices; the mapping's fields
    are outcomes.deals.FIELDS) and what it did; run by a worker once confirmed (imports.jobs)."""

    file = models.FileField(upload_to="outcomes/%Y/%m/")
    crm = models.CharField(max_length=40)  # a slug of leads.crm.names: whose record ids the file holds
    stages = models.JSONField(default=dict, blank=True)  # {"<stage as written>": "won" | "lost" | "open"}
    # {"record": 3, "domain": 2, "name": 1, "amount_unread": 1}: deals matched by each key, and those
    # kept without an amount because it could not be read (outcomes.deals.read_amount)
    matched = models.JSONField(default=dict, blank=True)
    rejected_rows = models.JSONField(default=list, blank=True)  # [{"line", "reason", "values"}], every one


class Outcome(models.Model):
    """A deal with a company: won, lost or still open. Never a verdict by itself: it counts as one
    only while OutcomeSettings says so (written then through scoring.labels, source "outcome")."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="outcomes", db_index=False)
    crm = models.CharField(max_length=40)
    # The CRM's deal (opportunity) id; a file without one gets a key made of the deal's company
    # and name (outcomes.deals.Deal.key), so that a re-import updates instead of adding.
    deal_id = models.CharField(max_length=100)
    deal_name = models.CharField(max_length=300, blank=True)
    stage = models.CharField(max_length=4, choices=Stage.choices)
    stage_as_written = models.CharField(max_length=100, blank=True)  # 'Closed Won', 'closedwon', 'won'
    closed_on = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)  # ISO 4217 where given
    matched_by = models.CharField(max_length=6, choices=MatchedBy.choices)
    source = models.ForeignKey(OutcomeImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)  # when leads first heard of the deal
    # When leads first read it as won or lost (None while open): with closed_on, what the proof
    # must take the company's band from before (outcomes.report).
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-closed_on", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["crm", "deal_id"], name="one_outcome_per_crm_deal")]
        indexes = [models.Index(fields=["company", "closed_on"], name="outcome_company")]

    def __str__(self) -> str:
        return f"{self.crm}:{self.deal_id} {self.stage}"


class OutcomeBand(models.Model):
    """A decided deal's company in one profile's last score snapshot before the deal was decided,
    as the proof read it (outcomes.report): kept, so that the report reads no snapshot twice. A row
    a profile and deal; none: not read yet there (or open). Snapshots are taken for today only, so
    none can come before a decided deal's cutoff later. Written by outcomes.services."""

    pk = models.CompositePrimaryKey("profile", "outcome")
    profile = models.ForeignKey("leads.Profile", on_delete=models.CASCADE, related_name="+", db_index=False)
    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="bands_before")
    snapshot_before = models.DateField(null=True, blank=True)  # the day read; None: no snapshot before
    band_before = models.CharField(max_length=10, blank=True)  # a band key; '': no score that day
    top_before = models.FloatField(null=True, blank=True)  # the top share that day (0: the best)

    def __str__(self) -> str:
        return f"{self.outcome_id} ({self.profile_id}): {self.band_before or '-'}"


class OutcomeSettings(models.Model):
    """Whether outcomes count as verdicts in a profile: the one place the choice lives, a row a
    profile (none: they do not). Changed only by outcomes.services.set_outcomes_count."""

    profile = models.OneToOneField("leads.Profile", on_delete=models.CASCADE, related_name="+")
    count_as_verdicts = models.BooleanField(default=False)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(null=True, blank=True)


class ScoreSnapshot(models.Model):
    """Every scored company's fit and band on one day, packed (scoring.history): 3 bytes a
    company plus its id's delta, compressed; what the proof reads a company's band before its
    outcome from. Written by scoring.snapshots (the sweep, once a day; `snapshot_scores`)."""

    profile = models.ForeignKey("leads.Profile", on_delete=models.CASCADE, related_name="+")
    taken_on = models.DateField()
    taken_at = models.DateTimeField()
    companies = models.PositiveIntegerField()
    ids = models.BinaryField()  # zlib of the ascending ids' deltas, uint32 little-endian
    fits = models.BinaryField()  # int16 little-endian: fit * 10,000
    bands = models.BinaryField()  # uint8: an index into scoring.bands.BANDS

    class Meta:
        ordering = ["taken_on"]
        constraints = [models.UniqueConstraint(fields=["profile", "taken_on"], name="one_score_snapshot_a_day")]

    def __str__(self) -> str:
        return f"{self.taken_on}: {self.companies} companies"
