"""The team's distribution of fits in a profile, for bands and ranks: what every page, export and
the API show a fit's band and "top 3% of N" from.

Making it sorts every fit of the profile: ~20 ms at 50,000 scores, ~0.4 s at a million
(docs/benchmarks.md, *The distribution of fits kept*). A small profile's is made by the page that
needs it, cached in the process per version of the scores. A big one's (more than
settings.FIT_DISTRIBUTION_INLINE_MAX scores) is made by the worker (scoring.services.
keep_distribution) and kept in the database with the profile's ScoringState.scores_written it
was made at (FitDistribution): every page of every process reads the same one, and a pass in
another profile does not make it again. After the profile's scores change, its pages show the
last one made until the worker's new one lands (~0.4 s at a million; behind at most BULK_WINDOW
bulk tasks during an import): bands and ranks from cutoffs one pass older, which a pass moves by a
few hundredths of a per cent. One request waits in the queue a profile, however many processes
ask (queue.send_once); a kept one is made again every KEPT_SECONDS at least."""

from __future__ import annotations

import time

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from leads.core import queue
from leads.models import Score
from leads.scoring import bands


def score_distribution(profile_id: int) -> bands.Distribution:
    """The profile's fits as quantiles, for bands and ranks (leads/scoring/bands.py): the same for
    every page and request until a score is written. One query when kept or cached."""
    versions, kept, fresh = _read(profile_id)
    if kept is not None and fresh:
        return kept
    if kept is not None and kept.total > settings.FIT_DISTRIBUTION_INLINE_MAX:
        _ask_worker(profile_id)
        return kept
    distribution = _made_here(profile_id, versions)
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


def _read(profile_id: int) -> tuple[tuple[int, int], bands.Distribution | None, bool]:
    """In one query: the scores' numbers (score_versions), the distribution the worker last kept
    for the profile (None when none is), and whether the profile's scores are still the ones it
    was made from (and it is younger than KEPT_SECONDS)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"select {_VERSIONS}, d.quantiles, d.total,"
            " d.scores_written = s.scores_written and d.computed_at > now() - make_interval(secs => %s)"
            " from (select) one left join leads_fitdistribution d on d.profile_id = %s"
            " left join leads_scoringstate s on s.profile_id = d.profile_id",
            [KEPT_SECONDS, profile_id],
        )
        version, published, quantiles, total, fresh = cursor.fetchone()
    kept = None if quantiles is None else bands.Distribution(np.array(quantiles, dtype=np.float64), total)
    return (version, published), kept, bool(fresh)


def kept_is_current(profile_id: int) -> bool:
    """A distribution is kept for the profile, made from its scores as they are and younger than
    KEPT_SECONDS: the worker has nothing to make (scoring.services.keep_distribution)."""
    _, kept, fresh = _read(profile_id)
    return kept is not None and fresh


def _made_here(profile_id: int, versions: tuple[int, int]) -> bands.Distribution:
    """Made by this process, cached under the numbers that every write to the scores moves:
    leads_score_version at the statement (migration 0016), leads_score_published once it is
    committed (scoring.rows.scores_written): a page after a verdict's rescore sees the new
    distribution, and no page keeps an older one."""
    version, published = versions
    key = f"leads:fit-distribution:{profile_id}:{version}:{published}"
    distribution = cache.get(key)
    if distribution is None:
        distribution, _ = made_now(profile_id)
        cache.set(key, distribution, DISTRIBUTION_SECONDS)
    return distribution


# A kept distribution is made again at least this often while pages read it: its number moves
# after the commit of the scores it follows, so a worker killed between the two would leave it
# looking current until the profile's next write.
KEPT_SECONDS = 600

# How often one process asks the worker for a big profile's new distribution while its kept one
# is older than the scores (the worker makes it once however often it is asked).
ASK_EVERY_SECONDS = 2.0
_asked: dict[int, float] = {}  # profile id: when this process last asked (monotonic)
# After a send failed (Redis away), pages do not ask for this long: a try costs ~1 s.
QUEUE_DOWN_SECONDS = 30.0


def _ask_worker(profile_id: int) -> None:
    """Ask a bulk worker to make the profile's distribution again: after this transaction (a pass
    reading bands holds the scores lock), at most one waiting in the queue a profile whatever the
    processes (queue.send_once), and from one process at most every ASK_EVERY_SECONDS."""
    now = time.monotonic()
    if queue.failed_within(QUEUE_DOWN_SECONDS):
        return  # Redis away: the page shows the kept one without a second of trying to reach it
    if now - _asked.get(profile_id, -ASK_EVERY_SECONDS) >= ASK_EVERY_SECONDS:
        _asked[profile_id] = now
        transaction.on_commit(
            lambda: queue.send_once("leads.keep_fit_distribution", profile_id, key=ask_key(profile_id), seconds=60)
        )


def ask_key(profile_id: int) -> str:
    """send_once's key for a profile's distribution, per database (two installations may share a Redis)."""
    return f"fit-distribution:{connection.settings_dict['NAME']}:{profile_id}"


def score_versions() -> tuple[int, int]:
    """The numbers every write to the scores moves: leads_score_version at the statement,
    leads_score_published once it is committed. What is cached of the scores is keyed by both."""
    with connection.cursor() as cursor:
        cursor.execute(f"select {_VERSIONS}")
        return cursor.fetchone()


_VERSIONS = "(select last_value from leads_score_version), (select last_value from leads_score_published)"


# A distribution is cached per version of the scores; an hour bounds what old versions keep.
DISTRIBUTION_SECONDS = 3600


def band_of(score: Score | None, distribution: bands.Distribution) -> bands.Band | None:
    """The band of a company's score row (None: not scored)."""
    return None if score is None else distribution.band(score.fit, score.unexplored, score.supported)
