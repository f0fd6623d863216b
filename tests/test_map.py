"""The map ("Companies in space"): the projection (pure numpy, against scikit-learn), computing
and keeping points, the page and its JSON endpoints, lasso labelling with undo through the labels
service, and the page itself in headless Chromium.

Real database and services throughout; vectors from the fake bag-of-words encoder."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from sklearn.decomposition import PCA

from leads import embedding, locks, mapping, tasks
from leads.map_selectors import GRID, MAX_POINTS
from leads.models import Company, CompanyEmbedding, Label, MapLayout, MapPoint, PendingScoreChange, Score
from leads.services import embeddings, labels, maps, queue, scores
from leads.services.companies import save_company

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
    model = embedding.model_name()
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
    monkeypatch.setattr(embedding, "model_name", lambda: "another-model")  # no vector from it yet
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
    monkeypatch.setattr(embeddings, "send", record)
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


# --- The page and its points ---------------------------------------------------------------


def get_points(client, **params):
    response = client.get("/map/points.json", params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


@pytest.mark.django_db
def test_the_page_and_its_json_need_a_log_in(client):
    assert client.get("/map/").url == "/accounts/login/?next=/map/"
    for method, path in [("get", "/map/points.json"), ("post", "/map/label"), ("post", "/map/undo")]:
        response = getattr(client, method)(path)
        assert response.status_code == 401 and "log in" in response.json()["error"]


@pytest.mark.django_db
def test_the_page_says_when_no_company_is_embedded(as_alice):
    response = as_alice.get("/map/")
    assert response.status_code == 200
    assert "No company is embedded yet" in response.text
    body = get_points(as_alice)
    assert (body["state"], body["total"], body["id"], body["x"]) == ("empty", 0, [], [])


@pytest.mark.django_db
def test_the_page_says_the_map_is_being_computed(as_alice, world):
    response = as_alice.get("/map/")
    text = " ".join(re.sub(r"<[^>]+>", " ", response.text).split())
    assert "Computing the map… 6 companies are waiting for a place on it." in text
    body = get_points(as_alice)
    assert (body["state"], body["waiting"], body["id"]) == ("computing", 6, [])


@pytest.mark.django_db
def test_the_points_are_parallel_arrays(as_alice, world):
    maps.compute_map()
    body = get_points(as_alice)
    assert body["state"] == "ready" and body["total"] == body["shown"] == 6 and not body["sampled"]
    columns = ["id", "x", "y", "verdict", "score", "name"]
    assert {len(body[c]) for c in columns} == {6}
    rows = {name: dict(zip(columns, values)) for name, *values in zip(body["name"], *(body[c] for c in columns))}
    assert rows["Alpha Brewing"]["verdict"] == "like" and rows["Delta Code"]["verdict"] == "dislike"
    assert rows["Alpha Brewing"]["score"] is None  # labelled: no score
    bravo = world["Bravo Beers"]
    assert rows["Bravo Beers"]["score"] == round(bravo.score.value * 100) and rows["Bravo Beers"]["verdict"] is None
    assert all(isinstance(v, int) and 0 <= v <= GRID for v in body["x"] + body["y"])
    assert max(body["x"]) == GRID or max(body["y"]) == GRID  # the map fills the grid
    assert MAX_POINTS == 20_000 and body["limit"] == MAX_POINTS


@pytest.fixture
def sixty(fake_encoder, alice):
    """60 embedded companies, 5 of them labelled, on the map."""
    made = [Company.objects.create(name=f"Company {i}", description=f"word{i % 7} word{i % 11}") for i in range(60)]
    embeddings.embed_companies([c.pk for c in made])
    labels.label_companies(
        verdicts=[(c.pk, "like" if i % 2 else "dislike") for i, c in enumerate(made[:5])], user=alice, source="click"
    )
    scores.rescore_all()
    maps.compute_map()
    return made


@pytest.mark.django_db
def test_it_sends_every_labelled_company_and_a_fixed_sample_of_the_rest(as_alice, sixty):
    body = get_points(as_alice, limit=20)
    assert (body["total"], body["shown"], body["labelled"], body["sampled"]) == (60, 20, 5, True)
    labelled = {c.pk for c in sixty[:5]}
    assert labelled <= set(body["id"])
    unlabelled = MapPoint.objects.exclude(company__in=labelled).order_by("sample_key")
    assert set(body["id"]) - labelled == set(unlabelled.values_list("company_id", flat=True)[:15])
    assert get_points(as_alice, limit=20)["id"] == body["id"]  # the same sample every time
    assert get_points(as_alice, limit=3)["id"] == body["id"][:3]  # up to the limit, labelled first


@pytest.mark.django_db
@pytest.mark.parametrize("limit", ["0", "-1", "abc", str(MAX_POINTS + 1), "1.5"])
def test_a_bad_limit_is_a_400(as_alice, limit):
    response = as_alice.get("/map/points.json", {"limit": limit})
    assert response.status_code == 400 and "limit must be" in response.json()["error"]


@pytest.mark.django_db
def test_the_page_draws_the_map_when_it_is_ready(as_alice, world):
    maps.compute_map()
    response = as_alice.get("/map/")
    assert response.status_code == 200
    assert '<section id="map" data-state="ready"' in response.text and "<canvas" in response.text
    assert "6 companies on the map." in response.text


# --- Lasso labelling and undo --------------------------------------------------------------


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_a_lasso_labels_through_the_service_and_undo_restores_each_verdict(as_alice, world, alice):
    alpha, bravo, delta = world["Alpha Brewing"], world["Bravo Beers"], world["Delta Code"]  # like, none, dislike
    history = Label.objects.count()

    response = post(as_alice, "/map/label", {"ids": [alpha.pk, bravo.pk, delta.pk], "verdict": "like"})

    assert response.status_code == 200
    assert response.json() == {"changed": 2, "previous": [[bravo.pk, "clear"], [delta.pk, "dislike"]]}
    assert set(Company.objects.filter(pk__in=[alpha.pk, bravo.pk, delta.pk]).values_list("verdict", flat=True)) == {
        "like"
    }
    new = Label.objects.order_by("pk")[history:]
    assert [(label.company_id, label.verdict, label.source, label.user) for label in new] == [
        (bravo.pk, "like", "click", alice),
        (delta.pk, "like", "click", alice),
    ]

    response = post(as_alice, "/map/undo", {"verdicts": response.json()["previous"]})

    assert response.json() == {"changed": 2, "previous": [[bravo.pk, "like"], [delta.pk, "like"]]}
    verdicts = dict(Company.objects.filter(pk__in=[alpha.pk, bravo.pk, delta.pk]).values_list("pk", "verdict"))
    assert verdicts == {alpha.pk: "like", bravo.pk: "", delta.pk: "dislike"}
    undone = Label.objects.order_by("pk")[history + 2 :]
    assert [(label.company_id, label.verdict, label.source) for label in undone] == [
        (bravo.pk, "clear", "click"),
        (delta.pk, "dislike", "click"),
    ]


@pytest.mark.django_db
def test_a_lasso_records_the_change_for_the_rescore(as_alice, world):
    bravo = world["Bravo Beers"]
    post(as_alice, "/map/label", {"ids": [bravo.pk], "verdict": "dislike"})
    assert PendingScoreChange.objects.filter(company_id=bravo.pk).exists()
    scores.catch_up()
    assert not Score.objects.filter(company=bravo).exists()  # labelled now: a neighbour, not scored


@pytest.mark.django_db
def test_ids_of_no_company_are_left_alone(as_alice, world):
    response = post(as_alice, "/map/label", {"ids": [world["Bravo Beers"].pk, 987654321], "verdict": "clear"})
    assert response.json() == {"changed": 0, "previous": []}


BAD_BODIES = [
    ("/map/label", "", "must be JSON"),
    ("/map/undo", "", "must be JSON"),
    ("/map/label", "not json", "must be JSON"),
    ("/map/label", "[1, 2]", "JSON object"),
    ("/map/label", json.dumps({"verdict": "like"}), "ids must be a non-empty list"),
    ("/map/label", json.dumps({"ids": [], "verdict": "like"}), "ids must be a non-empty list"),
    ("/map/label", json.dumps({"ids": "1,2", "verdict": "like"}), "ids must be a non-empty list"),
    ("/map/label", json.dumps({"ids": ["1"], "verdict": "like"}), "positive whole numbers"),
    ("/map/label", json.dumps({"ids": [True], "verdict": "like"}), "positive whole numbers"),
    ("/map/label", json.dumps({"ids": [-4], "verdict": "like"}), "positive whole numbers"),
    ("/map/label", json.dumps({"ids": [2**63], "verdict": "like"}), "positive whole numbers"),
    ("/map/label", json.dumps({"ids": [1.5], "verdict": "like"}), "positive whole numbers"),
    ("/map/label", json.dumps({"ids": list(range(1, 5002)), "verdict": "like"}), "at most 5,000 companies"),
    ("/map/label", json.dumps({"ids": [1], "verdict": "maybe"}), "verdict must be one of"),
    ("/map/label", json.dumps({"ids": [1]}), "verdict must be one of"),
    ("/map/label", json.dumps({"ids": [1], "verdict": "like", "pad": "x" * 300_000}), "over 256 kB"),
    ("/map/undo", json.dumps({"verdicts": {"1": "like"}}), "list of [company id, verdict] pairs"),
    ("/map/undo", json.dumps({"verdicts": [[1, "like", 3]]}), "list of [company id, verdict] pairs"),
    ("/map/undo", json.dumps({"verdicts": [["x", "like"]]}), "positive whole numbers"),
    ("/map/undo", json.dumps({"verdicts": [[1, "sideways"]]}), "verdict must be one of"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("path, body, message", BAD_BODIES)
def test_bad_input_is_a_json_400_that_says_what_is_wrong(as_alice, world, path, body, message):
    history = Label.objects.count()
    response = as_alice.post(path, body, content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert message in response.json()["error"]
    assert Label.objects.count() == history


@pytest.mark.django_db
def test_labelling_needs_the_csrf_token(alice, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = post(client, "/map/label", {"ids": [world["Bravo Beers"].pk], "verdict": "like"})
    assert response.status_code == 403 and world["Bravo Beers"].labels.count() == 0


@pytest.mark.django_db
def test_the_json_endpoints_take_only_their_method(as_alice):
    assert as_alice.post("/map/points.json").status_code == 405
    assert as_alice.get("/map/label").status_code == 405
    assert as_alice.get("/map/undo").status_code == 405


# --- In the browser ------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = '<img src=x onerror="window.pwned=1"> Brewing & "Co"'


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls are still synchronous.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1200, "height": 1000})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_hovers_lassoes_labels_and_undoes_on_the_map(live_server, browser_page, fake_encoder, alice):
    from playwright.sync_api import expect

    page = browser_page
    rows = {
        "Hopfield Brewery": "Craft beer brewery brewing lager and stout.",
        "Maltworks Brewing": "Beer brewery brewing lager, ale and stout.",
        HOSTILE: "Beer brewery brewing porter and stout.",
        "Codeforge": "Software developer tools for code review.",
        "Bytecraft": "Software for developer teams: code search and code review.",
        "Stackline": "Developer software: code hosting and tools.",
    }
    made = {name: Company.objects.create(name=name, description=text) for name, text in rows.items()}
    embeddings.embed_companies([c.pk for c in made.values()])
    labels.label_company(company=made["Hopfield Brewery"], user=alice, source="click", verdict="like")
    labels.label_company(company=made["Codeforge"], user=alice, source="click", verdict="dislike")
    scores.rescore_all()
    maps.compute_map()

    page.goto(f"{live_server.url}/map/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Companies in space")).to_be_visible()
    expect(page.get_by_text("6 companies on the map.")).to_be_visible()

    def position(company):
        page.wait_for_function("id => window.leadsMap && window.leadsMap.position(id)", arg=company.pk)
        return page.evaluate("id => window.leadsMap.position(id)", company.pk)

    tooltip = page.get_by_role("tooltip")
    at = position(made["Hopfield Brewery"])
    page.mouse.move(at["x"], at["y"])
    expect(tooltip).to_contain_text("Hopfield Brewery")
    expect(tooltip).to_contain_text("Liked")
    at = position(made[HOSTILE])
    page.mouse.move(at["x"], at["y"])
    expect(tooltip.locator("strong")).to_have_text(HOSTILE)  # shown as text, never parsed as HTML
    assert page.evaluate("window.pwned") is None

    # Lasso a rectangle around the breweries; whatever else falls inside is selected too.
    places = {c.pk: position(c) for c in made.values()}
    breweries = [made[name] for name in ("Hopfield Brewery", "Maltworks Brewing", HOSTILE)]
    xs, ys = [places[c.pk]["x"] for c in breweries], [places[c.pk]["y"] for c in breweries]
    x0, x1, y0, y1 = min(xs) - 12, max(xs) + 12, min(ys) - 12, max(ys) + 12
    inside = sorted(pk for pk, p in places.items() if x0 < p["x"] < x1 and y0 < p["y"] < y1)
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    expect(page.get_by_text(f"{len(inside)} companies selected.")).to_be_visible()
    page.screenshot(path="/tmp/leads-map.png")
    assert sorted(page.evaluate("window.leadsMap.selectedIds()")) == inside
    before = dict(Company.objects.filter(pk__in=inside).values_list("pk", "verdict"))

    the_map = page.locator("#map")
    the_map.get_by_role("button", name="Dislike all").click()
    changed = sum(1 for verdict in before.values() if verdict != "dislike")
    expect(the_map.get_by_role("status")).to_contain_text(f"Disliked {changed} compan")
    assert set(Company.objects.filter(pk__in=inside).values_list("verdict", flat=True)) == {"dislike"}
    assert Label.objects.filter(company__in=inside, verdict="dislike", source="click", user=alice).count() == changed

    the_map.get_by_role("button", name="Undo", exact=True).click()
    expect(the_map.get_by_role("status")).to_contain_text("Undone")
    assert dict(Company.objects.filter(pk__in=inside).values_list("pk", "verdict")) == before

    at = position(made["Bytecraft"])
    page.mouse.click(at["x"], at["y"])
    expect(page.get_by_role("heading", name="Bytecraft")).to_be_visible()
    page.screenshot(path="/tmp/leads-map-company.png")
