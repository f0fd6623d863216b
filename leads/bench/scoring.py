"""`manage.py bench_scoring`: the whole scoring path at N companies, in one run, in its own database.

Order matters for memory: everything that goes through the database first (fill, full rescore,
label changes, pages, similar companies; with --profiles, then the other profiles: multi_profile),
then the RSS high-water mark of that path, then the in-memory baselines, whose N x 384 arrays only
the final peak includes."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings

from leads.bench import base as bases
from leads.bench import baselines, copies, database, measure, multi_profile
from leads.embedding import active
from leads.models import LabelSource
from leads.profiles import selectors as profiles
from leads.scoring import labels, reads


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _not_sent(task_name: str, *args, **kwargs) -> bool:
    """The benchmark applies label changes itself; a queued task would reach the app's workers,
    whose database is not the benchmark's."""
    return True


@contextlib.contextmanager
def _quiet(logger_name: str):
    """The services log a line per rescore: noise between the progress lines."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def run(
    *,
    companies: int,
    labels_count: int,
    k: int,
    seed: int,
    database_name: str,
    reuse: bool,
    keep: bool,
    base_vectors: Path | None,
    requests: int,
    changes: int,
    similar_queries: int,
    repeats: int,
    log: Callable[[str], None],
    profiles_count: int = 1,
    other_verdict_every: float = 2.0,
) -> dict:
    """The figures (docs/benchmarks.md). With `profiles_count` above 1, those of the first profile as
    without, then the figures of several profiles (multi_profile), the others' reps giving a verdict
    every `other_verdict_every` seconds while each profile's label changes are timed."""
    base = bases.load(base_vectors, log)
    fingerprint = {"companies": companies, "seed": seed, "base": base.digest, "noise": copies.NOISE}
    fingerprint["model"] = active.model_name()
    fingerprint["numbers"] = database.NUMBERS_SHARE  # a fill from before the numbers lacks them
    figures: dict = {"companies": companies, "labels": labels_count, "k": k, "seed": seed}
    figures["load_average_start"] = os.getloadavg()[0]  # other work on the machine skews every figure
    figures["base"] = f"{base.source} ({len(base):,} companies)"
    with (
        override_settings(SCORING_K=k),
        mock.patch("leads.core.queue.send", _not_sent),
        mock.patch("leads.scoring.services.send_in_turn", _not_sent),
        _quiet("leads.scoring"),
        database.bench_database(database_name, fingerprint=fingerprint, reuse=reuse, keep=keep) as stored,
    ):
        if stored is None:
            log(f"filling {database_name} with {companies:,} companies")
            filled = database.fill(base, companies, seed, log)
            database.mark_filled(database_name, {"fingerprint": fingerprint, "figures": filled})
        else:
            log(f"reusing {database_name}, filled earlier with the same companies")
            filled = stored["figures"]
        figures |= filled | {"reused_database": stored is not None, "postgres": _server()}
        figures |= _database_path(base, companies, labels_count, seed, requests, changes, similar_queries, log)
        if profiles_count > 1:
            figures |= multi_profile.database_path(
                base=base,
                companies=companies,
                labels_count=labels_count,
                profiles_count=profiles_count,
                seed=seed,
                changes=changes,
                requests=requests,
                other_verdict_every=other_verdict_every,
                log=log,
            )
        figures["peak_rss_mb_db_path"] = peak_rss_mb()
        figures |= _in_memory(k, repeats, figures.pop("similar_found"), log)
        if profiles_count > 1:
            multi_profile.in_memory(figures, k, repeats, log)
    figures["ratio_full_to_floor"] = figures["full_rescore_s"] / figures["numpy_floor_s"]
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["load_average_end"] = os.getloadavg()[0]
    return figures


def _database_path(base, companies, labels_count, seed, requests, changes, similar_queries, log) -> dict:
    database.reset_labels()
    user, _ = get_user_model().objects.get_or_create(username="bench")
    verdicts = copies.initial_verdicts(base, companies, labels_count, seed)
    labels.label_companies(profile_id=profiles.current_id(), verdicts=verdicts, user=user, source=LabelSource.IMPORT)
    log(f"full rescore: {companies - len(verdicts):,} companies against {len(verdicts):,} labels")
    baselines.warm_up(settings.EMBEDDING_DIMENSIONS, settings.SCORING_K)
    figures = measure.full_rescore()
    with connection.cursor() as cursor:
        cursor.execute("vacuum (analyze) leads_score")  # what autovacuum does next; not timed
    rng = np.random.default_rng([seed, 3])
    log(f"{changes} label changes of each kind, each applied incrementally")
    figures |= measure.incremental(rng, changes, user)
    log("full rescore again, compared with the incremental result")
    figures |= measure.incremental_matches_full()
    log(f"pages: {requests} requests each")
    figures |= measure.pages(rng, requests, user, measure.search_words(base.names, base.descriptions))
    figures |= measure.dashboard_after_a_pass(requests, user, profiles.current_id())
    log("similar companies")
    similar = measure.similar(rng, similar_queries)
    if similar is None:
        log("nearest.similar_companies does not exist (yet): similar_* are null")
        figures |= {"similar_p95_ms": None, "similar_ms": None, "similar_found": None}
    else:
        found = similar.pop("found")
        figures |= similar | {"similar_found": found}
    log("the map: placing every company, then its JSON and page")
    figures |= measure.map_figures(requests, user)
    log("company pages again, the HNSW index in memory")
    figures["vector_index_warmed"] = database.warm_vector_index()
    figures |= measure.company_pages_warm(rng, requests, user)
    return figures


def _in_memory(k: int, repeats: int, similar_found, log) -> dict:
    log("in memory: reading every vector back")
    profile_id = profiles.current_id()  # the benchmark's labels and scores are the first profile's
    labelled = reads.load_labelled_set(profile_id)
    candidate_ids, candidates = baselines.read_candidates(profile_id)
    stored_ids, stored_values = baselines.stored_scores(profile_id)
    if not np.array_equal(candidate_ids, stored_ids):
        raise RuntimeError("the scored companies are not the companies to score")
    log(f"in memory: numpy floor, leads.scoring.knn, scikit-learn (best of {repeats} each)")
    floor_s, floor_values = baselines.best_of(repeats, baselines.numpy_floor, candidates, labelled, k)
    knn_s, _ = baselines.best_of(repeats, baselines.knn_in_memory, candidates, labelled, k)
    sklearn_s, sklearn_values = baselines.best_of(repeats, baselines.sklearn, candidates, labelled, k)
    figures = {
        "numpy_floor_s": floor_s,
        "knn_scores_in_memory_s": knn_s,
        "sklearn_s": sklearn_s,
        "max_abs_diff_vs_sklearn": float(np.max(np.abs(stored_values - sklearn_values), initial=0.0)),
        "max_abs_diff_floor_vs_db": float(np.max(np.abs(stored_values - floor_values), initial=0.0)),
    }
    if similar_found is None:
        figures |= {"similar_recall_at_10": None, "similar_recall": None}
    else:
        figures |= baselines.similar_recall(similar_found, candidates, candidate_ids, labelled)
    return figures


def _server() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "select current_setting('server_version'), (select extversion from pg_extension where extname = 'vector'),"
            " current_setting('shared_buffers'), current_setting('work_mem')"
        )
        version, pgvector, shared_buffers, work_mem = cursor.fetchone()
    return f"PostgreSQL {version}, pgvector {pgvector}, shared_buffers {shared_buffers}, work_mem {work_mem}"
