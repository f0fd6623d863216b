"""The team's distribution of fits in a profile, for bands and ranks: what every page, export and
the API show a fit's band and "top 3% of N" from.

Making it sorts every fit of the profile: ~20 ms at 50,000 scores, ~0.5 s at a million
(docs/benchmarks.md, *The distribution of fits kept*). A small profile's is made by the page that
needs it, cached in the process per version of the scores. A big one's (more than
settings.FIT_DISTRIBUTION_INLINE_MAX scores) is made by the worker (scoring.services.
keep_distribution) and kept in the database with the profile's ScoringState.scores_written it
was made at (FitDistribution): every page of every process reads the same one, and a pass in
another profile does not make it again. After the profile's scores change, its pages show the
last one made until the worker's new one lands (~0.5 s at a million): bands and ranks from
cutoffs one pass older, which a pass moves by a few hundredths of a per cent."""

from __future__ import annotations

import time

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from leads.core import queue
from leads.models import Score
from leads.scoring import bands


def score_distribution(profile_id: int) -> bands.Distribution:
    """The profile's fits as quantiles, for bands and ranks (leads/scoring/bands.py): the same for
    every page and request until a score is written."""
    kept = _kept(profile_id)
    if kept is not None:
        distribution, fresh = kept
        if fresh:
            return distribution
        if distribution.total > settings.FIT_DISTRIBUTION_INLINE_MAX:
            _ask_worker(profile_id)
            return distribution
    distribution = _made_here(profile_id)
    if distribution.total > settings.FIT_DISTRIBUTION_INLINE_MAX:
        _ask_worker(profile_id)  # the next pages read it kept
    return distribution


def made_now(profile_id: int) -> tuple[bands.Distribution, int]:
    """The profile's distribution as its scores are now, and the ScoringState.scores_written it
    was read at: one statement, so one snapshot of both."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select (select scores_written from leads_scoringstate where profile_id = %(p)s), count(*),"
            " percentile_cont(%(f)s::float8[]) within group (order by fit) from leads_score"
            " where profile_id = %(p)s",
            {"p": profile_id, "f": bands.FRACTIONS.tolist()},
        )
        written, total, quantiles = cursor.fetchone()
    return bands.Distribution(np.array(quantiles or [], dtype=np.float64), total), written or 0


def _kept(profile_id: int) -> tuple[bands.Distribution, bool] | None:
    """The distribution the worker last kept for the profile, and whether the profile's scores
    are still the ones it was made from; None when none is kept."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select d.quantiles, d.total, d.scores_written = s.scores_written from leads_fitdistribution d"
            " left join leads_scoringstate s using (profile_id) where d.profile_id = %s",
            [profile_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    quantiles, total, fresh = row
    return bands.Distribution(np.array(quantiles, dtype=np.float64), total), bool(fresh)


def _made_here(profile_id: int) -> bands.Distribution:
    """Made by this process, cached under the numbers that every write to the scores moves:
    leads_score_version at the statement (migration 0016), leads_score_published once it is
    committed (scoring.rows.scores_written): a page after a verdict's rescore sees the new
    distribution, and no page keeps an older one."""
    version, published = score_versions()
    key = f"leads:fit-distribution:{profile_id}:{version}:{published}"
    distribution = cache.get(key)
    if distribution is None:
        distribution, _ = made_now(profile_id)
        cache.set(key, distribution, DISTRIBUTION_SECONDS)
    return distribution


# How often one process asks the worker for a big profile's new distribution while its kept one
# is older than the scores (the worker makes it once however often it is asked).
ASK_EVERY_SECONDS = 2.0
_asked: dict[int, float] = {}  # profile id: when this process last asked (monotonic)
# After a send failed (Redis away), pages do not ask for this long: a try costs ~1 s.
QUEUE_DOWN_SECONDS = 30.0


def _ask_worker(profile_id: int) -> None:
    now = time.monotonic()
    if queue.failed_within(QUEUE_DOWN_SECONDS):
        return  # Redis away: the page shows the kept one without a second of trying to reach it
    if now - _asked.get(profile_id, -ASK_EVERY_SECONDS) >= ASK_EVERY_SECONDS:
        _asked[profile_id] = now
        queue.send("leads.keep_fit_distribution", profile_id)


def score_versions() -> tuple[int, int]:
    """The numbers every write to the scores moves: leads_score_version at the statement,
    leads_score_published once it is committed. What is cached of the scores is keyed by both."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select (select last_value from leads_score_version), (select last_value from leads_score_published)"
        )
        return cursor.fetchone()


# A distribution is cached per version of the scores; an hour bounds what old versions keep.
DISTRIBUTION_SECONDS = 3600


def band_of(score: Score | None, distribution: bands.Distribution) -> bands.Band | None:
    """The band of a company's score row (None: not scored)."""
    return None if score is None else distribution.band(score.fit, score.unexplored, score.supported)
