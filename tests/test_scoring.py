"""The kNN maths: hand-computed cases and scikit-learn on real embeddings. No database."""

import csv

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsRegressor

from leads.companies.identity import embedding_text
from leads.scoring.knn import inverse_distance_weights, knn_scores
from tests.conftest import DEMO_CSV


def unit(*angles_deg):
    """2-d unit vectors at the given angles: cosine distance = 1 - cos(angle difference)."""
    radians = np.radians(angles_deg)
    return np.stack([np.cos(radians), np.sin(radians)], axis=1)


def sklearn_scores(candidates, labelled, labels, k):
    model = KNeighborsRegressor(n_neighbors=min(k, len(labels)), weights="distance", metric="cosine", algorithm="brute")
    return model.fit(labelled, labels).predict(candidates)


def test_it_gives_the_nearest_neighbour_the_most_weight():
    # A liked company at 10 degrees, a disliked one at 80 degrees; the candidate sits at 0.
    result = knn_scores(unit(0), unit(10, 80), np.array([1.0, -1.0]), k=2)
    d_like, d_dislike = 1 - np.cos(np.radians(10)), 1 - np.cos(np.radians(80))
    expected = (1 / d_like - 1 / d_dislike) / (1 / d_like + 1 / d_dislike)
    assert result.values[0] == pytest.approx(expected, abs=1e-12)
    assert result.values[0] > 0.9
    assert result.weights[0, 0] > result.weights[0, 1]
    assert list(result.neighbours[0]) == [0, 1]  # nearest first


def test_the_naive_distance_weighted_average_would_invert_the_verdict():
    distances = np.array([[0.05, 0.60]])
    labels = np.array([1.0, -1.0])
    naive = np.average(labels, weights=distances[0])
    ours = (inverse_distance_weights(distances) * labels).sum()
    assert naive < -0.8 and ours > 0.8


def test_it_takes_the_mean_label_at_distance_zero():
    labelled = unit(0, 0, 0, 30)
    labels = np.array([1.0, 1.0, -1.0, -1.0])
    result = knn_scores(unit(0), labelled, labels, k=4)
    assert result.values[0] == pytest.approx(1 / 3)
    assert result.weights[0].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0])
    assert result.values[0] == pytest.approx(sklearn_scores(unit(0), labelled, labels, 4)[0])


def test_it_uses_every_label_when_there_are_fewer_than_k():
    result = knn_scores(unit(0, 90), unit(20, 50, 170), np.array([1.0, -1.0, -1.0]), k=10)
    assert result.neighbours.shape == (2, 3)
    assert np.allclose(result.values, sklearn_scores(unit(0, 90), unit(20, 50, 170), np.array([1.0, -1.0, -1.0]), 10))


@pytest.mark.parametrize("label", [1.0, -1.0])
def test_it_gives_the_shared_label_when_all_labels_agree(label):
    result = knn_scores(unit(0, 45, 100), unit(10, 60, 200), np.full(3, label), k=2)
    assert np.allclose(result.values, label)


def test_a_single_label_decides_every_score():
    result = knn_scores(unit(0, 90, 180), unit(30), np.array([-1.0]), k=10)
    assert result.values.tolist() == [-1.0, -1.0, -1.0]
    assert result.weights.tolist() == [[1.0], [1.0], [1.0]]


def test_without_labels_nothing_is_scored():
    result = knn_scores(unit(0, 90), np.empty((0, 2)), np.empty(0), k=10)
    assert np.isnan(result.values).all()
    assert result.neighbours.shape == (2, 0)


def test_it_rejects_a_k_below_one_and_mismatched_labels():
    with pytest.raises(ValueError, match="k must be at least 1"):
        knn_scores(unit(0), unit(0), np.array([1.0]), k=0)
    with pytest.raises(ValueError, match="2 labelled vectors but 1 labels"):
        knn_scores(unit(0), unit(0, 1), np.array([1.0]), k=1)


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(7)
    candidates, labelled = rng.normal(size=(500, 16)), rng.normal(size=(40, 16))
    labels = rng.choice([-1.0, 1.0], size=40)
    whole = knn_scores(candidates, labelled, labels, k=5)
    chunked = knn_scores(candidates, labelled, labels, k=5, chunk_size=64)
    assert np.array_equal(whole.neighbours, chunked.neighbours)
    assert np.allclose(whole.values, chunked.values, atol=0)


@pytest.fixture(scope="module")
def demo_embeddings():
    """Real all-MiniLM-L6-v2 embeddings of the demo companies."""
    from django.conf import settings  # noqa: F401 - makes sure settings (HF_HUB_OFFLINE) are loaded

    from leads.embedding import active
    from leads.embedding import encoders as embedding

    with DEMO_CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    texts = [embedding_text(name=r["name"], description=r["description"], industry=r["industry"]) for r in rows]
    return active.encode(texts, embedding.encoder_for("minilm"))


@pytest.mark.parametrize("k", [1, 3, 10, 25])
def test_it_equals_scikit_learn_on_real_embeddings(demo_embeddings, k):
    rng = np.random.default_rng(k)
    order = rng.permutation(len(demo_embeddings))
    labelled_rows, candidate_rows = order[:20], order[20:]
    labels = rng.choice([-1.0, 1.0], size=20)
    ours = knn_scores(demo_embeddings[candidate_rows], demo_embeddings[labelled_rows], labels, k=k)
    theirs = sklearn_scores(demo_embeddings[candidate_rows], demo_embeddings[labelled_rows], labels, k)
    assert np.abs(ours.values - theirs).max() < 1e-6
    assert ((ours.values >= -1) & (ours.values <= 1)).all()
