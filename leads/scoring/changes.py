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
    at: datetime,
) -> None:
    """Record the fits this pass changed visibly (ScoreChange), for the dashboard's "what changed";
    `verdicts`: each cause's verdict as the pass took it; `at`: when the pass took them (later
    than each verdict)."""
    changed = [i for i in sorted(before.keys() | after.keys()) if moved_visibly(before.get(i), after.get(i))]
    if not changed:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "insert into leads_scorechange (profile_id, company_id, old_fit, new_fit, causes, cause_verdicts, changed_at)"
            " select %s, unnest(%s::bigint[]), unnest(%s::float8[]), unnest(%s::float8[]), %s::bigint[], %s::text[], %s",
            [
                profile_id,
                id_array(changed),
                _float_array(before, changed),
                _float_array(after, changed),
                id_array(causes),
                verdicts,
                at,
            ],
        )


def moved_visibly(old: float | None, new: float | None) -> bool:
    """Whether a rep can see the move: the fit as shown (two decimals) changed, or it came or went.
    "0.24 -> 0.24" (0.244 to 0.236) is not logged."""
    if old is None or new is None:
        return old is not new
    return signed(old) != signed(new)


def _float_array(values: dict[int, float], keys: list[int]) -> str:
    """A float8[] literal, NULL where a key has no value (repr: the shortest exact decimal; 3x
    faster than letting psycopg adapt a list of floats)."""
    return "{" + ",".join("NULL" if (value := values.get(key)) is None else repr(value) for key in keys) + "}"


def forget_old(*, older_than: timedelta = timedelta(days=1)) -> int:
    """The sweep trims the change log."""
    return ScoreChange.objects.filter(changed_at__lt=timezone.now() - older_than).delete()[0]
