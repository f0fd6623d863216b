"""Leave-one-out ranking quality (leads/review/quality.py) against scikit-learn, the evaluate command on
the real database, and the daily snapshot."""

from __future__ import annotations

import datetime
import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from sklearn.neighbors import KNeighborsRegressor, NearestNeighbors

from leads import tasks
from leads.companies.identity import text_hash
from leads.embedding import active
from leads.models import FIRST_PROFILE_ID, Company, CompanyEmbedding, QualitySnapshot
from leads.review import quality
from leads.review import selectors as review
from leads.review import snapshots as quality_service
from leads.scoring import evidence
from leads.scoring import labels as label_service

WEIGHTS = {"inverse": "distance", "naive": lambda d: d, "uniform": "uniform"}


def clustered(m: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """m vectors around 4 directions, two of them mostly liked, with some labels flipped."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 384))
    cluster = np.arange(m) % 4
    vectors = centres[cluster] + rng.normal(scale=1.2, size=(m, 384))
    labels = np.where(cluster < 2, 1.0, -1.0)
    flip = rng.random(m) < 0.15
    return vectors, np.where(flip, -labels, labels)


def sklearn_loo(vectors: np.ndarray, labels: np.ndarray, k: int, weighting: str) -> np.ndarray:
    """Each row scored by a KNeighborsRegressor fitted on all the other rows."""
    predictions = []
    for i in range(len(labels)):
        others = np.arange(len(labels)) != i
        model = KNeighborsRegressor(n_neighbors=k, weights=WEIGHTS[weighting], metric="cosine", algorithm="brute")
        predictions.append(model.fit(vectors[others], labels[others]).predict(vectors[i : i + 1])[0])
    # Rounded, so that float noise (a unanimous vote at 0.9999999999999998) does not break ties.
    return np.round(predictions, 9)


def precision_direct(scores: np.ndarray, labels: np.ndarray, n: int) -> float:
    return float((labels[np.argsort(-scores, kind="stable")[:n]] > 0).mean())


@pytest.mark.parametrize("weighting", quality.WEIGHTINGS)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_leave_one_out_scores_equal_scikit_learn_fitted_without_each_company(weighting, k):
    vectors, labels = clustered(60)
    loo = quality.leave_one_out(vectors, labels, 25, block_cells=60 * 7)  # blocks of 7 rows
    assert not (loo.neighbours == np.arange(60)[:, None]).any()  # never itself
    np.testing.assert_allclose(loo.scores(k, weighting), sklearn_loo(vectors, labels, k, weighting), atol=1e-9)


def test_an_identical_twin_decides_alone_as_in_scikit_learn():
    vectors, labels = clustered(20)
    vectors[5] = vectors[4] * 3.0  # same direction: distance 0
    loo = quality.leave_one_out(vectors, labels, 5)
    np.testing.assert_allclose(loo.scores(5), sklearn_loo(vectors, labels, 5, "inverse"), atol=1e-9)
    assert loo.scores(5)[4] == labels[5] and loo.scores(5)[5] == labels[4]


def test_roc_auc_equals_scikit_learn_with_ties():
    rng = np.random.default_rng(0)
    labels = np.where(rng.random(300) < 0.3, 1.0, -1.0)
    scores = np.round(rng.normal(size=300) + 0.8 * labels, 1)  # many tied scores
    assert quality.roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert quality.roc_auc(scores, np.ones(300)) is None


def test_precision_at_n_is_the_share_of_likes_among_the_highest_scores():
    scores = np.array([0.9, -0.2, 0.8, 0.1, 0.7])
    labels = np.array([1.0, 1.0, -1.0, 1.0, 1.0])
    assert quality.precision_at(scores, labels, 2) == 0.5  # 0.9 liked, 0.8 disliked
    assert quality.precision_at(scores, labels, 4) == 0.75
    assert quality.precision_at(scores, labels, 6) is None  # fewer labels than that


def test_evaluate_equals_a_direct_scikit_learn_computation():
    vectors, labels = clustered(120)
    report = quality.evaluate(vectors, labels, ks=(1, 5), k=10, bootstrap=50, seed=7)
    assert sorted(report.per_k) == [1, 5, 10]  # the configured k is always measured
    for k, figures in report.per_k.items():
        ours = sklearn_loo(vectors, labels, k, "inverse")
        assert figures.auc == pytest.approx(roc_auc_score(labels, ours), abs=1e-12)
        assert figures.precision[20] == precision_direct(ours, labels, 20)
        assert figures.precision[50] == precision_direct(ours, labels, 50)
        assert figures.naive_auc == pytest.approx(roc_auc_score(labels, sklearn_loo(vectors, labels, k, "naive")))
        assert figures.uniform_auc == pytest.approx(roc_auc_score(labels, sklearn_loo(vectors, labels, k, "uniform")))
        low, high = figures.auc_interval
        assert low <= figures.auc <= high
    assert report.per_k[10].auc > 0.75
    assert report.best_k == max(report.per_k, key=lambda k: report.per_k[k].auc)
    again = quality.evaluate(vectors, labels, ks=(1, 5), k=10, bootstrap=50, seed=7)
    assert again.as_dict() == report.as_dict()  # the seed fixes the intervals


def test_evaluate_with_too_few_labels_says_so_instead_of_failing():
    for vectors, labels in [(np.empty((0, 384)), np.empty(0)), (np.ones((1, 384)), np.ones(1))]:
        report = quality.evaluate(vectors, labels, k=10, bootstrap=10)
        assert report.headline.auc is None and report.headline.precision[20] is None and report.best_k is None
    vectors, labels = clustered(30)
    one_class = quality.evaluate(vectors, np.ones(30), k=3, bootstrap=10)
    assert one_class.headline.auc is None and one_class.headline.precision[20] == 1.0


def sklearn_loo_fits(vectors: np.ndarray, labels: np.ndarray, k: int, radius: float) -> np.ndarray:
    """Each row's fit (evidence.of_neighbours) from its k nearest other rows, found by scikit-learn."""
    fits = []
    for i in range(len(labels)):
        others = np.flatnonzero(np.arange(len(labels)) != i)
        search = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(vectors[others])
        distances, nearest = search.kneighbors(vectors[i : i + 1])
        fits.append(evidence.of_neighbours(distances, labels[others][nearest], radius).fit[0])
    return np.array(fits)


def test_the_fit_ranks_a_planted_set_as_computed_by_hand():
    """k = 1, radius 0.1. Liked L1, L2 close together (0.0199 apart): fit (K - 0.15) / (K + 0.3),
    K = exp(-0.199^2) = 0.961, so 0.643. Liked L3, L4 0.75 apart: no close like, so the prior, -0.5.
    Disliked D1, D2 close: (-K - 0.15) / (K + 0.3) = -0.881. Disliked D3, D4 0.75 apart: -0.5.
    By score each gets its neighbour's label: AUC 1. By fit, L3 and L4 tie with D3 and D4: of the
    16 liked-disliked pairs, 14 won and 2 x 2 tied, AUC (12 + 4 x 0.5) / 16 = 0.875."""
    axes_and_cos = [(0, 0.99), (0, 0.99), (2, 0.5), (2, 0.5), (1, 0.99), (1, 0.99), (3, 0.5), (3, 0.5)]
    vectors = np.stack([near(axis, cos, spare=100 + row) for row, (axis, cos) in enumerate(axes_and_cos)])
    labels = np.array([1, 1, 1, 1, -1, -1, -1, -1.0])
    report = quality.evaluate(vectors, labels, ks=(1,), k=1, top_n=(2, 4, 20), bootstrap=0, radius=0.1)
    figures = report.headline
    assert figures.auc == 1.0 and figures.fit_auc == pytest.approx(0.875)
    close = np.exp(-(((1 - 0.99**2) / 0.1) ** 2))
    liked_fit = (close - 0.15) / (close + 0.3)
    np.testing.assert_allclose(quality.leave_one_out(vectors, labels, 1).fits(1, 0.1)[:2], liked_fit)
    assert figures.fit_precision == {2: 1.0, 4: 1.0, 20: None}  # L1, L2; then L3, L4 before D3, D4 (by row)
    assert figures.top[20] == (8, 0.5, 0.5)  # fewer than 20 labels: the top 8, all of them
    assert report.as_dict()["fit_auc"] == figures.fit_auc and report.as_dict()["radius"] == 0.1


def near(axis: int, cos: float, *, spare: int) -> np.ndarray:
    """A unit vector at cosine `cos` from basis vector `axis`, off in dimension `spare`: two such on
    one axis, each off in its own, are at cosine distance 1 - cos1 * cos2."""
    vector = np.zeros(384)
    vector[axis], vector[spare] = cos, np.sqrt(1.0 - cos**2)
    return vector


@pytest.mark.parametrize("k", [1, 5, 10])
def test_the_fit_figures_equal_scikit_learn_neighbours_weighed_by_evidence(k):
    vectors, labels = clustered(60)
    radius = evidence.radius_of(vectors)
    report = quality.evaluate(vectors, labels, ks=(k,), k=k, top_n=(20, 50), bootstrap=0, radius=radius)
    fits = sklearn_loo_fits(vectors, labels, k, radius)
    figures = report.per_k[k]
    assert figures.fit_auc == pytest.approx(roc_auc_score(labels, np.round(fits, 9)), abs=1e-12)
    assert figures.fit_precision[20] == precision_direct(fits, labels, 20)
    assert figures.top[50] == (50, figures.precision[50], figures.fit_precision[50])  # enough labels: the top n


def test_with_fewer_labels_than_n_the_top_is_all_of_them():
    vectors, labels = clustered(14)
    report = quality.evaluate(vectors, labels, k=3, bootstrap=0, radius=0.5)
    figures = report.headline
    ours = sklearn_loo(vectors, labels, 3, "inverse")
    assert figures.precision[20] is None  # precision at 20 needs 20 labels
    assert figures.top[20] == figures.top[50] == (14, precision_direct(ours, labels, 14), figures.top[20][2])
    assert report.as_dict()["top_20"] == 14 and report.as_dict()["precision_in_top_20"] == figures.top[20][1]
    assert quality.evaluate(vectors, labels, k=3, bootstrap=0).headline.fit_auc is None  # no radius, no fit


def test_cohen_kappa_equals_scikit_learn():
    rng = np.random.default_rng(5)
    for _ in range(20):
        a = rng.choice(["like", "dislike"], size=rng.integers(2, 40))
        b = np.where(rng.random(len(a)) < 0.7, a, rng.choice(["like", "dislike"], size=len(a)))
        assert quality.cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), nan_ok=True)
    assert np.isnan(quality.cohen_kappa(["like", "like"], ["like", "like"]))  # chance agreement is total


# --- The command and the daily snapshot, on the real database -----------------------------------


def write_labelled(vectors: np.ndarray, verdicts: np.ndarray, user, *, first: int = 0) -> list[Company]:
    """Companies with these vectors (as the worker writes them) and these labels, numbered from `first`."""
    made = Company.objects.bulk_create(
        Company(name=f"Company {i}", dedupe_key=f"company-{i}", text_hash=text_hash(f"Company {i}"))
        for i in range(first, first + len(vectors))
    )
    CompanyEmbedding.objects.bulk_create(
        CompanyEmbedding(company=c, model_name=active.model_name(), text_hash=c.text_hash, vector=v)
        for c, v in zip(made, vectors)
    )
    label_service.label_companies(
        profile_id=FIRST_PROFILE_ID,
        verdicts=[(c.pk, "like" if y > 0 else "dislike") for c, y in zip(made, verdicts)],
        user=user,
        source="import",
    )
    return made


@pytest.mark.django_db
def test_the_command_prints_the_figures_of_the_current_labels(alice):
    vectors, verdicts = clustered(80)
    write_labelled(vectors, verdicts, alice)
    out = StringIO()
    call_command("evaluate", "--json", "--k", "1", "3", "--bootstrap", "30", "--seed", "2", stdout=out)
    figures = json.loads(out.getvalue())

    stored = vectors.astype(np.float32).astype(np.float64)  # pgvector keeps float32
    for k in (1, 3, 10):
        ours = sklearn_loo(stored, verdicts, k, "inverse")
        assert figures["per_k"][str(k)]["auc"] == pytest.approx(roc_auc_score(verdicts, ours), abs=1e-12)
        assert figures["per_k"][str(k)]["precision_at_20"] == precision_direct(ours, verdicts, 20)
        naive = roc_auc_score(verdicts, sklearn_loo(stored, verdicts, k, "naive"))
        assert figures["per_k"][str(k)]["naive_auc"] == pytest.approx(naive, abs=1e-12)
    assert figures["k"] == 10  # settings.SCORING_K
    assert figures["labels"] == 80 and figures["liked"] == int((verdicts > 0).sum())
    for key in ("auc", "precision_at_20", "precision_at_50", "naive_auc", "uniform_auc", "auc_low", "auc_high"):
        assert figures[key] == figures["per_k"]["10"][key]
    assert not QualitySnapshot.objects.exists()  # only --record stores them

    fits = sklearn_loo_fits(stored, verdicts, 10, figures["radius"])  # the team's radius, measured
    assert figures["fit_auc"] == pytest.approx(roc_auc_score(verdicts, np.round(fits, 9)), abs=1e-12)
    assert figures["fit_precision_at_20"] == precision_direct(fits, verdicts, 20)

    table = StringIO()
    call_command("evaluate", "--bootstrap", "0", stdout=table)
    assert "80 labelled companies" in table.getvalue()
    assert f"{figures['auc']:.3f}" in table.getvalue()
    assert "fit AUC" in table.getvalue() and f"{figures['fit_auc']:.3f}" in table.getvalue()


@pytest.mark.django_db
def test_record_stores_one_snapshot_a_day(alice, monkeypatch):
    vectors, verdicts = clustered(40)
    write_labelled(vectors, verdicts, alice)
    call_command("evaluate", "--record", "--json", "--bootstrap", "20", stdout=StringIO())
    snapshot = QualitySnapshot.objects.get()
    assert snapshot.labels == 40 and snapshot.k == 10
    assert (
        snapshot.auc == pytest.approx(snapshot.figures["auc"]) and snapshot.auc_low <= snapshot.auc <= snapshot.auc_high
    )

    assert quality_service.record_quality_if_due(FIRST_PROFILE_ID) is None  # done today
    tomorrow = snapshot.date + datetime.timedelta(days=1)
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *args: tomorrow)
    assert quality_service.record_quality_if_due(FIRST_PROFILE_ID).date == tomorrow
    assert QualitySnapshot.objects.count() == 2


@pytest.mark.django_db
def test_the_sweep_records_today_again_once_the_labels_change(alice):
    """The trend's last point is the labels as they are: a snapshot taken this morning with two
    labels does not stand for the day once the team has labelled more."""
    vectors, verdicts = clustered(24)
    write_labelled(vectors[:2], verdicts[:2], alice)
    morning = quality_service.record_quality_if_due(FIRST_PROFILE_ID)
    assert morning.labels == 2 and quality_service.record_quality_if_due(FIRST_PROFILE_ID) is None

    write_labelled(vectors[2:], verdicts[2:], alice, first=2)
    snapshot = quality_service.record_quality_if_due(FIRST_PROFILE_ID)
    assert QualitySnapshot.objects.get() == snapshot and snapshot.date == morning.date
    now = review.labelled_quality(profile_id=FIRST_PROFILE_ID)
    assert snapshot.labels == 24 and snapshot.auc == now.report.headline.auc
    assert snapshot.figures["fingerprint"] == now.fingerprint == review.labelled_fingerprint(FIRST_PROFILE_ID)
    assert snapshot.figures["fit_auc"] == now.report.headline.fit_auc is not None
    assert quality_service.record_quality_if_due(FIRST_PROFILE_ID) is None  # nothing changed since


@pytest.mark.django_db
def test_the_sweep_records_the_days_figures_once(alice, monkeypatch):
    write_labelled(*clustered(20), alice)
    monkeypatch.setattr(tasks.queue, "backlog", lambda: 0)
    monkeypatch.setattr(tasks.maps, "queue_map_if_due", lambda: False)
    monkeypatch.setattr(tasks.scores, "heal", lambda scan: None)
    monkeypatch.setattr(tasks.embeddings, "queue_pending_embeddings", lambda: 0)
    calls = []
    real = quality_service.record_quality
    monkeypatch.setattr(quality_service, "record_quality", lambda **kw: calls.append(1) or real(**kw))
    tasks.sweep()
    tasks.sweep()
    assert calls == [1]
    assert QualitySnapshot.objects.get().labels == 20


@pytest.mark.django_db
def test_the_review_page_shows_the_figures_at_every_k(alice, staff):
    """Managers see which k suits their team: the latest record's figures at each k, the one in
    use marked, next to the naive and uniform weights."""
    vectors, verdicts = clustered(60)
    write_labelled(vectors, verdicts, alice)
    snapshot = quality_service.record_quality(profile_id=FIRST_PROFILE_ID)
    client = Client()
    client.force_login(staff)
    page = client.get("/review/").content.decode()
    table = page.split('<table class="by-k">')[1].split("</table>")[0]
    for k, figures in snapshot.figures["per_k"].items():
        row = table.split(f'data-k="{k}"')[1].split("</tr>")[0]
        assert f"{figures['auc']:.3f}" in row and f"{figures['naive_auc']:.3f}" in row
    assert '<tr data-k="10" class="current">\n      <td>10 (used)' in table  # settings.SCORING_K
