"""The daily score snapshot (ScoreSnapshot): every scored company's fit and band that day, packed
by scoring.history. Written by the sweep once a day and by `snapshot_scores`; read by the proof
(outcomes.report), which takes a company's band from the last snapshot before its outcome."""

from __future__ import annotations

import datetime

from django.utils import timezone

from leads.models import ScoreSnapshot
from leads.scoring import history
from leads.scoring import rows as score_rows

# Daily snapshots are kept this long; older ones thin to one a week (Mondays): a company's band
# from up to a week before an old outcome is still before it.
DAILY_DAYS = 90


def take_snapshot(*, on: datetime.date | None = None, profile_id: int) -> ScoreSnapshot:
    """Pack every score of the profile now as its snapshot of `on` (today), replacing one taken
    earlier that day."""
    ids, fits, unexplored, supported = score_rows.read_fits(profile_id)
    packed = history.pack(ids, fits, history.band_codes(fits, unexplored, supported))
    snapshot, _ = ScoreSnapshot.objects.update_or_create(
        profile_id=profile_id,
        taken_on=on or timezone.localdate(),
        defaults={"taken_at": timezone.now(), "companies": len(ids), "ids": packed.ids, "fits": packed.fits,
                  "bands": packed.bands},
    )  # fmt: skip
    thin(today=on or timezone.localdate())
    return snapshot


def take_snapshot_if_due(*, profile_id: int) -> ScoreSnapshot | None:
    """The sweep's call: one query on most runs, a snapshot of the profile's scores when today has
    none."""
    if ScoreSnapshot.objects.filter(profile_id=profile_id, taken_on=timezone.localdate()).exists():
        return None
    return take_snapshot(profile_id=profile_id)


def thin(*, today: datetime.date) -> int:
    """Drop the snapshots older than DAILY_DAYS that are not a Monday's; how many went."""
    old = ScoreSnapshot.objects.filter(taken_on__lt=today - datetime.timedelta(days=DAILY_DAYS))
    deleted, _ = old.exclude(taken_on__week_day=2).delete()  # Django's week_day: Sunday 1, Monday 2
    return deleted
