"""The proof: "Does it find customers?". Read-side: nothing here writes.

For every decided deal (won or lost) the company's band and rank are read from the last score
snapshot taken strictly before the deal was decided: before its close date and before the day
leads first read it as won or lost, so that no outcome (counting as a verdict or not) is in the
score it is judged by. Deals with no snapshot before, or whose company had no score that day
(labelled then, or not yet embedded), are left out and counted. Reps' verdicts at the same moment
(their latest label before it, outcomes' own labels aside) are the baseline, over every deal.
The verdicts, the radius and the scores read are those of one profile, the one the caller names."""

from __future__ import annotations

import bisect
import datetime
from dataclasses import dataclass

import numpy as np
from django.db import connection
from django.utils import timezone

from leads.models import Label, LabelSource, Outcome, OutcomeBand, ScoreSnapshot, ScoringState, Stage
from leads.outcomes import figures, selectors
from leads.scoring import bands, history

REP_GROUPS = ("like", "dislike", "none")


@dataclass(frozen=True)
class Deals:
    """One entry per decided deal, in company id order then cutoff."""

    company_ids: np.ndarray  # (n,) int64
    won: np.ndarray  # (n,) bool
    cutoffs: list[datetime.date]  # the band is read from the last snapshot strictly before this day
    band: np.ndarray  # (n,) str: the band key then, '' when left out
    top_share: np.ndarray  # (n,) float: the rank then (0: the best), NaN when left out
    rep: np.ndarray  # (n,) str: like / dislike / none, reps' verdict then
    no_snapshot: int  # left out: no snapshot before
    not_scored: int  # left out: no score in the snapshot before


def cutoff_of(closed_on: datetime.date | None, decided_at: datetime.datetime) -> datetime.date:
    decided = timezone.localdate(decided_at)
    return min(closed_on, decided) if closed_on else decided


def decided_deals(profile_id: int) -> Deals:
    rows = list(Outcome.objects.exclude(stage=Stage.OPEN).exclude(decided_at=None).order_by("company_id", "pk")
                .values_list("pk", "company_id", "stage", "closed_on", "decided_at"))  # fmt: skip
    ids = np.array([r[1] for r in rows], np.int64)
    won = np.array([r[2] == Stage.WON for r in rows], bool)
    cutoffs = [cutoff_of(r[3], r[4]) for r in rows]
    before = bands_before(profile_id, [r[0] for r in rows], ids, cutoffs)
    band = np.array([b.band for b in before], dtype=object).astype(str)
    top = np.array([np.nan if b.top is None else b.top for b in before], np.float64)
    missing = sum(b.day is None for b in before)
    rep = _reps_before(profile_id, ids, cutoffs)
    return Deals(ids, won, cutoffs, band, top, rep, missing, int(np.count_nonzero(band == "")) - missing)


@dataclass(frozen=True)
class Before:
    """A deal's company in the last snapshot before the deal's cutoff."""

    day: datetime.date | None  # the snapshot's day; None: no snapshot before
    band: str  # its band key then; '': no score that day (or no snapshot)
    top: float | None  # its top share then (0: the best)


def bands_before(
    profile_id: int, outcome_ids: list[int], ids: np.ndarray, cutoffs: list[datetime.date]
) -> list[Before]:
    """Each deal's company in the profile's last snapshot before its cutoff: as kept for the profile
    (OutcomeBand) where no snapshot has come between the day kept and the cutoff since (a snapshot
    thinned away leaves what was read valid), else read from the snapshots."""
    snapshots = ScoreSnapshot.objects.filter(profile_id=profile_id)
    days = list(snapshots.order_by("taken_on").values_list("taken_on", flat=True))
    which = [bisect.bisect_left(days, c) - 1 for c in cutoffs]  # the last day < cutoff, -1: none
    rows = OutcomeBand.objects.filter(profile_id=profile_id, outcome_id__any_of=outcome_ids)
    kept = {
        pk: Before(day, band, top)
        for pk, day, band, top in rows.values_list("outcome_id", "snapshot_before", "band_before", "top_before")
    }
    found: list[Before | None] = []
    for pk, w, cutoff in zip(outcome_ids, which, cutoffs):
        memo = kept.get(pk)
        valid = memo is not None and (
            (w == -1 and memo.day is None) or (memo.day is not None and w >= 0 and days[w] <= memo.day < cutoff)
        )
        found.append(memo if valid else None)
    for day in sorted({w for w, f in zip(which, found) if f is None and w >= 0}):
        packed = snapshots.filter(taken_on=days[day]).values_list("ids", "fits", "bands").get()
        snapshot = history.unpack(*packed)
        here = [i for i, (w, f) in enumerate(zip(which, found)) if w == day and f is None]
        at = snapshot.find(ids[here])
        scored = at >= 0
        shares = dict(zip(np.flatnonzero(scored).tolist(), snapshot.top_share(at[scored]).tolist()))
        for n, i in enumerate(here):
            if scored[n]:
                found[i] = Before(days[day], bands.BANDS[snapshot.bands[at[n]]].key, shares[n])
            else:
                found[i] = Before(days[day], "", None)
    return [f if f is not None else Before(None, "", None) for f in found]


def _reps_before(profile_id: int, ids: np.ndarray, cutoffs: list[datetime.date]) -> np.ndarray:
    """Reps' latest verdict in the profile on each deal's company before its cutoff day (an
    outcome's own label aside)."""
    found = np.full(len(ids), "none", dtype=object)
    history_of: dict[int, list[tuple[datetime.date, str]]] = {}
    labels = Label.objects.filter(profile_id=profile_id, company_id__in=set(ids.tolist()))
    labels = labels.exclude(source=LabelSource.OUTCOME)
    for company_id, created_at, verdict in labels.order_by("created_at", "pk").values_list(
        "company_id", "created_at", "verdict"
    ):
        history_of.setdefault(company_id, []).append((timezone.localdate(created_at), verdict))
    for i, (company_id, cutoff) in enumerate(zip(ids.tolist(), cutoffs)):
        before = [verdict for day, verdict in history_of.get(company_id, []) if day < cutoff]
        if before and before[-1] != "clear":
            found[i] = before[-1]
    return found.astype(str)


def outcomes_report(*, profile_id: int, bootstrap: int = figures.BOOTSTRAP, seed: int = figures.SEED) -> dict:
    """The whole report, as the page shows it and `outcomes_report --json` prints it, of the
    profile's verdicts and scores."""
    deals = decided_deals(profile_id)
    counted = deals.band != ""
    won, band = deals.won[counted], deals.band[counted]
    strong = band == bands.STRONG.key
    months = np.array([c.strftime("%Y-%m") for c, keep in zip(deals.cutoffs, counted) if keep], dtype=str)
    return {
        "deals": len(deals.won),
        "counted": int(counted.sum()),
        "left_out": {"no_snapshot_before": deals.no_snapshot, "not_scored_before": deals.not_scored},
        "base_rate": figures.row("all", won).win_rate,
        "bands": [
            {**r.as_dict(), "band": r.group, "label": bands.BY_KEY[r.group].label}
            for r in figures.by_group(won, band, [b.key for b in bands.BANDS])
        ],  # fmt: skip
        "ranks": [r.as_dict() for r in figures.by_top(won, deals.top_share[counted])],
        "lift": figures.lift(won, strong, group=bands.STRONG.key, bootstrap=bootstrap, seed=seed).as_dict(),
        "reps": {
            "deals": len(deals.won),
            "base_rate": figures.row("all", deals.won).win_rate,
            "verdicts": [r.as_dict() for r in figures.by_group(deals.won, deals.rep, REP_GROUPS)],
            "lift": figures.lift(
                deals.won, deals.rep == "like", group="like", bootstrap=bootstrap, seed=seed
            ).as_dict(),
        },
        "trend": figures.by_month(won, months, strong),
        "drift": drift(profile_id=profile_id),
        "outcomes_count_as_verdicts": selectors.outcomes_count(profile_id),
    }


def drift(*, today: datetime.date | None = None, profile_id: int) -> dict:
    """How far this month's new companies lie from the profile's labelled set, against last
    month's: the median cosine distance from each (scored) company created in the month to its
    nearest labelled company (its score's first neighbour), and the share with nothing labelled
    close."""
    today = today or timezone.localdate()
    this_month = today.replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    now, before = (
        _month_distance(profile_id, this_month, today + datetime.timedelta(days=1)),
        _month_distance(profile_id, last_month, this_month),
    )
    radius = ScoringState.objects.filter(profile_id=profile_id).values_list("radius", flat=True).first()
    return {"this_month": {"month": this_month.strftime("%Y-%m"), **now},
            "last_month": {"month": last_month.strftime("%Y-%m"), **before},
            "radius": radius,
            "sentence": drift_sentence(now, before)}  # fmt: skip


_MONTH_DISTANCE = """
select count(*), percentile_cont(0.5) within group (order by s.neighbour_distances[1]),
       avg(case when s.unexplored then 1.0 else 0.0 end)
from leads_company c join leads_score s on s.profile_id = %s and s.company_id = c.id
where c.created_at >= %s and c.created_at < %s and cardinality(s.neighbour_distances) > 0
"""


def _month_distance(profile_id: int, start: datetime.date, end: datetime.date) -> dict:
    zone = timezone.get_current_timezone()
    bounds = [datetime.datetime.combine(day, datetime.time(), zone) for day in (start, end)]
    with connection.cursor() as cursor:
        cursor.execute(_MONTH_DISTANCE, [profile_id, *bounds])
        companies, median, unexplored = cursor.fetchone()
    return {
        "companies": companies,
        "median_distance": median,
        "unexplored_share": None if unexplored is None else float(unexplored),
    }


def drift_sentence(now: dict, before: dict) -> str:
    """What the drift figures mean, in one sentence."""
    if not now["companies"] or not before["companies"]:
        return "Too few companies imported this month or last to compare yet."
    change = now["median_distance"] - before["median_distance"]
    way = "farther from" if change > 0 else "closer to"
    return (f"This month's new companies lie {way} what the team has labelled than last month's (median "
            f"distance to the nearest labelled company {now['median_distance']:.2f} against "
            f"{before['median_distance']:.2f}): the scorer learned from companies "
            f"{'less' if change > 0 else 'more'} like the ones it now scores.")  # fmt: skip
