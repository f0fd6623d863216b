"""`manage.py bench_scoring` at a tiny size, end to end: its own database, every figure, nothing left behind.

Run as a subprocess with the test settings (the suite's embedded Postgres under .leads/test), on
a tiny base of clustered random vectors instead of the real model's embeddings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from django.conf import settings

from leads.bench.database import server_connection

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "companies", "labels", "k", "fill_s", "hnsw_build_s", "full_rescore_s", "full_rescore_phases",
    "numpy_floor_s", "ratio_full_to_floor", "sklearn_s", "max_abs_diff_vs_sklearn",
    "incremental_p50_s", "incremental_p95_s", "incremental_max_s", "incremental_by_kind",
    "incremental_mean_rescored", "incremental_matches_full", "dashboard_p95_ms", "search_p95_ms",
    "company_page_p95_ms", "company_page_cold_p95_ms", "dashboard_filters_p95_ms", "similar_p95_ms", "similar_recall_at_10",
    "peak_rss_mb", "peak_rss_mb_db_path",
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


def test_it_measures_every_figure_in_its_own_database_and_drops_it(tmp_path):
    name = f"leads_bench_test_{os.getpid()}"
    command = [
        sys.executable, "manage.py", "bench_scoring", "--companies", "300", "--labels", "30", "--k", "5",
        "--base-vectors", str(clustered_base(tmp_path / "base.npy")), "--database", name,
        "--requests", "5", "--changes", "5", "--similar-queries", "10", "--repeats", "1", "--json-only",
    ]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    run = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert EXPECTED <= figures.keys()
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
