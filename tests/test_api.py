"""The JSON API: listing with filters and pages, and errors as JSON (verdicts: test_api_labels.py;
authentication: test_api_auth.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from leads.api.views import MAX_PAGE_SIZE
from leads.companies import identity
from leads.models import FIRST_PROFILE_ID, Company, Score
from leads.scoring import labels
from tests.conftest import WORLD_COMPANIES

pytestmark = pytest.mark.django_db

SCORED_BEST_FIRST = ["Bravo Beers", "Copper Stouts", "Foxtrot Fashion", "Echo Review"]
UNSCORED_BY_NAME = ["Alpha Brewing", "Delta Code", "Golf Pending"]


def post_label(client, company_id, body, **extra):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/api/companies/{company_id}/label", data, content_type="application/json", **extra)


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [c["name"] for c in response.json()["results"]]


# --- listing ----------------------------------------------------------------------


def test_companies_come_best_score_first_then_unscored_by_name(api, world):
    scores = Score.objects.filter(profile_id=FIRST_PROFILE_ID).select_related("company")
    expected = [s.company.name for s in scores.order_by("-value")]
    assert expected == SCORED_BEST_FIRST
    response = api.get("/api/companies/")
    assert names(response) == SCORED_BEST_FIRST + UNSCORED_BY_NAME
    assert names(api.get("/api/companies/", {"ordering": "-score"})) == SCORED_BEST_FIRST + UNSCORED_BY_NAME
    body = response.json()
    assert (body["count"], body["page"], body["pages"], body["next"]) == (7, 1, 1, None)


def test_a_scored_company_has_its_score_and_neighbours(api, world):
    bravo = world["Bravo Beers"]
    score = Score.objects.get(profile_id=FIRST_PROFILE_ID, company=bravo)
    result = api.get("/api/companies/", {"q": "bravo"}).json()["results"]
    assert result == [
        {
            "id": bravo.pk,
            "name": "Bravo Beers",
            "website": "bravobeers.com",
            "domain": "bravobeers.com",
            "industry": "Brewery",
            "country": "",
            "country_name": "",
            "country_as_given": "",
            "description": "beer brewery lager ale hops malt",
            "label": None,
            "score": round(score.value, 6),
            "fit": round(score.fit, 6),
            "evidence": round(score.evidence, 6),
            "band": "strong",  # the best of the four fits, and positive
            "rank": "top 1% of 4",
            "embedded": True,
            "neighbours": score.neighbours,
            "extra": {},
            "employees": None,  # the typed numbers: none given
            "founded": None,
            "revenue": None,
            "owner": None,  # unassigned
            "crm_records": [],  # no CRM record id
        }
    ]
    assert result[0]["score"] > 0.5
    neighbours = result[0]["neighbours"]
    assert [n["company_id"] for n in neighbours] == [world["Alpha Brewing"].pk, world["Delta Code"].pk]
    assert [n["label"] for n in neighbours] == [1.0, -1.0]
    assert neighbours[0]["weight"] > neighbours[1]["weight"]
    assert sum(n["weight"] for n in neighbours) == pytest.approx(1.0, abs=1e-5)


def test_labelled_and_unembedded_companies_have_no_score(api, world):
    results = {c["name"]: c for c in api.get("/api/companies/").json()["results"]}
    alpha, delta, golf = results["Alpha Brewing"], results["Delta Code"], results["Golf Pending"]
    assert (alpha["label"], alpha["score"], alpha["neighbours"], alpha["embedded"]) == ("like", None, [], True)
    assert (delta["label"], delta["score"]) == ("dislike", None)
    assert (golf["label"], golf["score"], golf["neighbours"], golf["embedded"]) == (None, None, [], False)
    assert results["Echo Review"]["score"] < -0.5


def test_a_company_labelled_a_moment_ago_has_no_score_before_its_pass(api, world, alice):
    """Its old score row lives until the pass its verdict queued: the API said "like" beside the
    old fit, "strong" and its rank meanwhile."""
    bravo = world["Bravo Beers"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=bravo, user=alice, source="click", verdict="like")
    assert Score.objects.filter(company=bravo).exists()  # no pass yet
    for found in (
        api.get(f"/api/companies/{bravo.pk}").json(),
        api.get("/api/companies/", {"labelled": "true"}).json(),
    ):
        company = found if "id" in found else next(c for c in found["results"] if c["id"] == bravo.pk)
        assert company["label"] == "like"
        assert [company[key] for key in ("score", "fit", "evidence", "band", "rank")] == [None] * 5
        assert company["neighbours"] == []


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"labelled": "true"}, ["Alpha Brewing", "Delta Code"]),
        ({"labelled": "1"}, ["Alpha Brewing", "Delta Code"]),
        ({"labelled": "false"}, SCORED_BEST_FIRST + ["Golf Pending"]),
        ({"labelled": "no"}, SCORED_BEST_FIRST + ["Golf Pending"]),
        ({"label": "like"}, ["Alpha Brewing"]),
        ({"label": "LIKED"}, ["Alpha Brewing"]),
        ({"label": "dislike"}, ["Delta Code"]),
        ({"label": "none"}, SCORED_BEST_FIRST + ["Golf Pending"]),
        ({"label": "like", "q": "delta"}, []),
        ({"labelled": "", "label": ""}, SCORED_BEST_FIRST + UNSCORED_BY_NAME),
    ],
)
def test_label_filters(api, world, params, expected):
    assert names(api.get("/api/companies/", params)) == expected


@pytest.mark.parametrize("params", [{"labelled": "maybe"}, {"label": "love"}, {"label": "clear"}])
def test_bad_label_filters_are_a_400(api, world, params):
    response = api.get("/api/companies/", params)
    assert response.status_code == 400
    assert response.json() == {"error": "labelled must be true/false and label must be like, dislike or none"}


def test_the_dashboards_filters_apply_and_any_other_parameter_is_a_400(api, world):
    delta = world["Delta Code"]
    Company.objects.filter(pk=world["Bravo Beers"].pk).update(industry="Brewing", country="DE")
    assert names(api.get("/api/companies/", {"industry": "brewing"})) == ["Bravo Beers"]
    assert names(api.get("/api/companies/", {"country": "Germany"})) == ["Bravo Beers"]
    strong = api.get("/api/companies/", {"band": "strong"}).json()["results"]
    assert strong and {c["band"] for c in strong} == {"strong"}
    assert api.get("/api/companies/", {"band": "best"}).status_code == 400
    for params in ({"bands": "strong"}, {"industri": "Brewing"}, {"sort": "name"}):
        response = api.get("/api/companies/", params)
        assert response.status_code == 400 and response.json()["error"].startswith(f"unknown parameter {[*params][0]}:")
    both = api.get("/api/companies/", {"label": "like", "labelled": "false"})
    assert both.status_code == 400 and "give label or labelled, not both" in both.json()["error"]
    assert delta.name in names(api.get("/api/companies/", {"label": "dislike", "labelled": ""}))


@pytest.mark.parametrize(
    "q, expected",
    [
        ("brew", ["Bravo Beers", "Copper Stouts", "Alpha Brewing"]),  # "brewery" in descriptions too
        ("REVIEW", ["Echo Review", "Delta Code"]),  # Delta Code does "code review"
        (".io", ["Echo Review", "Delta Code"]),  # by domain, in score order
        ("foxtrot-fashion.fr", ["Foxtrot Fashion"]),
        ("zzz", []),
    ],
)
def test_search(api, world, q, expected):
    response = api.get("/api/companies/", {"q": q})
    assert names(response) == expected
    assert response.json()["count"] == len(expected)


def test_a_search_with_a_nul_character_finds_nothing(api, world):
    response = api.get("/api/companies/", {"q": "Bravo\x00"})
    assert response.status_code == 200
    assert response.json()["count"] == 0


@pytest.mark.parametrize(
    "ordering, expected",
    [
        ("name", sorted(SCORED_BEST_FIRST + UNSCORED_BY_NAME)),
        ("-name", sorted(SCORED_BEST_FIRST + UNSCORED_BY_NAME, reverse=True)),
        ("created", list(WORLD_COMPANIES) + ["Golf Pending"]),
        ("-created", ["Golf Pending"] + list(WORLD_COMPANIES)[::-1]),
    ],
)
def test_ordering(api, world, ordering, expected):
    if "created" in ordering:  # created in one go: give them distinct times
        for minutes, company in enumerate(world.values()):
            Company.objects.filter(pk=company.pk).update(created_at=timezone.now() + timedelta(minutes=minutes))
    assert names(api.get("/api/companies/", {"ordering": ordering})) == expected


def test_ordering_by_name_keeps_the_filter(api, world):
    assert names(api.get("/api/companies/", {"ordering": "-name", "labelled": "true"})) == [
        "Delta Code",
        "Alpha Brewing",
    ]


@pytest.mark.parametrize("ordering", ["score", "-value", "verdict", "name; drop table"])
def test_an_unknown_ordering_is_a_400(api, world, ordering):
    response = api.get("/api/companies/", {"ordering": ordering})
    assert response.status_code == 400
    assert response.json() == {
        "error": "ordering must be one of: -fit, fit, -score, name, -name, industry, -industry, country, -country, "
        "employees, -employees, founded, -founded, revenue, -revenue, -verdict, created, -created"
    }


def test_companies_can_be_ordered_by_the_plain_score(api, world):
    scores = Score.objects.filter(profile_id=FIRST_PROFILE_ID).select_related("company")
    by_score = [s.company.name for s in scores.order_by("-value", "company_id")]
    assert names(api.get("/api/companies/", {"ordering": "-score"}))[: len(by_score)] == by_score


def test_pages(api, world):
    everyone = SCORED_BEST_FIRST + UNSCORED_BY_NAME
    first = api.get("/api/companies/", {"page_size": 3}).json()
    assert (first["count"], first["page"], first["pages"], first["next"]) == (7, 1, 3, 2)
    assert [c["name"] for c in first["results"]] == everyone[:3]
    second = api.get("/api/companies/", {"page_size": 3, "page": 2}).json()
    assert [c["name"] for c in second["results"]] == everyone[3:6]
    assert second["next"] == 3
    last = api.get("/api/companies/", {"page_size": 3, "page": 3}).json()
    assert [c["name"] for c in last["results"]] == everyone[6:]
    assert (last["page"], last["next"]) == (3, None)


def test_a_page_past_the_end_is_a_404(api, world):
    response = api.get("/api/companies/", {"page_size": 3, "page": 4})
    assert response.status_code == 404
    assert response.json() == {"error": "page 4 is past the last page (3)"}


def test_an_empty_listing_has_one_empty_page(api, db):
    body = api.get("/api/companies/").json()
    assert (body["count"], body["pages"], body["results"], body["next"]) == (0, 1, [], None)
    assert api.get("/api/companies/", {"page": 2}).status_code == 404


@pytest.mark.parametrize(
    "params, error",
    [
        ({"page": "two"}, "page and page_size must be whole numbers"),
        ({"page_size": "1.5"}, "page and page_size must be whole numbers"),
        ({"page_size": ""}, "page and page_size must be whole numbers"),
        ({"page": "0"}, "page and page_size must be at least 1"),
        ({"page": "-1"}, "page and page_size must be at least 1"),
        ({"page_size": "0"}, "page and page_size must be at least 1"),
    ],
)
def test_bad_page_numbers_are_a_400(api, world, params, error):
    response = api.get("/api/companies/", params)
    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_page_size_is_capped(api, db):
    count = MAX_PAGE_SIZE + 1
    Company.objects.bulk_create(
        Company(name=f"Company {i:03d}", dedupe_key=identity.dedupe_key(name=f"Company {i:03d}", domain="", country=""))
        for i in range(count)
    )
    body = api.get("/api/companies/", {"page_size": 100_000}).json()
    assert (body["count"], body["pages"], body["next"]) == (count, 2, 2)
    assert len(body["results"]) == MAX_PAGE_SIZE
    assert body["results"][0]["name"] == "Company 000"
    default = api.get("/api/companies/").json()
    assert len(default["results"]) == 50 and default["pages"] == 11


# --- errors: every answer under /api/ is JSON, saying what to fix ------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/nothing-here",
        "/api/companies/abc/similar",
        "/api/companies/-1/label",
        "/api/companies/1.5/similar",
        "/api/companies/%00/similar",
    ],
)
def test_an_unknown_api_url_is_a_json_404_that_lists_the_endpoints(api, world, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error.startswith("no API endpoint at /api/")
    assert "GET /api/companies/, GET /api/companies/<id>, POST /api/companies/<id>/label, " in error
    assert "POST /api/companies/<id>/notes, GET /api/companies/<id>/similar and GET /api/profiles/" in error


def test_an_unknown_api_url_is_json_without_a_token_too(client, db):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"].startswith("no API endpoint at /api/nothing-here")


@pytest.mark.parametrize("pk", [0, 99_999_999_999_999_999_999])  # the second is beyond a 64-bit id
def test_an_id_no_company_has_is_a_json_404(api, world, pk):
    similar = api.get(f"/api/companies/{pk}/similar")
    assert similar.status_code == 404
    assert similar.json() == {"error": f"no company with id {pk}"}
    label = post_label(api, pk, {"verdict": "like"})
    assert label.status_code == 404
    assert label.json() == {"error": f"no company with id {pk}"}


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("post", "/api/companies/", "GET"),
        ("delete", "/api/companies/", "GET"),
        ("get", "/api/companies/{pk}/label", "POST"),
        ("put", "/api/companies/{pk}/label", "POST"),
        ("post", "/api/companies/{pk}/similar", "GET"),
    ],
)
def test_a_wrong_method_is_a_json_405_that_names_the_right_one(api, world, method, path, allowed):
    path = path.format(pk=world["Bravo Beers"].pk)
    response = getattr(api, method)(path)
    assert response.status_code == 405
    assert response["Allow"] == allowed
    assert response.json() == {"error": f"{method.upper()} is not allowed on {path}; use {allowed}"}


def test_an_oversized_body_is_a_json_413_that_gives_the_limit(api, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512 * 1024
    bravo = world["Bravo Beers"]
    body = json.dumps({"verdict": "like", "padding": "x" * 600_000})
    response = api.post(f"/api/companies/{bravo.pk}/label", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large: send at most 0.5 MB"}
    assert bravo.labels.count() == 0


def test_the_database_being_down_is_a_json_503(api, world):
    down = OperationalError('connection to server at "db" (10.0.0.5), port 5432 failed: Connection refused')
    with mock.patch.object(connection, "ensure_connection", side_effect=down):
        response = api.get("/api/companies/")
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert response.json() == {"error": "the database is unavailable; try again in a minute"}


def test_pages_outside_the_api_keep_their_html_errors(as_alice, db):
    response = as_alice.get("/no-such-page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("query", ["!", ".", "'", "\\", "\U0001f600"])
def test_a_search_without_word_characters_finds_nothing_on_every_page(api, world, query):
    """More companies are scored than the page holds: the score side of the listing must match
    nothing too (it read every score, a negative slice and a 500 or a wrong count)."""
    response = api.get("/api/companies/", {"q": query, "page_size": 1})
    assert response.status_code == 200
    assert response.json()["count"] == 0 and response.json()["results"] == []


def test_the_country_is_its_code_with_its_name_and_what_was_given_beside_it(api, world):
    Company.objects.filter(name="Bravo Beers").update(country="DE", country_as_given="Deutschland")
    (bravo,) = api.get("/api/companies/", {"q": "bravo"}).json()["results"]
    assert (bravo["country"], bravo["country_name"], bravo["country_as_given"]) == ("DE", "Germany", "Deutschland")
