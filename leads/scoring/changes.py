"""The log of fits the incremental rescore changed (ScoreChange): from what, to what, because of
which verdicts (fits: what the rep sees on the dashboard); what the dashboard's "37 scores changed" links to. Written by scoring.services only."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from leads.models import ScoreChange
from leads.models.lookups import id_array
from leads.models.scores import signed


def record(
    profile_id: int,
    before: dict[int, float],
    after: dict[int, float],
    *,
    causes: list[int],
    verdicts: list[str],
    cited_before: dict[int, set[int]] | None = None,
    at: datetime,
) -> None:
    """Record the fits this pass changed visibly (ScoreChange), for the dashboard's "what changed";
    `causes`: the companies whose verdicts the pass took, `verdicts` each one's verdict as it took
    it; `at`: when the pass took them (later than each verdict).

    Each change names its own causes: those of `causes` among its neighbours before the pass
    (`cited_before`: scores that cited one) or after it (read here), and the company itself. A
    pass that took a rep's like of a brewery and another's dislike of a fintech blamed every move
    on both. A change none of them explains that way (a score of fewer than k neighbours, where
    every labelled company is a neighbour) names them all."""
    changed = [i for i in sorted(before.keys() | after.keys()) if moved_visibly(before.get(i), after.get(i))]
    if not changed:
        return
    verdict_of = dict(zip(causes, verdicts))
    cited_after = _cited_now(profile_id, changed, causes) if len(causes) > 1 else {}
    rows = []
    for company_id in changed:
        own = (cited_before or {}).get(company_id, set()) | cited_after.get(company_id, set())
        own |= {company_id} & verdict_of.keys()
        mine = sorted(own) if own and len(causes) > 1 else causes
        rows.append(
            (
                profile_id,
                company_id,
                before.get(company_id),
                after.get(company_id),
                mine,
                [verdict_of[i] for i in mine],
                at,
            )
        )
    columns = "profile_id, company_id, old_fit, new_fit, causes, cause_verdicts, changed_at"
    with connection.cursor() as cursor, cursor.cursor.copy(f"copy leads_scorechange ({columns}) from stdin") as copy:
        for row in rows:  # COPY: a pass at a million companies logs thousands of changes
            copy.write_row(row)


def _cited_now(profile_id: int, company_ids: list[int], causes: list[int]) -> dict[int, set[int]]:
    """Which of `causes` each company's score cites now (companies with no score left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select company_id, neighbour_ids from leads_score where profile_id = %s and company_id = any(%s::bigint[])"
            " and neighbour_ids && %s::bigint[]",
            [profile_id, id_array(company_ids), id_array(causes)],
        )
        wanted = set(causes)
        return {company_id: wanted.intersection(neighbours) for company_id, neighbours in cursor.fetchall()}


def moved_visibly(old: float | None, new: float | None) -> bool:
    """Whether a rep can see the move: the fit as shown (two decimals) changed, or it came or went.
    "0.24 -> 0.24" (0.244 to 0.236) is not logged."""
    if old is None or new is None:
        return old is not new
    return signed(old) != signed(new)


def forget_old(*, older_than: timedelta = timedelta(days=1)) -> int:
    """The sweep trims the change log."""
    return ScoreChange.objects.filter(changed_at__lt=timezone.now() - older_than).delete()[0]
