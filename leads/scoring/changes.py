"""The log of fits the incremental rescore changed (ScoreChange): from what, to what, because of
which verdicts (fits: what the rep sees on the dashboard); what the dashboard's "37 scores changed" links to. Written by scoring.services only."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
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
    ids, old, new = moved_visibly(before, after)
    if not len(ids):
        return
    verdict_of = dict(zip(causes, verdicts))
    cited_after = _cited_now(profile_id, ids.tolist(), causes) if len(causes) > 1 else {}
    if len(causes) > 1:
        each_causes, each_verdicts = [], []
        for company_id in ids.tolist():
            own = (cited_before or {}).get(company_id, set()) | cited_after.get(company_id, set())
            own |= {company_id} & verdict_of.keys()
            mine = sorted(own) or causes
            each_causes.append(id_array(mine))
            each_verdicts.append(_array_literal(verdict_of[i] for i in mine))
    else:  # one verdict in the pass (one click): it made every move
        each_causes = [id_array(causes)] * len(ids)
        each_verdicts = [_array_literal(verdicts)] * len(ids)
    # One statement, the rows as arrays: a pass at a million companies logs thousands of changes,
    # and a row at a time (COPY's write_row) cost ~10 us each, most of the log's time.
    with connection.cursor() as cursor:
        cursor.execute(
            "insert into leads_scorechange"
            " (profile_id, company_id, old_fit, new_fit, causes, cause_verdicts, changed_at)"
            " select %s, company_id, old_fit, new_fit, causes::bigint[], verdicts::varchar[], %s"
            " from unnest(%s::bigint[], %s::float8[], %s::float8[], %s::text[], %s::text[])"
            " as t(company_id, old_fit, new_fit, causes, verdicts)",
            [
                profile_id,
                at,
                id_array(ids.tolist()),
                _float_array(old),
                _float_array(new),
                _array_literal(f'"{each}"' for each in each_causes),
                _array_literal(f'"{each}"' for each in each_verdicts),
            ],
        )


def moved_visibly(before: dict[int, float], after: dict[int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, fits before, fits after) of the companies whose move a rep can see, in id order: the
    fit as shown (two decimals, `signed`) changed, or it came or went ("0.24 -> 0.24", 0.244 to
    0.236, is not logged). NaN where a company had no score, or has none now. In numpy: a pass
    at a million companies looks at tens of thousands."""
    ids = np.union1d(np.fromiter(before, np.int64, len(before)), np.fromiter(after, np.int64, len(after)))
    old = np.array([before.get(i) for i in ids.tolist()], dtype=np.float64)  # None (no score): NaN
    new = np.array([after.get(i) for i in ids.tolist()], dtype=np.float64)
    gone_or_came = np.isnan(old) != np.isnan(new)
    both = ~np.isnan(old) & ~np.isnan(new)
    moved = gone_or_came | (both & (_cents(old) != _cents(new)))
    return ids[moved], old[moved], new[moved]


def _cents(values: np.ndarray) -> np.ndarray:
    """Each value in hundredths as `signed` shows it (NaN stays NaN). `signed` rounds the exact binary
    value half to even; rint(x * 100) can round the other way when x * 100 lies within a rounding
    error of a half: those few are rounded as `signed` rounds them."""
    scaled = values * 100
    cents = np.rint(scaled)
    near_half = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6
    for i in np.flatnonzero(near_half):
        cents[i] = round(float(signed(float(values[i]))) * 100)
    return cents


def _float_array(values: np.ndarray) -> str:
    """A float8[] literal, NaN as NULL; repr() writes the shortest text Postgres reads back exactly."""
    return _array_literal("NULL" if value != value else repr(value) for value in values.tolist())


def _array_literal(elements) -> str:
    """A text literal of a Postgres array of what `elements` write as (id_array for ids)."""
    return "{" + ",".join(str(element) for element in elements) + "}"


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


def forget_old(*, older_than: timedelta = timedelta(days=1)) -> int:
    """The sweep trims the change log."""
    return ScoreChange.objects.filter(changed_at__lt=timezone.now() - older_than).delete()[0]
