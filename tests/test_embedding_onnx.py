"""minilm-int8: the packaged all-MiniLM-L6-v2 weights as an int8 ONNX model under onnxruntime,
made on first use and cached under LEADS_HOME/models. Its vectors must stay near the torch model's
(same tokeniser, pooling and normalisation), and a made file must be reused, never made twice."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from leads.embedding import active
from leads.embedding import encoders as embedding

INT8 = embedding.ENCODERS["minilm-int8"]
TORCH = embedding.ENCODERS["minilm"]
needs_onnxruntime = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="onnxruntime and onnx not installed: pip install -e '.[onnx]' (make install)",
)
TEXTS = [
    "A brewery making lager and stout beer.",
    "Cloud software for code review.",
    "Payments API for online marketplaces.",
    "Telehealth clinic for mental health.",
    "Solar panels and battery storage for homes.",
    "An open-source database for time series.",
    "Payroll and HR software for small businesses.",
    "Gene therapy for rare diseases.",
    "AI assistant that drafts legal contracts.",
    "Electric delivery vans for city logistics, sold to fleets across Europe and North America.",
]


def test_the_int8_encoder_is_a_packaged_encoder_of_its_own_name():
    assert embedding.encoder_for("minilm-int8") == embedding.encoder_for(" MiniLM-INT8 ") == INT8
    assert (INT8.stored_name, INT8.dimensions, INT8.library) == ("all-MiniLM-L6-v2-onnx-int8", 384, "onnxruntime")
    assert embedding.dimensions_for("minilm-int8") == 384
    # not minilm's stored name: its vectors differ slightly, so switching re-embeds
    assert INT8.stored_name != embedding.encoder_for("minilm").stored_name


def test_a_missing_onnxruntime_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the extra were not installed
    with pytest.raises(ImproperlyConfigured, match=r"'minilm-int8' needs onnxruntime: pip install -e '\.\[onnx\]'"):
        embedding._library_encoder.__wrapped__(INT8)  # uncached: the real encoder stays cached for the tests below


@needs_onnxruntime
def test_int8_vectors_are_unit_length_and_near_the_torch_model_s():
    int8 = active.encode(TEXTS, using=INT8)
    reference = active.encode(TEXTS, using=TORCH)
    assert int8.shape == (len(TEXTS), 384) and int8.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(int8 * reference, axis=1)
    assert cosines.min() >= 0.98, cosines
    # order within a call does not matter (texts are batched longest first, then put back)
    assert np.allclose(active.encode(TEXTS[::-1], using=INT8)[::-1], int8, atol=1e-5)


@needs_onnxruntime
def test_a_second_load_reuses_the_cached_file(monkeypatch):
    active.load(INT8)  # makes the file when this LEADS_HOME has none yet
    path = embedding.int8_model_path()
    made_at = path.stat().st_mtime_ns

    def make_again(source, target):
        raise AssertionError("made the ONNX file again")

    monkeypatch.setattr(embedding, "_make_int8_model", make_again)
    encode_texts = embedding._loaded.__wrapped__(INT8)  # a fresh load, as a second worker's
    assert np.asarray(encode_texts(["dimension check"])).shape == (1, 384)
    assert path.stat().st_mtime_ns == made_at


def test_processes_starting_at_once_make_the_file_once(monkeypatch, settings, tmp_path):
    """The file lock: the second waits for the first and reuses its file (flock also holds
    between two threads that open the lock file separately, so threads stand in for workers)."""
    settings.LEADS_HOME = tmp_path
    made = []

    def slow_make(source, target):
        made.append(target)
        time.sleep(0.3)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"onnx")

    monkeypatch.setattr(embedding, "_make_int8_model", slow_make)
    monkeypatch.setattr(embedding, "_packaged_minilm", lambda: tmp_path / "weights")
    paths = []
    workers = [threading.Thread(target=lambda: paths.append(embedding.int8_model_file())) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(made) == 1
    assert paths == [embedding.int8_model_path()] * 2
    assert paths[0].parent == tmp_path / "models" and paths[0].read_bytes() == b"onnx"


def test_compare_encoders_figures_are_json_even_where_an_auc_is_undefined():
    """A small sample can leave a rare profile without a like in its held-out set (AUC NaN)."""
    from leads.bench import encoder_comparison
    from leads.bench.evaluation import Measurement

    def runs(aucs):
        return [Measurement("climate", "random", seed, 50, 1, auc, 0.5, auc, 0.5) for seed, auc in enumerate(aucs)]

    vectors = np.eye(3, 384, dtype=np.float32)
    per_encoder = {name: {"per_s": per_s, "per_s_rounds": [per_s]} for name, per_s in (("a", 50.0), ("b", 125.0))}
    per_encoder["a"] |= encoder_comparison._auc_figures(runs([0.8, float("nan"), 0.7]))
    against = encoder_comparison._against(
        "a",
        per_encoder,
        {"a": vectors, "b": vectors},
        {"a": runs([0.8, np.nan, 0.7]), "b": runs([0.9, np.nan, 0.7])},
        "b",
    )
    json.dumps(per_encoder | {"b": against}, allow_nan=False)
    assert (per_encoder["a"]["auc"], per_encoder["a"]["auc_undefined_runs"]) == (pytest.approx(0.75), 1)
    assert against["throughput_ratio"] == 2.5 and against["mean_cosine_to_a"] == pytest.approx(1.0)
    assert against["auc_minus_a"] == pytest.approx(0.05)
    assert against["auc_higher_than_a"] == "1 of 2 runs (1 equal)"


def write_labelled(path, rows, header="name,description,labels"):
    path.write_text(
        header + "\n" + "".join(f'{name},"{text}",{labels}\n' for name, text, labels in rows), encoding="utf-8"
    )
    return path


def test_an_evaluation_file_with_labels_of_its_own_gives_a_rep_per_common_label(tmp_path):
    """The non-English sets (leads/bench/data): a rep per label, the labels never in the text."""
    from leads.bench import encoder_comparison, evaluation

    rows = [(f"社{i}", f"説明 {i}", "情報・通信業" if i % 3 == 0 else "小売業;サービス業" if i % 3 == 1 else "")
            for i in range(60)] + [("空", "", "小売業")]  # fmt: skip
    path = write_labelled(tmp_path / "ja.csv", rows)

    names, descriptions, labels = evaluation.read_labelled(path)
    assert len(names) == 60  # the row without a description is left out
    assert labels[1] == frozenset({"小売業", "サービス業"}) and labels[2] == frozenset()
    profiles = evaluation.label_profiles(labels, min_companies=20, max_share=0.35)
    assert [p.name for p in profiles] == ["サービス業", "小売業", "情報・通信業"]  # 20 each; ties by name
    assert evaluation.label_profiles(labels, max_share=0.3) == []  # a third each is too common

    source, texts, liked = encoder_comparison._labelled_companies(path, 30, seed=7)
    assert source == "ja.csv" and len(texts) == 30 and set(liked) == {"サービス業", "小売業", "情報・通信業"}
    assert not any("業" in text for text in texts)  # the encoder sees names and descriptions only
    sampled = [labels[int(text.rsplit(" ", 1)[1])] for text in texts]  # "説明 i" ends each text
    for profile, flags in liked.items():
        assert flags.dtype == bool and flags.tolist() == [profile in company for company in sampled]


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "No such file"),
        ("name,text\nA,b\n", "has no column description, labels"),
        ("name,description,labels\nA,b,x\n", "ask for 1 to 1 with --companies"),
    ],
)
def test_compare_encoders_says_what_is_wrong_with_a_data_file(tmp_path, content, message):
    from django.core.management import CommandError, call_command

    path = tmp_path / "set.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        call_command("compare_encoders", "--data", str(path), "--companies", "5", "--encoders", "minilm,multilingual")


@pytest.mark.parametrize("language", ["it", "fr", "pt", "es", "en"])
def test_the_committed_language_sets_give_five_reps_and_no_code_in_the_text(language):
    """leads/bench/data: what docs/evaluation.md's table was measured on."""
    import re

    from django.conf import settings

    from leads.bench import evaluation

    path = settings.BASE_DIR / "leads" / "bench" / "data" / f"activities-{language}.csv"
    names, descriptions, labels = evaluation.read_labelled(path)
    assert len(descriptions) >= 400 and len(set(descriptions)) == len(descriptions)
    assert set(names) == {""} and all(len(company) == 1 for company in labels)  # one section each
    assert len(evaluation.label_profiles(labels)) == 5
    assert not [text for text in descriptions if re.search(r"\b\d{2}\.\d", text)]  # no class code
