"""Encoders side by side on the same real companies, behind `manage.py compare_encoders`: is a
faster encoder (minilm-int8) as good as the default?

For each encoder, in a child process of its own (so that its load time and peak memory are its
own): load, warm up on one batch, then a bare encode of the companies' texts, shortest first,
`batch` texts a call (as the workers send them, leads.bench.embedding.bare_encode). Rounds
alternate the order, since the load of a shared machine changes from minute to minute.

Then, against the reference encoder (the first named, minilm by default): the cosine between the
two vectors of each company, and the ranking quality of both on the same simulated reps
(leads.bench.evaluation: per profile and seed, the same held-out quarter and seed labels, then random
labels up to `labels`; ROC AUC of the inverse-distance kNN scores on the held-out companies)."""

from __future__ import annotations

import os
import resource
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.core.management.base import CommandError

from leads.bench import evaluation
from leads.bench.base import DEMO_CSV, YC_CSV, _demo_rows, _yc_rows
from leads.bench.base import child_process as _child
from leads.companies.identity import embedding_text
from leads.embedding import active
from leads.embedding import encoders as embedding


def run(
    *,
    companies: int | None,
    batch: int,
    encoders: list[str],
    rounds: int,
    seeds: list[int],
    labels: int,
    k: int,
    sample_seed: int,
    log: Callable[[str], None],
    data: Path | None = None,
) -> dict:
    """The figures of one comparison (the module's docstring says what each is). `data`: an
    evaluation file with labels of its own (evaluation.read_labelled) instead of the YC directory."""
    specs = {name: embedding.encoder_for(name) for name in encoders}
    source, texts, targets = (
        _labelled_companies(data, companies, sample_seed) if data else _companies(companies, sample_seed)
    )
    if labels > len(texts) * (1 - evaluation.TEST_FRACTION) - 1:
        raise CommandError(f"{labels} labels need more than {len(texts)} companies (a quarter is held out)")
    figures = {"source": source, "companies": len(texts), "batch": batch, "rounds": rounds, "cpus": os.cpu_count()}
    if any(spec.library == "onnxruntime" for spec in specs.values()):
        made = _ensure_onnx_file(log)  # once, untimed: a first load would otherwise include the export
        if made is not None:
            figures["onnx_file_made_s"] = made
    per_encoder = {name: {"stored_name": spec.stored_name, "per_s_rounds": [], "load_s_rounds": []} for name, spec in specs.items()}  # fmt: skip
    vectors = {}
    for number in range(rounds):
        for name in encoders if number % 2 == 0 else encoders[::-1]:
            log(f"round {number + 1}: {name}, {len(texts):,} texts in batches of {batch}")
            measured, vectors[name] = _in_child(name, texts, batch)
            per_encoder[name]["per_s_rounds"].append(measured["per_s"])
            per_encoder[name]["load_s_rounds"].append(measured["load_s"])
            per_encoder[name]["peak_rss_mb"] = max(per_encoder[name].get("peak_rss_mb", 0), measured["peak_rss_mb"])
    for figures_of in per_encoder.values():
        figures_of["per_s"] = float(np.mean(figures_of["per_s_rounds"]))
        figures_of["load_s"] = float(np.median(figures_of["load_s_rounds"]))
    reference = encoders[0]
    log(f"ranking quality: {len(targets)} profiles x {len(seeds)} seeds, random labels up to {labels}, k = {k}")
    runs = {name: _ranking_runs(vectors[name], targets, seeds, labels, k) for name in encoders}
    for name in encoders:
        per_encoder[name] |= _auc_figures(runs[name])
    for name in encoders[1:]:
        per_encoder[name] |= _against(reference, per_encoder, vectors, runs, name)
    figures["encoders"] = per_encoder
    figures["ranking"] = {"strategy": "random", "labels": labels, "k": k, "seeds": seeds, "profiles": list(targets)}
    return figures


# --- The companies -----------------------------------------------------------------------------


def _companies(count: int | None, seed: int) -> tuple[str, list[str], dict[str, np.ndarray]]:
    """`count` companies sampled from the YC directory (when ../shared/data has it; the profiles
    over its tags say who likes what) or the demo CSV (its own like/dislike column): their texts
    as the app embeds them and, per profile, which of them are liked."""
    if YC_CSV.exists():
        source, rows = YC_CSV.name, _yc_rows(YC_CSV)
        tags = evaluation.read_tags(YC_CSV)  # the same file order as _yc_rows
        liked = evaluation.targets(tags, evaluation.PROFILES.values())
    else:
        source, rows = DEMO_CSV.name, _demo_rows(DEMO_CSV)
        liked = {"demo-labels": np.array([row[4] for row in rows], dtype=bool)}
    count = 1000 if count is None else count
    if count < 1 or count > len(rows):
        raise CommandError(f"{source} has {len(rows):,} companies: ask for 1 to {len(rows):,} with --companies")
    picked = np.random.default_rng(seed).permutation(len(rows))[:count]
    texts = [embedding_text(name=rows[i][0], description=rows[i][1], industry=rows[i][2]) for i in picked]
    return source, texts, {profile: flags[picked] for profile, flags in liked.items()}


def _labelled_companies(path: Path, count: int | None, seed: int) -> tuple[str, list[str], dict[str, np.ndarray]]:
    """`count` companies sampled from an evaluation file (leads/bench/data), and a simulated rep
    per common label (evaluation.label_profiles, chosen over the whole file). The labels are not
    in the texts: the encoder sees the name and description only."""
    try:
        names, descriptions, labels = evaluation.read_labelled(path)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise CommandError(f"--data {path}: {error}") from None
    count = len(names) if count is None else count
    if count < 1 or count > len(names):
        raise CommandError(f"{path.name} has {len(names):,} companies: ask for 1 to {len(names):,} with --companies")
    picked = np.random.default_rng(seed).permutation(len(names))[:count]
    profiles = evaluation.label_profiles(labels)
    if not profiles:
        raise CommandError(f"{path.name}: no label has the 20 companies a profile needs")
    liked = evaluation.targets([labels[i] for i in picked], profiles)
    texts = [embedding_text(name=names[i], description=descriptions[i], industry="") for i in picked]
    return path.name, texts, liked


# --- Throughput, in a child process per encoder --------------------------------------------------


def _ensure_onnx_file(log: Callable[[str], None]) -> float | None:
    """Seconds taken to make the int8 ONNX file, or None when it was already cached."""
    if embedding.int8_model_path().exists():
        return None
    log(f"making {embedding.int8_model_path()} (once)")
    started = time.perf_counter()
    with _child() as pool:
        pool.submit(_make_onnx_file).result()
    return time.perf_counter() - started


def _make_onnx_file() -> None:
    embedding.int8_model_file()


def _in_child(name: str, texts: list[str], batch: int) -> tuple[dict, np.ndarray]:
    with _child() as pool:
        return pool.submit(_measure, name, texts, batch).result()


def _measure(name: str, texts: list[str], batch: int) -> tuple[dict, np.ndarray]:
    """In a fresh process: load the encoder, warm it up on one batch, then time a bare encode."""
    spec = embedding.encoder_for(name)
    load_s = active.load(spec)
    order = sorted(range(len(texts)), key=lambda row: len(texts[row]))
    active.encode([texts[row] for row in order[-batch:]], using=spec)  # warm-up: the longest batch
    vectors = np.empty((len(texts), spec.dimensions), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        vectors[rows] = active.encode([texts[row] for row in rows], using=spec)
    seconds = time.perf_counter() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"load_s": load_s, "per_s": len(texts) / seconds, "peak_rss_mb": peak_rss_mb}, vectors


# --- Against the reference encoder ---------------------------------------------------------------


def _ranking_runs(
    vectors: np.ndarray, targets: dict[str, np.ndarray], seeds: list[int], labels: int, k: int
) -> list[evaluation.Measurement]:
    """One measurement per profile and seed, at `labels` random labels (seed labels included).
    In a small sample a held-out set can have no like of a rare profile: its AUC is undefined
    (NaN, scikit-learn warns), and such runs are left out of the means below."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluation.evaluate(vectors, targets, strategies=["random"], seeds=seeds, budgets=[labels], k=k)


def _auc_figures(runs: list[evaluation.Measurement]) -> dict:
    profiles = dict.fromkeys(run.profile for run in runs)
    return {
        "auc": _mean([run.auc for run in runs]),
        "auc_per_profile": {p: _mean([run.auc for run in runs if run.profile == p]) for p in profiles},
        "auc_undefined_runs": int(sum(np.isnan(run.auc) for run in runs)),
    }


def _mean(values: list[float]) -> float | None:
    """The mean of the defined values; None (null in the JSON) when none is."""
    defined = [value for value in values if not np.isnan(value)]
    return float(np.mean(defined)) if defined else None


def _against(reference: str, per_encoder: dict, vectors: dict, runs: dict, name: str) -> dict:
    """Cosines to the reference's vectors, the throughput ratio, and the AUC difference run by run
    (same profile, seed, held-out set and labels): its mean, standard error and sign count."""
    # Vectors of another size (another model, not another build of the same) have no cosine to compare.
    same_size = vectors[name].shape == vectors[reference].shape
    cosines = np.sum(vectors[name] * vectors[reference], axis=1) if same_size else None
    ours, theirs = per_encoder[name], per_encoder[reference]
    by_key = {(run.profile, run.seed): run.auc for run in runs[reference]}
    differences = np.array([run.auc - by_key[(run.profile, run.seed)] for run in runs[name]])
    differences = differences[~np.isnan(differences)]  # runs whose AUC is undefined (the same for both)
    return {
        f"mean_cosine_to_{reference}": float(cosines.mean()) if same_size else None,
        f"min_cosine_to_{reference}": float(cosines.min()) if same_size else None,
        "throughput_ratio": ours["per_s"] / theirs["per_s"],
        "throughput_ratio_rounds": [a / b for a, b in zip(ours["per_s_rounds"], theirs["per_s_rounds"])],
        f"auc_minus_{reference}": float(differences.mean()) if len(differences) else None,
        f"auc_minus_{reference}_se": float(differences.std(ddof=1) / np.sqrt(len(differences)))
        if len(differences) > 1
        else None,
        f"auc_higher_than_{reference}": f"{int((differences > 0).sum())} of {len(differences)} runs"
        f" ({int((differences == 0).sum())} equal)",
    }
