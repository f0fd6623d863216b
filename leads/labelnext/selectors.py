"""What to label next, read from the database and ranked by `leads.labelnext.choice`.

Bounded whatever the number of companies: the candidates are a random sample of at most
SAMPLE_SIZE scored companies (Postgres `TABLESAMPLE SYSTEM`, which reads only the sampled pages),
and their stored Score rows give the current score and neighbour distances, so nothing is searched
again; only the labelled set is read whole (as every rescore does). At 1M companies that is ~20,000
vectors and score rows read and the ranking's 20,000 x 2,000 distances, the same at 100k or 10M
(docs/benchmarks.md, *Figures behind the design*).

While nothing is labelled there is no score to read: `cold_start_sample` clusters a sample of
SPREAD_SAMPLE vectors instead."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Q

from leads.labelnext import choice as labelnext
from leads.models import Company, CompanyEmbedding, Score
from leads.scoring import reads

SAMPLE_SIZE = 20_000


@dataclass(frozen=True)
class Suggestion:
    company: Company  # read in the profile (Company.objects.in_profile): its score there loaded, when it has one
    reason: str  # labelnext.UNCERTAIN / UNEXPLORED / INFLUENTIAL
    detail: str  # one sentence for the rep: why this one


def label_next(limit: int = 50, *, profile_id: int, sample_size: int = SAMPLE_SIZE, seed: int = 0) -> list[Suggestion]:
    """The companies unlabelled in the profile whose verdict would teach its scorer most, best
    first, each with its reason; a spread of the companies (`cold_start_sample`) while nothing is
    labelled there."""
    labelled = reads.load_labelled_set(profile_id)
    if len(labelled) == 0:
        return cold_start_sample(limit, profile_id=profile_id, seed=seed)
    company_ids, vectors = _read_sample(profile_id, Score.partition(profile_id), sample_size, seed)
    # Fit, not the plain score: what the rep sees, so "its neighbours disagree" is true of the row.
    rows = Score.objects.filter(profile_id=profile_id, company__any_of=company_ids.tolist()).values_list(
        "company_id", "fit", "neighbour_distances", "unexplored"
    )
    stored = {company_id: (fit, distances, unexplored) for company_id, fit, distances, unexplored in rows}
    # A score deleted since the sample was read (its company labelled meanwhile): leave it out.
    keep = np.array([company_id in stored for company_id in company_ids.tolist()], dtype=bool)
    company_ids, vectors = company_ids[keep], vectors[keep]
    chosen = [stored[company_id] for company_id in company_ids.tolist()]
    values, distances = _score_arrays([(fit, neighbour_distances) for fit, neighbour_distances, _ in chosen])
    unexplored = np.array([far for _, _, far in chosen], dtype=bool)
    if not len(company_ids):  # the first labels, scores not written yet: score a sample here
        company_ids, vectors = _read_sample(profile_id, CompanyEmbedding._meta.db_table, sample_size, seed)
        values = distances = unexplored = None
    ranking = labelnext.rank(
        vectors, labelled.vectors, labelled.labels, limit=limit, k=settings.SCORING_K, scores=values,
        neighbour_distances=distances, unexplored=unexplored, seed=seed,
    )  # fmt: skip
    return _suggestions(profile_id, company_ids, ranking)


def cold_start_sample(
    limit: int = 50, *, profile_id: int, sample_size: int = labelnext.SPREAD_SAMPLE, seed: int = 0
) -> list[Suggestion]:
    """`limit` companies unlabelled in the profile spread over the embedding space, each standing
    for a cluster of similar ones, biggest first: where to start when nothing is labelled."""
    company_ids, vectors = _read_sample(profile_id, CompanyEmbedding._meta.db_table, sample_size, seed)
    return _suggestions(profile_id, company_ids, labelnext.spread(vectors, limit, seed=seed))


def low_confidence_threshold(profile_id: int) -> float:
    """Cosine distance beyond which a company is unlike anything labelled in the profile yet (see
    `labelnext.low_confidence_threshold`); compare a score's nearest neighbour distance with
    `labelnext.is_low_confidence`. Reads the labelled set: compute it once per page, not per row."""
    return labelnext.low_confidence_threshold(reads.load_labelled_set(profile_id).vectors)


def _read_sample(profile_id: int, table: str, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of at most `size` companies the profile scores (unlabelled there,
    with a current vector), at random, from the rows of `table` (a table with a company_id column)."""
    company_ids, vectors = reads.read_candidates(Q(company_id__any_of=_sample_ids(table, size, seed)), profile_id)
    if len(company_ids) > size:
        keep = np.sort(np.random.default_rng(seed).choice(len(company_ids), size, replace=False))
        company_ids, vectors = company_ids[keep], vectors[keep]
    return company_ids, vectors


def _sample_ids(table: str, size: int, seed: int) -> list[int]:
    """Company ids of about `size` rows of `table`, at random but the same for a seed.

    TABLESAMPLE SYSTEM reads whole pages at random, only those (4% of the scores at 1M companies),
    where ORDER BY random() reads and sorts every row. It asks for twice `size` rows: some will not be candidates (labelled,
    stale), and pages vary in how many rows they hold."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute("select reltuples::bigint from pg_class where oid = %s::regclass", [table])
        estimate = cursor.fetchone()[0]
        if estimate < 4 * size:  # small, or never analysed (-1): read every id, still cheap
            cursor.execute(f"select company_id from {quoted}")
        else:
            percent = 100.0 * 2 * size / estimate
            cursor.execute(f"select company_id from {quoted} tablesample system (%s) repeatable (%s)", [percent, seed])
        ids = np.unique(np.array([row[0] for row in cursor.fetchall()], dtype=np.int64))
    if len(ids) > 2 * size:
        ids = np.sort(np.random.default_rng(seed).choice(ids, 2 * size, replace=False))
    return ids.tolist()


def _score_arrays(rows: list[tuple[float, list[float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Stored scores and neighbour distances as arrays; rows with fewer neighbours padded with NaN
    (scores written while fewer than k companies were labelled)."""
    width = max((len(distances) for _, distances in rows), default=0)
    distances = np.full((len(rows), width), np.nan)
    for row, (_, neighbour_distances) in enumerate(rows):
        distances[row, : len(neighbour_distances)] = neighbour_distances
    return np.array([value for value, _ in rows], dtype=np.float64), distances


def _suggestions(profile_id: int, company_ids: np.ndarray, ranking: labelnext.Ranking) -> list[Suggestion]:
    chosen = company_ids[ranking.rows].tolist()
    companies = Company.objects.in_profile(profile_id).in_bulk(chosen)
    return [
        Suggestion(
            company=companies[company_id], reason=ranking.reasons[i], detail=_detail(ranking, i, companies[company_id])
        )
        for i, company_id in enumerate(chosen)
        if company_id in companies  # deleted since it was read
    ]


def _detail(ranking: labelnext.Ranking, i: int, company: Company) -> str:
    reason, score, reach = ranking.reasons[i], ranking.scores[i], ranking.reach[i]
    if np.isnan(score):
        return f"Nothing is labelled yet: it stands for a group of about {reach:.1%} of the companies."
    if reason == labelnext.UNEXPLORED:
        similar = max(0, round(100 * (1.0 - ranking.nearest_distances[i])))
        return (
            f"Nothing labelled is close: the most similar labelled company is only {similar}% alike. "
            "One verdict here tells the scorer about companies like it."
        )
    if reason == labelnext.UNCERTAIN:
        # No fit in the words: the row's cell shows it, fresh after every verdict, where this list
        # is made once a visit. Not "none is close" either: an uncertain pick is not unexplored, so
        # some labelled company is close (a liked one, even, when its band is strong or likely).
        plain = company.score.value if getattr(company, "score", None) else score
        if abs(plain) >= labelnext.UNCERTAIN_BELOW:  # the vote leans one way, the close evidence does not say it firmly
            leaning = "a fit" if plain > 0 else "not a fit"
            return (
                f"Its labelled neighbours lean to {leaning} (score {plain:+.2f}), but the close ones are too few "
                "or too mixed to be sure."
            )
        return "Its labelled neighbours disagree: some you liked, some you disliked, about as close."
    if reason == labelnext.CONFIRM:
        return (
            "The scorer is fairly sure of it, and no unlabelled company is nearer to it than to what you "
            "labelled: a verdict here checks this one and teaches little else."
        )
    return f"Unlabelled companies lie around it: a verdict here would be the nearest labelled one for {_share(ranking, i)} of them."


def _share(ranking: labelnext.Ranking, i: int) -> str:
    """An influential pick's reach in words: a percentage where it rounds to one, else a count of
    the sample it was measured on ("1 in 53"), never "0.0%"."""
    reach = float(ranking.reach[i])
    if reach >= 0.015 or not ranking.reference_size:
        return f"about {reach:.0%}"
    return f"{max(1, round(reach * ranking.reference_size)):,} in {ranking.reference_size:,}"
