"""`manage.py bench_embedding` on a tiny sample, end to end: its own database and queue, a real
worker and the real model, every figure, nothing left behind. Timings are never asserted.

Run as a subprocess with the test settings (the suite's embedded Postgres under LEADS_HOME)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from leads.bench.database import server_connection
from leads.core import devstack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "source", "model", "dimensions", "companies", "workers", "labels", "batch_size", "batches", "scored",
    "model_load_s", "bare_s", "pipeline_s", "pipeline_per_s", "bare_per_s", "ratio",
}  # fmt: skip


def databases() -> set[str]:
    with server_connection(settings.DATABASES["default"]) as conn:
        return {row[0] for row in conn.execute("select datname from pg_database")}


@pytest.mark.e2e
def test_it_embeds_through_a_real_worker_and_compares_with_a_bare_encode():
    name = f"leads_bench_embedding_test_{os.getpid()}"
    command = [
        sys.executable, "manage.py", "bench_embedding", "--companies", "12", "--workers", "1", "--labels", "6",
        "--database", name, "--timeout", "300", "--json-only",
    ]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "EMBEDDING_BATCH_SIZE": "5"}
    run = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)

    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert EXPECTED <= figures.keys()
    assert (figures["companies"], figures["workers"], figures["labels"], figures["batch_size"]) == (12, 1, 6, 5)
    assert (figures["model"], figures["dimensions"]) == ("all-MiniLM-L6-v2", 384)
    assert figures["batches"] == 3  # 12 companies in batches of 5
    assert figures["scored"] == 12  # each timed company went from text to score
    assert isinstance(figures["ratio"], float) and figures["ratio"] > 0
    assert figures["pipeline_per_s"] > 0 and figures["bare_per_s"] > 0
    assert name not in databases()
    assert not devstack.stop_redis(Path(settings.LEADS_HOME) / "bench" / "embedding")  # its queue is gone


def test_it_says_how_many_companies_the_sample_can_have():
    with pytest.raises(CommandError, match="Ask for fewer with --companies"):
        call_command("bench_embedding", companies=10_000_000, json_only=True)


def test_it_refuses_a_database_name_without_bench(db):
    with pytest.raises(CommandError, match="with 'bench' in the name"):
        call_command("bench_embedding", companies=5, database="leads", json_only=True)
