"""leads.bench.fit_evaluation and `manage.py evaluate_fit` on small synthetic sets: no database,
no encoder. Three clusters of unit vectors: the liked one (fits), a disliked one, and a far one of
non-fits nearer the liked cluster than the disliked one, which nobody labels."""

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from leads.bench import fit_evaluation
from leads.management.commands import evaluate_fit
from leads.scoring import evidence

LIKED, DISLIKED, FAR = 200, 200, 60


def clusters(seed: int = 0, dims: int = 8, noise: float = 0.08):
    """Vectors (n, dims), liked (n,) bool and far (n,) bool: rows 0..199 liked, 200..399 the
    disliked cluster, the rest the far cluster (cosine distance ~0.7 from the liked centre, 1.0
    from the disliked one)."""
    rng = np.random.default_rng(seed)
    axes = np.eye(dims)
    far_centre = 0.3 * axes[0] + axes[2]
    centres = [axes[0], axes[1], far_centre / np.linalg.norm(far_centre)]
    vectors = np.concatenate(
        [centre + noise * rng.standard_normal((count, dims)) for centre, count in zip(centres, (LIKED, DISLIKED, FAR))]
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = np.arange(len(vectors))
    return vectors, rows < LIKED, rows >= LIKED + DISLIKED


def like_heavy_start(seed: int = 1) -> fit_evaluation.Draw:
    """40 likes from the liked cluster, 10 dislikes from the disliked one; the far cluster unlabelled."""
    rng = np.random.default_rng(seed)
    labelled = np.concatenate([rng.choice(LIKED, 40, replace=False), LIKED + rng.choice(DISLIKED, 10, replace=False)])
    return fit_evaluation.Draw(labelled, np.setdiff1d(np.arange(LIKED + DISLIKED + FAR), labelled))


@pytest.mark.parametrize("likes, dislikes", fit_evaluation.REGIMES)
def test_a_draw_labels_the_requested_likes_and_dislikes_and_the_rest_are_candidates(likes, dislikes):
    vectors, liked, _ = clusters()
    rows = fit_evaluation.sample(len(vectors), 300, fit_evaluation.rng_for("test", "liked", 1))
    start = fit_evaluation.draw(rows, liked, likes, dislikes, fit_evaluation.rng_for("test", 1, likes, dislikes))

    assert len(rows) == 300
    assert liked[start.labelled].sum() == likes
    assert (~liked[start.labelled]).sum() == dislikes
    assert len(set(start.labelled.tolist())) == likes + dislikes
    assert sorted([*start.labelled.tolist(), *start.candidates.tolist()]) == rows.tolist()


def test_a_regime_the_sample_cannot_fill_is_skipped():
    _, liked, _ = clusters()
    rows = np.concatenate([np.arange(30), LIKED + np.arange(100)])  # 30 fits: too few for 40 likes

    assert fit_evaluation.draw(rows, liked, 40, 10, np.random.default_rng(0)) is None
    assert fit_evaluation.draw(rows, liked, 9, 5, np.random.default_rng(0)) is not None


def test_a_far_cluster_of_non_fits_scores_high_in_plain_but_not_in_fit_under_a_like_heavy_start():
    vectors, liked, far = clusters()
    start = like_heavy_start()
    scored = fit_evaluation.score(vectors, liked, start, evidence.radius_of(vectors), k=10)
    on_far = far[start.candidates]

    # Its 10 nearest labelled companies are likes 0.7 away: the plain score calls it a fit.
    assert scored.plain[on_far].min() > 0.5
    assert scored.unexplored[on_far].all()
    assert scored.fit[on_far].max() <= 0.0
    assert (scored.plain[on_far] > scored.fit[on_far]).all()
    figures = fit_evaluation.measure(scored)
    assert figures["auc_fit"] > figures["auc_plain"]


def test_the_strong_band_never_holds_an_unexplored_company():
    vectors, liked, _ = clusters()
    radius = evidence.radius_of(vectors)
    for seed in range(1, 6):
        scored = fit_evaluation.score(vectors, liked, like_heavy_start(seed), radius, k=10)
        assert scored.unexplored.any() and scored.strong.any()  # both occur: the test means something
        assert not (scored.strong & scored.unexplored).any()
        assert (scored.fit[scored.strong] > 0).all()
        assert scored.strong.sum() <= np.ceil(fit_evaluation.STRONG_SHARE * len(scored.fit)) + 1


def test_runs_summary_and_verdicts_cover_every_regime():
    vectors, liked, _ = clusters()
    runs = fit_evaluation.evaluate(vectors, {"liked": liked}, name="yc/minilm", seeds=[5, 6], companies=300)
    summary = fit_evaluation.summarise(runs)
    verdicts = fit_evaluation.verdicts(summary)

    assert {(run.likes, run.dislikes) for run in runs} == set(fit_evaluation.REGIMES)
    assert {row["view"] for row in summary} == {"yc/minilm"}
    assert all(row["runs"] == 2 and row["held_out"] for row in summary)
    assert [v["target"] for v in verdicts] == ["no AUC loss", "like-heavy AUC", "like-heavy band"]
    table = fit_evaluation.format_table(summary, verdicts)
    assert "40/10" in table and ("PASS" in table or "FAIL" in table)


def test_a_run_on_tuning_seeds_and_profiles_is_flagged_not_held_out():
    vectors, liked, _ = clusters()
    runs = fit_evaluation.evaluate(
        vectors, {"fintech": liked, "b2b-saas": liked}, name="yc/minilm", seeds=[1], companies=300
    )
    held = {row["view"]: row["held_out"] for row in fit_evaluation.summarise(runs)}

    assert held == {"yc/minilm": False, "yc/minilm (developer-tools, b2b-saas)": True}


def test_the_command_prints_json_with_the_regimes(monkeypatch):
    vectors, liked, _ = clusters()
    monkeypatch.setattr(
        evaluate_fit, "load_sets", lambda sets, encoders, data, log: iter([("yc/minilm", vectors, {"liked": liked})])
    )
    out = StringIO()
    call_command(
        "evaluate_fit", "--sets", "yc", "--seeds", "5", "--companies", "300", "--json", stdout=out, stderr=StringIO()
    )
    figures = json.loads(out.getvalue())

    assert [[r["likes"], r["dislikes"]] for r in figures["regimes"]] == [list(r) for r in fit_evaluation.REGIMES]
    assert {(row["likes"], row["dislikes"]) for row in figures["summary"]} == set(fit_evaluation.REGIMES)
    assert figures["config"]["evidence"]["UNEXPLORED_BEYOND"] == evidence.UNEXPLORED_BEYOND
    assert len(figures["runs"]) == len(fit_evaluation.REGIMES)


def test_a_missing_french_set_says_how_to_build_it(tmp_path):
    with pytest.raises(CommandError, match="python -m leads.bench.company_sets"):
        call_command("evaluate_fit", "--sets", "fr", "--data", str(tmp_path))
