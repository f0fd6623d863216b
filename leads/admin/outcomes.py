"""The outcomes admin for sales managers: every deal with its company, CRM, deal id, stage, close
date, amount and the band its company had before it (in the profile the manager works in); searched by company, deal id and deal name,
filtered by stage, CRM, that band and how the deal found its company. Read-only: deals come in
only through a deals import (outcomes.services), which keeps them one per CRM and deal id."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F, FilteredRelation, Q
from django.utils.formats import number_format

from leads.admin.readonly import ReadOnlyAdmin
from leads.crm import names as crm_names
from leads.models import Outcome, Stage
from leads.profiles import selectors as profiles
from leads.scoring import bands

NO_SCORE, NOT_READ = "-none", "-unread"  # never a band key


class BandBeforeFilter(admin.SimpleListFilter):
    """The band the deal's company had in the last score snapshot before the deal (as the report
    reads it: OutcomeBand, in the profile OutcomeAdmin reads), none then, or not read yet."""

    title = "band before the deal"
    parameter_name = "band_before"

    def lookups(self, request, model_admin):
        return [*((band.key, band.label) for band in bands.BANDS), (NO_SCORE, "no score then"),
                (NOT_READ, "not read yet")]  # fmt: skip

    def queryset(self, request, queryset):
        value = self.value()
        if value == NOT_READ:
            return queryset.filter(before_read__isnull=True)
        if value == NO_SCORE:
            return queryset.filter(before_read__isnull=False, before_band="")
        if value in bands.BY_KEY:
            return queryset.filter(before_band=value)
        return queryset


class CrmFilter(admin.SimpleListFilter):
    """The CRMs the deals came from, by name (a few rows: one per CRM)."""

    title = "CRM"
    parameter_name = "crm"

    def lookups(self, request, model_admin):
        slugs = Outcome.objects.order_by("crm").values_list("crm", flat=True).distinct()
        return [(slug, crm_names.crm_label(slug)) for slug in slugs]

    def queryset(self, request, queryset):
        return queryset.filter(crm=self.value()) if self.value() else queryset


class MatchedByFilter(admin.ChoicesFieldListFilter):
    """How the deal found its company (CRM record id, domain, name), under a title that says so."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "how it found its company"


@admin.register(Outcome)
class OutcomeAdmin(ReadOnlyAdmin):
    list_display = ["deal_id", "company", "crm_name", "deal_name", "stage", "closed_on", "amount_given", "band_before_deal"]  # fmt: skip
    list_filter = ["stage", CrmFilter, BandBeforeFilter, ("matched_by", MatchedByFilter)]
    search_fields = ["company__name", "deal_id", "deal_name"]
    list_select_related = ["company"]
    date_hierarchy = "closed_on"
    fields = [
        "company", "crm_name", "deal_id", "deal_name", "stage", "stage_as_written", "closed_on", "amount_given",
        "matched_by", "band_before_deal", "source", "created_at", "decided_at", "updated_at",
    ]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        """The deals with their band before in the profile the manager works in (profiles.current_id)."""
        kept = FilteredRelation("bands_before", condition=Q(bands_before__profile_id=profiles.current_id(request)))
        return (
            super()
            .get_queryset(request)
            .annotate(kept=kept)
            .annotate(
                before_read=F("kept__outcome_id"),  # None: not read yet in the profile
                before_day=F("kept__snapshot_before"),
                before_band=F("kept__band_before"),
                before_top=F("kept__top_before"),
            )
        )

    @admin.display(description="CRM", ordering="crm")
    def crm_name(self, outcome: Outcome) -> str:
        return crm_names.crm_label(outcome.crm)

    @admin.display(description="amount", ordering="amount")
    def amount_given(self, outcome: Outcome) -> str:
        if outcome.amount is None:
            return "—"
        amount = number_format(outcome.amount, decimal_pos=2, force_grouping=True)
        return f"{amount} {outcome.currency}".strip()

    @admin.display(description="band before", ordering="before_band")
    def band_before_deal(self, outcome: Outcome) -> str:
        """The band and rank the report counts the deal under, and the day of the snapshot."""
        if outcome.stage == Stage.OPEN:
            return "— (open)"
        if outcome.before_read is None:
            return "not read yet"
        if outcome.before_day is None:
            return "no snapshot before the deal"
        if not outcome.before_band:
            return f"not scored on {outcome.before_day:%Y-%m-%d}"
        band = bands.BY_KEY[outcome.before_band]
        top = "" if outcome.before_top is None else f", {bands.rank_words(outcome.before_top)}"
        return f"{band.label}{top} on {outcome.before_day:%Y-%m-%d}"
