"""The score changes since a verdict, explained for the changes page: which companies moved, from
what fit to what, because of which verdicts (read-side; scoring/changes.py writes the log)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Abs, Coalesce

from leads.companies.distribution import band_of, score_distribution
from leads.models import Company, ScoreChange
from leads.scoring import bands


def score_changes(*, profile_id: int, since) -> models.QuerySet:
    return ScoreChange.objects.filter(profile_id=profile_id, changed_at__gt=since)


@dataclass(frozen=True)
class Cause:
    company: Company
    verdict: str  # as the pass took it: "like", "dislike", "clear"


@dataclass(frozen=True)
class ExplainedChange:
    company: Company | None  # None: deleted since
    company_id: int
    old_fit: float | None
    new_fit: float | None
    causes: list[Cause]
    changed_at: object
    band: bands.Band | None  # its band now; None when labelled or deleted since

    @property
    def was_labelled(self) -> bool:
        """No fit before because the company was labelled, its own verdict being what moved it
        (a clear): not a company scored for the first time."""
        return self.old_fit is None and any(cause.company.pk == self.company_id for cause in self.causes)


CHANGES_PER_PAGE = 100


def explained_changes(*, profile_id: int, since, page: str | int | None = 1) -> Page:
    """A page (Django's Paginator: any bad number is the first or last page) of the score changes
    since `since`, biggest moves first (a fit gained or lost counts from 0), each with the verdicts
    that caused it and its company's band now (how much evidence its new fit stands on)."""
    move = Abs(Coalesce(F("new_fit"), Value(0.0)) - Coalesce(F("old_fit"), Value(0.0)))
    ordered = score_changes(profile_id=profile_id, since=since).order_by(move.desc(), "-changed_at", "pk")
    found = Paginator(ordered, CHANGES_PER_PAGE).get_page(page)
    changes = list(found)
    cause_ids = {i for change in changes for i in change.causes}
    companies = Company.objects.in_profile(profile_id).in_bulk({change.company_id for change in changes} | cause_ids)
    distribution = score_distribution(profile_id)
    found.object_list = [
        ExplainedChange(
            company=(company := companies.get(change.company_id)),
            company_id=change.company_id,
            old_fit=change.old_fit,
            new_fit=change.new_fit,
            causes=[
                Cause(companies[i], verdict)
                for i, verdict in zip(change.causes, change.cause_verdicts or [""] * len(change.causes))
                if i in companies
            ],
            changed_at=change.changed_at,
            band=band_of(company.score, distribution) if company and not company.verdict else None,
        )
        for change in changes
    ]
    return found
