"""Where reps disagree: the latest verdicts of two or more reps on a company that differ, until
a manager settles it. One rule for the dashboard's flag and the label review's conflicts."""

from __future__ import annotations

from django.db import models

from leads.models import Label, LabelSource
from leads.scoring.explanations import join_names


def rep_disagreements(
    profile_id: int, company_ids: list[int] | None = None
) -> dict[int, list[tuple[str, str, object]]]:
    """{company id: [(username, verdict, when), ...]} where reps' latest verdicts in the profile disagree (of the
    given companies, or of all that two reps or more labelled). The latest verdict counts until
    someone settles it: a rep's clear takes them out of the disagreement, and a manager's label
    (source admin: a review fix, a bulk action, the load test's clean-up) settles it, so only rep
    verdicts given after it count. The dashboard and the review page both use this rule."""
    reps = Label.objects.by_reps().filter(profile_id=profile_id)
    if company_ids is not None:
        reps = reps.filter(company_id__any_of=company_ids)
    else:
        shared = reps.values("company_id").annotate(reps=models.Count("user_id", distinct=True)).filter(reps__gte=2)
        reps = reps.filter(company_id__in=models.Subquery(shared.values("company_id")))
    latest = list(
        reps.order_by("company_id", "user_id", "-created_at", "-pk")
        .distinct("company_id", "user_id")
        .values_list("company_id", "user__username", "verdict", "created_at")
    )
    settled = dict(
        Label.objects.filter(
            profile_id=profile_id, company_id__any_of=sorted({row[0] for row in latest}), source=LabelSource.ADMIN
        )
        .values("company_id")
        .annotate(last=models.Max("created_at"))
        .values_list("company_id", "last")
    )
    given: dict[int, list[tuple[str, str, object]]] = {}
    for company_id, username, verdict, when in latest:
        if verdict != "clear" and (company_id not in settled or when > settled[company_id]):
            given.setdefault(company_id, []).append((username, verdict, when))
    return {i: verdicts for i, verdicts in given.items() if len({v for _, v, _ in verdicts}) > 1}


def verdict_conflicts(profile_id: int, company_ids: list[int]) -> dict[int, str]:
    """{company id: 'ana liked, ben disliked'} for the given companies (see rep_disagreements)."""
    return {i: disagreement_text(verdicts) for i, verdicts in rep_disagreements(profile_id, company_ids).items()}


def disagreement_text(verdicts: list[tuple[str, str, object]]) -> str:
    """'ana liked, ben disliked'; with many reps, 'ana, ben and 4 others liked; cy disliked'."""
    parts = []
    for verdict, word in (("like", "liked"), ("dislike", "disliked")):
        names = sorted(name for name, given, _ in verdicts if given == verdict)
        shown = names if len(names) <= 3 else [*names[:2], f"{len(names) - 2} others"]
        parts.append(f"{join_names(shown)} {word}")
    return ", ".join(parts) if all(len(p.split()) == 2 for p in parts) else "; ".join(parts)
