"""The team's distribution of fits in a profile, for bands and ranks, cached per version of the
scores: what every page, export and the API show a fit's band and "top 3% of N" from."""

from __future__ import annotations

import numpy as np
from django.core.cache import cache
from django.db import connection

from leads.models import Score
from leads.scoring import bands


def score_distribution(profile_id: int) -> bands.Distribution:
    """The profile's fits as quantiles, for bands and ranks (leads/scoring/bands.py): the same for every page
    and request until a score is written. Computing it sorts every fit, slow at a million
    (docs/benchmarks.md, *Figures behind the design*), so it is cached under the numbers that every
    write to the scores moves: leads_score_version at the statement (migration 0016),
    leads_score_published once it is committed (score_rows): a page after a verdict's rescore sees
    the new distribution, and no page keeps an older one."""
    version, published = score_versions()
    key = f"leads:fit-distribution:{profile_id}:{version}:{published}"
    distribution = cache.get(key)
    if distribution is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "select count(*), percentile_cont(%s::float8[]) within group (order by fit) from leads_score"
                " where profile_id = %s",
                [bands.FRACTIONS.tolist(), profile_id],
            )
            total, quantiles = cursor.fetchone()
        distribution = bands.Distribution(np.array(quantiles or [], dtype=np.float64), total)
        cache.set(key, distribution, DISTRIBUTION_SECONDS)
    return distribution


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
