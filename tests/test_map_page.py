"""The map's page and its JSON endpoints, lasso labelling with undo through the labels service,
and the page itself in headless Chromium."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leads.accounts import roles
from leads.companies.distribution import score_distribution
from leads.companies.services import delete_companies
from leads.embedding import services as embeddings
from leads.map import services as maps
from leads.map.selectors import GRID, MAX_POINTS
from leads.models import FIRST_PROFILE_ID, Company, Label, MapLayout, MapPoint, PendingScoreChange, Score
from leads.scoring import labels
from leads.scoring import services as scores
from tests.test_map import get_points
from tests.web_helpers import in_role, logged_in

# --- The page and its points ---------------------------------------------------------------


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
    columns = ["id", "x", "y", "verdict", "fit", "band", "name"]
    assert {len(body[c]) for c in columns} == {6}
    rows = {name: dict(zip(columns, values)) for name, *values in zip(body["name"], *(body[c] for c in columns))}
    assert rows["Alpha Brewing"]["verdict"] == "like" and rows["Delta Code"]["verdict"] == "dislike"
    assert rows["Alpha Brewing"]["fit"] is None  # labelled: no score, no fit
    bravo = world["Bravo Beers"]
    assert rows["Bravo Beers"]["fit"] == round(bravo.score.fit * 100) and rows["Bravo Beers"]["verdict"] is None
    # Each scored point's band, as the dashboard has it; none for a labelled one.
    distribution = score_distribution(FIRST_PROFILE_ID)
    for name, row in rows.items():
        score = Score.objects.filter(profile_id=FIRST_PROFILE_ID, company__name=name).first()
        assert row["band"] == (score and distribution.band(score.fit, score.unexplored, score.supported).key), name
    assert rows["Alpha Brewing"]["band"] is None
    assert all(isinstance(v, int) and 0 <= v <= GRID for v in body["x"] + body["y"])
    assert max(body["x"]) == GRID or max(body["y"]) == GRID  # the map fills the grid
    assert MAX_POINTS == 20_000 and body["limit"] == MAX_POINTS


@pytest.fixture
def sixty(fake_encoder, alice):
    """60 embedded companies, 5 of them labelled, on the map."""
    made = [Company.objects.create(name=f"Company {i}", description=f"word{i % 7} word{i % 11}") for i in range(60)]
    embeddings.embed_companies([c.pk for c in made])
    labels.label_companies(
        profile_id=FIRST_PROFILE_ID,
        verdicts=[(c.pk, "like" if i % 2 else "dislike") for i, c in enumerate(made[:5])],
        user=alice,
        source="click",
    )
    scores.rescore_all(FIRST_PROFILE_ID)
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


def by_name(body: dict) -> dict[str, dict]:
    columns = ["id", "verdict", "fit", "band"]
    return {name: dict(zip(columns, values)) for name, *values in zip(body["name"], *(body[c] for c in columns))}


@pytest.mark.django_db
def test_the_points_are_cached_and_every_write_they_show_makes_them_anew(as_alice, alice, world):
    """The points are built once per version of what they show (0.5 s at a million companies):
    a verdict, a rename, a deleted company, a rescore and a new map each give the next request
    fresh points; a request with nothing changed reads none of them from the database."""
    maps.compute_map()
    first = get_points(as_alice)
    with CaptureQueriesContext(connection) as cached:
        assert get_points(as_alice) == first
    assert not [q for q in cached.captured_queries if '"leads_mappoint"' in q["sql"]]  # nor the count

    charlie = world["Copper Stouts"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=charlie, user=alice, source="click", verdict="like")
    assert by_name(get_points(as_alice))["Copper Stouts"]["verdict"] == "like"  # before its pass runs

    scores.apply_label_changes(FIRST_PROFILE_ID, inline_full=True)
    after_pass = get_points(as_alice)
    fits = dict(Score.objects.filter(profile_id=FIRST_PROFILE_ID).values_list("company__name", "fit"))
    assert {name: row["fit"] for name, row in by_name(after_pass).items() if row["fit"] is not None} == {
        name: round(fit * 100) for name, fit in fits.items()
    }

    Company.objects.filter(pk=charlie.pk).update(name="Copper Stouts Co.")
    assert "Copper Stouts Co." in get_points(as_alice)["name"]

    delete_companies([charlie])
    assert charlie.pk not in get_points(as_alice)["id"]

    before = MapLayout.get().computed_at
    maps.compute_map(refit=True)
    assert MapLayout.get().computed_at != before
    assert get_points(as_alice)["computed_at"] == MapLayout.get().computed_at.isoformat()


@pytest.mark.django_db
def test_the_points_go_gzipped_to_a_browser_and_plain_to_a_client_without_gzip(as_alice, world):
    maps.compute_map()
    plain = as_alice.get("/map/points.json")
    zipped = as_alice.get("/map/points.json", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain and zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"] and zipped["Content-Type"] == "application/json"
    assert json.loads(gzip.decompress(zipped.content)) == plain.json()
    assert plain.json()["state"] == "ready" and len(plain.json()["id"]) == 6


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


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "offered"), [(roles.REP, True), (roles.MANAGER, True), (roles.ADMIN, False)])
def test_the_lassos_verdict_buttons_are_offered_only_to_roles_that_label(world, bob, role, offered):
    maps.compute_map()
    page = logged_in(in_role(bob, role)).get("/map/").text
    for words in (
        'data-verdict="like">Like all',
        'data-verdict="dislike">Dislike all',
        'data-verdict="clear">Clear all',
    ):
        assert (words in page) is offered, words
    assert 'data-action="deselect"' in page  # a lasso still counts what it holds
    assert ("to label it all" in page) is offered


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
    in_profile = Company.objects.in_profile(FIRST_PROFILE_ID)
    assert set(in_profile.filter(pk__in=[alpha.pk, bravo.pk, delta.pk]).values_list("verdict", flat=True)) == {"like"}
    new = Label.objects.order_by("pk")[history:]
    assert [(label.company_id, label.verdict, label.source, label.user) for label in new] == [
        (bravo.pk, "like", "click", alice),
        (delta.pk, "like", "click", alice),
    ]

    response = post(as_alice, "/map/undo", {"verdicts": response.json()["previous"]})

    assert response.json() == {"changed": 2, "previous": [[bravo.pk, "like"], [delta.pk, "like"]]}
    verdicts = dict(in_profile.filter(pk__in=[alpha.pk, bravo.pk, delta.pk]).values_list("pk", "verdict"))
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
    assert PendingScoreChange.objects.filter(profile_id=FIRST_PROFILE_ID, company_id=bravo.pk).exists()
    scores.catch_up()
    assert not Score.objects.filter(profile_id=FIRST_PROFILE_ID, company=bravo).exists()  # labelled now: not scored


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

HOSTILE = '<img src=x onerror="window.pwned=1"> Brewing & "Co"'


def six_companies_mapped(alice) -> dict[str, Company]:
    """Three breweries and three software makers on the map, one of each labelled by alice."""
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
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=made["Hopfield Brewery"], user=alice, source="click", verdict="like"
    )
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=made["Codeforge"], user=alice, source="click", verdict="dislike"
    )
    scores.rescore_all(FIRST_PROFILE_ID)
    maps.compute_map()
    return made


def open_the_map(page, live_server) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/map/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password-1")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Companies in space")).to_be_visible()
    expect(page.get_by_text("6 companies on the map.")).to_be_visible()


def drawn_at(page, company: Company) -> dict:
    """Where the map draws `company`, in page coordinates."""
    page.wait_for_function("id => window.leadsMap && window.leadsMap.position(id)", arg=company.pk)
    return page.evaluate("id => window.leadsMap.position(id)", company.pk)


def spread(page, made: dict[str, Company]) -> float:
    """How far apart the map draws the companies, in px: what a zoom multiplies."""
    places = [drawn_at(page, company) for company in made.values()]
    return max(p["x"] for p in places) - min(p["x"] for p in places)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_hovers_lassoes_labels_and_undoes_on_the_map(live_server, page, fake_encoder, alice):
    from playwright.sync_api import expect

    made = six_companies_mapped(alice)
    open_the_map(page, live_server)

    def position(company):
        return drawn_at(page, company)

    tooltip = page.get_by_role("tooltip")
    at = position(made["Hopfield Brewery"])
    page.mouse.move(at["x"], at["y"])
    expect(tooltip).to_contain_text("Hopfield Brewery")
    expect(tooltip).to_contain_text("Liked")
    at = position(made[HOSTILE])
    page.mouse.move(at["x"], at["y"])
    expect(tooltip.locator("strong")).to_have_text(HOSTILE)  # shown as text, never parsed as HTML
    assert page.evaluate("window.pwned") is None
    # A scored company's fit comes with its band, or says that nothing labelled is close.
    distribution = score_distribution(FIRST_PROFILE_ID)
    for name in ("Maltworks Brewing", "Stackline"):
        score = Score.objects.get(profile_id=FIRST_PROFILE_ID, company=made[name])
        band = distribution.band(score.fit, score.unexplored, score.supported)
        at = position(made[name])
        page.mouse.move(at["x"], at["y"])
        expect(tooltip).to_contain_text(name)
        words = "Unexplored: nothing you labelled is close" if band.key == "unexplored" else f"· {band.label}"
        expect(tooltip).to_contain_text(words)

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
    in_profile = Company.objects.in_profile(FIRST_PROFILE_ID).filter(pk__in=inside)
    before = dict(in_profile.values_list("pk", "verdict"))

    the_map = page.locator("#map")
    the_map.get_by_role("button", name="Dislike all").click()
    changed = sum(1 for verdict in before.values() if verdict != "dislike")
    expect(the_map.get_by_role("status")).to_contain_text(f"Disliked {changed} compan")
    assert set(in_profile.values_list("verdict", flat=True)) == {"dislike"}
    assert Label.objects.filter(company__in=inside, verdict="dislike", source="click", user=alice).count() == changed

    the_map.get_by_role("button", name="Undo", exact=True).click()
    expect(the_map.get_by_role("status")).to_contain_text("Undone")
    assert dict(in_profile.values_list("pk", "verdict")) == before

    # Zoom by click and by keyboard, about the map's middle; Reset view shows it all again.
    fitted = spread(page, made)
    the_map.get_by_role("button", name="Zoom in").click()
    assert spread(page, made) == pytest.approx(fitted * 1.5, rel=0.01)
    assert page.evaluate("window.leadsMap.selectedIds()") == []  # a press draws no lasso
    the_map.get_by_role("button", name="Zoom out").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Space")
    assert spread(page, made) == pytest.approx(fitted / 1.5, rel=0.01)
    the_map.get_by_role("button", name="Reset view").click()
    assert spread(page, made) == pytest.approx(fitted, rel=0.01)

    at = position(made["Bytecraft"])
    page.mouse.click(at["x"], at["y"])
    expect(page.get_by_role("heading", name="Bytecraft")).to_be_visible()
    page.screenshot(path="/tmp/leads-map-company.png")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_phone_zooms_the_map_with_buttons_a_thumb_reaches(live_server, browser, fake_encoder, alice):
    made = six_companies_mapped(alice)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        open_the_map(page, live_server)
        the_map = page.locator("#map")
        zoom_in, zoom_out = (the_map.get_by_role("button", name=name) for name in ("Zoom in", "Zoom out"))
        canvas = the_map.locator("canvas").bounding_box()
        for button in (zoom_in, zoom_out):
            box = button.bounding_box()
            assert box["width"] >= 40 and box["height"] >= 40  # a thumb's size
            assert canvas["x"] <= box["x"] and box["x"] + box["width"] <= min(canvas["x"] + canvas["width"], 390)
        fitted = spread(page, made)
        zoom_in.tap()
        zoom_in.tap()
        assert spread(page, made) == pytest.approx(fitted * 1.5 * 1.5, rel=0.01)
        zoom_out.tap()
        assert spread(page, made) == pytest.approx(fitted * 1.5, rel=0.01)
        the_map.get_by_role("button", name="Reset view").tap()
        assert spread(page, made) == pytest.approx(fitted, rel=0.01)
        page.screenshot(path="/tmp/leads-map-phone.png")
    finally:
        context.close()
