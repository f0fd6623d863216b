"""The map ("Companies in space"): the projection (pure numpy, against scikit-learn), and
computing and keeping points. The page, its JSON endpoints and lasso labelling are in
test_map_page.py.

Real database and services throughout; vectors from the fake bag-of-words encoder."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from sklearn.decomposition import PCA

from leads import tasks
from leads.companies.services import save_company
from leads.core import locks, queue
from leads.embedding import active
from leads.embedding import services as embeddings
from leads.map import layout as mapping
from leads.map import services as maps
from leads.models import Company, CompanyEmbedding, MapLayout, MapPoint

# --- The projection: pure numpy ------------------------------------------------------------


def clusters(n_per: int = 200, centres: int = 3, dims: int = 384, noise: float = 0.05, seed: int = 7):
    """Unit vectors in `centres` tight clusters around random directions; (vectors, cluster of each)."""
    rng = np.random.default_rng(seed)
    middle = rng.standard_normal((centres, dims))
    which = np.repeat(np.arange(centres), n_per)
    vectors = middle[which] / np.sqrt(dims) + rng.standard_normal((len(which), dims)) * noise / np.sqrt(dims)
    return mapping.unit_rows(vectors).astype(np.float32), which


def test_it_projects_the_same_vectors_to_the_same_map_bit_for_bit():
    vectors, _ = clusters()
    first, second = mapping.fit_pca(vectors), mapping.fit_pca(vectors.copy())
    assert np.array_equal(first.project(vectors), second.project(vectors))
    shuffled = mapping.fit_pca(vectors[np.random.default_rng(1).permutation(len(vectors))])
    assert np.allclose(shuffled.project(vectors), first.project(vectors), atol=1e-9)  # the signs are fixed too


def test_it_equals_scikit_learns_pca_up_to_the_sign_of_each_axis():
    vectors, _ = clusters(n_per=100, centres=4)
    ours = mapping.fit_pca(vectors).project(vectors)
    theirs = PCA(n_components=2).fit_transform(mapping.unit_rows(vectors))
    signs = np.sign((ours * theirs).sum(axis=0))
    assert np.allclose(ours, theirs * signs, atol=1e-6)


def test_it_keeps_neighbours_together_and_clusters_apart():
    vectors, which = clusters(centres=3)
    xy = mapping.fit_pca(vectors).project(vectors)
    distances = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :10]
    assert (which[nearest] == which[:, None]).mean() > 0.99  # a point's neighbours on the map are its own cluster's
    centres = np.array([xy[which == c].mean(axis=0) for c in range(3)])
    spread = max(np.linalg.norm(xy[which == c] - centres[c], axis=1).max() for c in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 2 * spread  # clusters do not overlap


def test_it_fits_on_a_sample_and_projects_everything_like_a_full_fit():
    vectors, which = clusters(n_per=2_000)
    sampled = mapping.fit_pca(vectors, sample_size=1_500)
    full = mapping.fit_pca(vectors, sample_size=len(vectors))
    cosine = np.abs((sampled.components * full.components).sum(axis=1))
    assert cosine.min() > 0.99  # the same plane, from a quarter of the rows
    assert np.array_equal(sampled.project(vectors), mapping.fit_pca(vectors, sample_size=1_500).project(vectors))


def test_a_stored_basis_projects_exactly_as_the_fitted_one():
    vectors, _ = clusters(n_per=50)
    basis = mapping.fit_pca(vectors)
    stored = mapping.Basis.from_json(json.loads(json.dumps(basis.to_json())))
    assert np.array_equal(stored.project(vectors), basis.project(vectors))


def test_it_maps_one_vector_or_two_without_failing():
    one = mapping.fit_pca(np.ones((1, 384), dtype=np.float32))
    assert one.project(np.ones((1, 384))).tolist() == [[0.0, 0.0]]
    two = mapping.fit_pca(np.eye(2, 384, dtype=np.float32))
    xy = two.project(np.eye(2, 384))
    assert np.isfinite(xy).all() and np.allclose(xy[:, 1], 0, atol=1e-12)  # rank 1: one axis


def test_it_places_vectors_near_their_nearest_anchors():
    vectors, which = clusters(n_per=100)
    anchors, anchor_xy = vectors[::5], np.array([[c * 10.0, 0.0] for c in which[::5]])
    placed = mapping.place_by_neighbours(vectors, anchors, anchor_xy)
    assert np.allclose(placed[::5], anchor_xy, atol=1e-5)  # an anchor lands on its own place
    assert np.allclose(placed[:, 0], which * 10.0, atol=1e-6)  # every point near its own cluster's anchors


def test_sample_keys_depend_on_the_id_alone():
    ids = np.arange(1, 100_001)
    keys = mapping.sample_keys(ids)
    assert np.array_equal(keys[500:600], mapping.sample_keys(ids[500:600]))
    assert keys.min() >= 0 and keys.max() < 1 and len(np.unique(keys)) == len(ids)
    assert np.histogram(keys, bins=10, range=(0, 1))[0].min() > 9_500  # spread evenly
    assert np.array_equal(mapping.sample_indices(1000, 10), mapping.sample_indices(1000, 10))


# --- Computing and keeping points ----------------------------------------------------------


def get_points(client, **params):
    response = client.get("/map/points.json", params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def points() -> dict[int, tuple[float, float]]:
    return {p.company_id: (p.x, p.y) for p in MapPoint.objects.all()}


@pytest.mark.django_db
def test_it_stores_points_for_current_vectors_only(world):
    bravo = world["Bravo Beers"]
    bravo.description = "cider orchard apples"
    save_company(bravo)  # a new text: its vector is stale until re-embedded

    run = maps.compute_map()

    current = {c.pk for c in world.values()} - {world["Golf Pending"].pk, bravo.pk}
    assert set(points()) == current
    assert run.placed == 5 and run.refitted and run.method == "pca"
    model = active.model_name()
    assert MapPoint.objects.current(model).count() == 5
    layout = MapLayout.get()
    assert layout.fitted_on == 5 and len(layout.extent) == 4 and layout.computed_at


@pytest.mark.django_db
def test_it_places_new_and_re_embedded_companies_without_moving_the_others(world):
    maps.compute_map()
    before = points()
    bravo = world["Bravo Beers"]
    bravo.description = "beer brewery cider orchard"
    save_company(bravo)
    assert maps.compute_map().dropped == 1  # its point was made from the old vector
    assert bravo.pk not in points()

    embeddings.embed_companies([bravo.pk, world["Golf Pending"].pk])
    run = maps.compute_map()

    assert (run.placed, run.refitted) == (2, False)
    after = points()
    assert {pk: xy for pk, xy in after.items() if pk in before and pk != bravo.pk} == {
        pk: xy for pk, xy in before.items() if pk != bravo.pk
    }
    basis = mapping.Basis.from_json(MapLayout.get().projection)
    vector = CompanyEmbedding.objects.get(company=bravo).vector
    assert after[bravo.pk] == pytest.approx(tuple(basis.project(np.array([vector]))[0]))
    assert maps.compute_map().placed == 0  # nothing left to do


@pytest.mark.django_db
def test_it_redraws_the_map_when_the_companies_have_doubled(world, fake_encoder):
    maps.compute_map()
    more = [Company.objects.create(name=f"Hop Farm {i}", description=f"hops farm {i}") for i in range(6)]
    embeddings.embed_companies([c.pk for c in more])
    run = maps.compute_map()
    assert run.refitted and run.placed == 12 and MapLayout.get().fitted_on == 12


@pytest.mark.django_db
def test_it_drops_every_point_when_the_embedding_model_changes(world, monkeypatch, as_alice):
    maps.compute_map()
    monkeypatch.setattr(active, "model_name", lambda: "another-model")  # no vector from it yet
    run = maps.compute_map()
    assert (run.placed, run.dropped) == (0, 6) and not MapPoint.objects.exists()
    assert get_points(as_alice)["state"] == "empty"


@pytest.mark.django_db
def test_a_second_run_returns_at_once_while_one_holds_the_lock(world):
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.execute("select pg_advisory_lock(%s, 0)", [locks.MAP])
        assert maps.compute_map() is None
        assert not maps.queue_map_if_due()  # the run under way will place them
    finally:
        other.execute("select pg_advisory_unlock(%s, 0)", [locks.MAP])  # not just close: that frees it a moment later
        other.close()
    assert maps.compute_map().placed == 6


@pytest.mark.django_db
def test_the_task_places_the_companies(world):
    assert tasks.compute_map() == 6


@pytest.mark.django_db
def test_it_refuses_an_unknown_method_or_umap_when_it_is_not_installed(world, monkeypatch):
    with pytest.raises(maps.MapError, match="method must be one of"):
        maps.compute_map(method="tsne")
    monkeypatch.setattr(mapping, "umap_available", lambda: False)
    with pytest.raises(maps.MapError, match="umap-learn is not installed"):
        maps.compute_map(method="umap")


@pytest.mark.django_db
def test_a_umap_map_places_later_companies_by_their_nearest_anchors(world, monkeypatch):
    # umap-learn is not a dependency: a stand-in layout of the anchors (any fixed one will do).
    monkeypatch.setattr(mapping, "umap_available", lambda: True)
    monkeypatch.setattr(mapping, "umap_layout", lambda anchors, seed=0: mapping.fit_pca(anchors).project(anchors))
    run = maps.compute_map(method="umap")
    layout = MapLayout.get()
    assert (run.method, run.placed, layout.method) == ("umap", 6, "umap")
    assert layout.projection["anchor_ids"] == sorted(points())
    before = points()

    golf = world["Golf Pending"]
    embeddings.embed_companies([golf.pk])
    run = maps.compute_map()  # auto: the stored layout's method

    assert (run.method, run.placed, run.refitted) == ("umap", 1, False)
    after = points()
    assert {pk: after[pk] for pk in before} == before
    anchors = CompanyEmbedding.objects.filter(company__in=before).order_by("company_id")
    expected = mapping.place_by_neighbours(
        np.array([CompanyEmbedding.objects.get(company=golf).vector]),
        np.array([e.vector for e in anchors]),
        np.array(layout.projection["anchor_xy"]),
    )
    assert after[golf.pk] == pytest.approx(tuple(expected[0]))


@pytest.mark.django_db
def test_the_sweep_queues_compute_map_when_points_are_missing(world, monkeypatch):
    sent = []
    monkeypatch.setattr(maps, "send", lambda name, *args, **kw: sent.append(name) or True)

    assert maps.queue_map_if_due()
    assert sent == ["leads.compute_map"]

    maps.compute_map()
    assert not maps.queue_map_if_due(interval=timedelta(0))  # looked: nothing missing
    embeddings.embed_companies([world["Golf Pending"].pk])
    assert not maps.queue_map_if_due()  # looked less than CHECK_INTERVAL ago
    assert maps.queue_map_if_due(interval=timedelta(0))
    assert sent == ["leads.compute_map", "leads.compute_map"]


@pytest.mark.django_db
def test_the_periodic_sweep_queues_compute_map_once_the_queue_is_idle(world, monkeypatch):
    sent = []
    record = lambda name, *args, **kw: sent.append(name) or True  # noqa: E731
    monkeypatch.setattr(maps, "send", record)
    monkeypatch.setattr(embeddings, "send_in_turn", lambda name, runs: sent.append(name) or len(runs))
    monkeypatch.setattr(queue, "backlog", lambda: 3)
    tasks.sweep()
    assert sent == []  # work still queued: nothing is re-queued

    monkeypatch.setattr(queue, "backlog", lambda: 0)
    tasks.sweep()
    assert sent == ["leads.embed_companies", "leads.compute_map"]  # Golf Pending; the map


@pytest.mark.django_db
def test_the_sweep_queues_nothing_without_vectors(monkeypatch):
    sent = []
    monkeypatch.setattr(maps, "send", lambda name, *args, **kw: sent.append(name) or True)
    assert not maps.queue_map_if_due()
    assert sent == []


@pytest.mark.django_db
def test_the_command_places_the_companies(world, capsys):
    from django.core.management import call_command

    call_command("compute_map", "--refit", "--method", "pca")
    assert re.match(
        r"Placed 6 companies, dropped 0 stale points, redrawn with a new PCA projection", capsys.readouterr().out
    )
    assert MapPoint.objects.count() == 6
