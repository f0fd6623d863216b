"""`manage.py bench_scoring` at a tiny size, end to end: its own database, every figure, nothing left behind;
with --profiles 2, the figures of each profile too.

Run as a subprocess with the test settings (the suite's embedded Postgres under .leads/test), on
a tiny base of clustered random vectors instead of the real model's embeddings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from leads.bench.database import server_connection

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "companies", "labels", "k", "fill_s", "hnsw_build_s", "full_rescore_s", "full_rescore_phases",
    "numpy_floor_s", "ratio_full_to_floor", "sklearn_s", "max_abs_diff_vs_sklearn",
    "incremental_p50_s", "incremental_p95_s", "incremental_max_s", "incremental_by_kind",
    "incremental_mean_rescored", "incremental_matches_full", "vector_copy_load_s", "vector_copy_bytes", "dashboard_p95_ms", "search_p95_ms",
    "dashboard_after_a_pass_p95_ms", "company_page_p95_ms", "company_page_cold_p95_ms", "dashboard_filters_p95_ms", "similar_p95_ms", "similar_recall_at_10",
    "peak_rss_mb", "peak_rss_mb_db_path",
}  # fmt: skip
# Only with --profiles above 1 (leads/bench/multi_profile.py).
PROFILE_FIGURES = {
    "profiles", "by_profile", "profiles_worst", "profile_full_rescore", "profile_pages", "thresholds_memory",
    "score_disk",
}  # fmt: skip


def clustered_base(path: Path) -> Path:
    """40 unit vectors around 8 topics: near neighbours, as real embeddings have."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((8, 384))[rng.integers(8, size=40)] + 0.3 * rng.standard_normal((40, 384))
    np.save(path, (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32))
    return path


def databases() -> set[str]:
    with server_connection(settings.DATABASES["default"]) as conn:
        return {row[0] for row in conn.execute("select datname from pg_database")}


def bench(tmp_path, name: str, *extra: str) -> dict:
    """The figures of `bench_scoring` at 300 companies, 30 labels, k = 5, in database `name`."""
    command = [
        sys.executable, "manage.py", "bench_scoring", "--companies", "300", "--labels", "30", "--k", "5",
        "--base-vectors", str(clustered_base(tmp_path / "base.npy")), "--database", name,
        "--requests", "5", "--changes", "5", "--similar-queries", "10", "--repeats", "1", "--json-only", *extra,
    ]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    run = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_it_measures_every_figure_in_its_own_database_and_drops_it(tmp_path):
    name = f"leads_bench_test_{os.getpid()}"
    figures = bench(tmp_path, name)

    assert EXPECTED <= figures.keys()
    assert not PROFILE_FIGURES & figures.keys()  # one profile: the figures as before profiles
    assert (figures["companies"], figures["labels"], figures["k"]) == (300, 30, 5)
    assert figures["incremental_matches_full"] is True
    assert figures["scored"] == 270  # every unlabelled company
    assert figures["max_abs_diff_vs_sklearn"] < 1e-6
    assert set(figures["incremental_by_kind"]) == {"like", "flip", "clear"}
    assert all(kind["mean_rescored"] >= 1 for kind in figures["incremental_by_kind"].values())
    assert 0 < figures["incremental_p50_s"] <= figures["incremental_p95_s"] <= figures["incremental_max_s"] < 10
    assert 0 < figures["numpy_floor_s"] < figures["full_rescore_s"] < 10
    assert set(figures["dashboard_filters_p95_ms"]) == {"unlabelled", "liked", "disliked"}
    assert 0 < figures["dashboard_p95_ms"] < 5000
    assert 0 < figures["peak_rss_mb_db_path"] <= figures["peak_rss_mb"] < 4000
    if figures["similar_p95_ms"] is not None:  # nearest.similar_companies exists
        assert figures["similar_recall_at_10"] > 0.5
    assert name not in databases()


def test_with_two_profiles_each_is_measured_and_its_incremental_passes_equal_its_full_rescore(tmp_path):
    name = f"leads_bench_test_profiles_{os.getpid()}"
    figures = bench(tmp_path, name, "--profiles", "2", "--other-verdict-every", "0.05")

    assert EXPECTED | PROFILE_FIGURES <= figures.keys()
    assert figures["incremental_matches_full"] is True  # the first profile's figures, as without --profiles
    assert figures["profiles"] == 2
    by_profile = figures["by_profile"]
    first, other = sorted(by_profile, key=int)
    assert all(by_profile[p]["labels"] == 30 for p in by_profile)
    for profile in (first, other):
        each = by_profile[profile]
        assert each["incremental_matches_full"] is True, profile
        assert each["incremental_mismatches"] == 0
        assert 0 < each["incremental_p50_s"] <= each["incremental_p95_s"] <= each["incremental_max_s"] < 10
        assert set(each["incremental_by_kind"]) == {"like", "flip", "clear"}
        # The other profile's reps labelled, each verdict followed by its pass, while these changes were timed.
        assert each["others"]["profiles"] == [int(p) for p in by_profile if p != profile]
        assert each["others"]["verdicts"] >= 1 and each["others"]["verdict_to_scores_p95_s"] > 0
        assert 0 < each["full_rescore_again_s"] < 10
        assert each["score_rows"] > 0 and each["score_row_bytes"] > 0 and each["thresholds_copy_bytes"] > 0
    assert by_profile[other]["scored"] == 270 and by_profile[other]["other_profiles_scored"] == 1
    worst = figures["profiles_worst"]
    assert worst["incremental_p95_s"] == max(by_profile[p]["incremental_p95_s"] for p in by_profile)
    assert worst["incremental_matches_full"] is True
    full = figures["profile_full_rescore"]
    assert full["profile_id"] == int(other)
    assert 0 < full["numpy_floor_s"] < full["full_rescore_s"] < 10
    assert full["ratio_full_to_floor"] == worst["ratio_full_to_floor"] > 1
    assert full["max_abs_diff_floor_vs_db"] < 1e-6
    pages = figures["profile_pages"]
    assert pages["profile_id"] == int(other)
    assert {"dashboard", "search", "company_page", "map_points", "map_page"} <= pages["pages_ms"].keys()
    assert 0 < pages["dashboard_p95_ms"] <= pages["worst_p95_ms"] == worst["page_p95_ms"] < 5000
    assert 0 < pages["dashboard_after_a_pass_p95_ms"] <= pages["worst_p95_ms"]
    # One copy of the k-th distances per profile passed through: none for a profile only rescored.
    memory = figures["thresholds_memory"]
    assert memory["after_full_rescores"]["profiles_scored"] == 2 and memory["after_full_rescores"]["copies"] == 1
    assert [step["copies"] for step in memory["by_profiles_passed"]] == [1, 2]
    assert memory["grows_by_profiles_passed"] is True
    assert memory["after_labelling"]["copies"] == 2
    assert memory["after_labelling"]["bytes"] == pytest.approx(sum(memory["bytes_per_copy"].values()), abs=8)
    disk = figures["score_disk"]
    assert disk["rows"] == sum(by_profile[p]["score_rows"] for p in by_profile)
    assert 0 < disk["compacted"]["total"] <= disk["as_is"]["total"]
    for profile in by_profile:  # each profile's scores in its own partition, with its own indexes
        own = by_profile[profile]
        assert own["table"] == f"leads_score_profile_{profile}"
        assert 0 < own["score_bytes_compacted"] == own["compacted"]["total"] <= own["as_is"]["total"]
        assert len(own["compacted"]["index_bytes"]) == 4  # the key, best fit first, version, company
    assert disk["compacted"]["total"] == sum(by_profile[p]["score_bytes_compacted"] for p in by_profile)
    assert disk["at_10_profiles_bytes"] == pytest.approx(10 * disk["bytes_per_profile"])
    assert name not in databases()


def test_a_benchmark_s_child_process_can_run_functions_of_modules_that_need_django():
    """The base companies are embedded in a spawned child (base.embedded_once, compare_encoders):
    unpickling the task imports its module, whose imports need Django's app registry. Without
    Django set up first the child died (BrokenProcessPool) on every machine without a cache."""
    from leads.bench import base

    with base.child_process() as pool:
        rows = pool.submit(base._demo_rows, base.DEMO_CSV).result(timeout=120)
    assert rows == base._demo_rows(base.DEMO_CSV) and len(rows) > 10
