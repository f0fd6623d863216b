"""Outcomes as pages read them: a company's deals, the recent deals files and a file's progress,
where reps and outcomes disagree, the setting. Read-side: nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F

from leads.imports.selectors import run_progress
from leads.models import Company, Label, LabelSource, Outcome, OutcomeImport, OutcomeSettings, Stage, Verdict

DISAGREEMENTS_SHOWN = 50


def company_outcomes(company_id: int) -> list[Outcome]:
    """The company's deals, latest close first (open ones without a date last)."""
    return list(Outcome.objects.filter(company_id=company_id).order_by(F("closed_on").desc(nulls_last=True), "-pk"))


def recent_imports(limit: int = 20) -> list[OutcomeImport]:
    return list(OutcomeImport.objects.select_related("user")[:limit])


def import_progress(job: OutcomeImport) -> dict:
    """What a deals file's page shows while a worker imports it (imports.selectors.run_progress),
    read again; finished once it is done or failed."""
    job.refresh_from_db()
    return {**run_progress(job), "finished": job.state in (OutcomeImport.State.DONE, OutcomeImport.State.FAILED)}


def outcomes_count(profile_id: int) -> bool:
    """Whether outcomes count as verdicts in the profile now (OutcomeSettings)."""
    found = OutcomeSettings.objects.filter(profile_id=profile_id).values_list("count_as_verdicts").first()
    return bool(found and found[0])


@dataclass(frozen=True)
class Disagreement:
    company: Company
    verdict: str  # the reps' latest own verdict: like / dislike
    outcome: Outcome  # the latest decided deal, which says the opposite
    rep: str  # who gave that verdict


def disagreements(limit: int = DISAGREEMENTS_SHOWN, *, profile_id: int) -> tuple[list[Disagreement], int]:
    """Companies a rep liked that were then lost, or disliked that were then won: the reps' latest
    own verdict in the profile (outcomes' labels aside) against the latest decided deal. The first
    `limit`, latest deal first, and how many in all."""
    decided = Outcome.objects.exclude(stage=Stage.OPEN).select_related("company")
    latest = {}
    for outcome in decided.order_by("company_id", F("closed_on").desc(nulls_last=True), "-decided_at", "-pk").distinct(
        "company_id"
    ):
        latest[outcome.company_id] = outcome
    own = Label.objects.filter(profile_id=profile_id, company_id__in=list(latest)).exclude(source=LabelSource.OUTCOME)
    reps = own.order_by("company_id", "-created_at", "-pk").distinct("company_id").select_related("user")
    found = []
    for label in reps:
        outcome = latest[label.company_id]
        opposite = Verdict.DISLIKE if outcome.stage == Stage.WON else Verdict.LIKE
        if label.verdict == opposite:
            found.append(Disagreement(outcome.company, label.verdict, outcome, str(label.user or "an import")))
    found.sort(key=lambda d: (d.outcome.closed_on or d.outcome.decided_at.date(), d.outcome.pk), reverse=True)
    return found[:limit], len(found)
