"""The JSON API's verdicts: a token or a session labels a company, one rescore queued after the
commit, bodies that say what to fix, CSRF for sessions only (listing and errors: test_api.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from leads.models import FIRST_PROFILE_ID, ApiToken, Company, Label, PendingScoreChange
from tests.test_api import names, post_label

pytestmark = pytest.mark.django_db


# --- labelling --------------------------------------------------------------------


@pytest.mark.parametrize("verdict, stored, label", [("like", "like", "like"), ("DISLIKE", "dislike", "dislike")])
def test_a_token_labels_a_company(api, world, alice, verdict, stored, label):
    bravo = world["Bravo Beers"]
    response = post_label(api, bravo.pk, {"verdict": verdict})
    assert response.status_code == 201
    created = Label.objects.get(company=bravo)
    assert response.json() == {"id": bravo.pk, "label": label, "label_id": created.pk, "rescore": "queued"}
    assert (created.verdict, created.user, created.source) == (stored, alice, "api")
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk).verdict == stored
    assert PendingScoreChange.objects.filter(company_id=bravo.pk).exists()  # the incremental rescore will take it
    assert api.get("/api/companies/", {"q": "bravo"}).json()["results"][0]["label"] == stored


def test_clearing_a_label(api, world, alice):
    alpha = world["Alpha Brewing"]
    response = post_label(api, alpha.pk, {"verdict": "clear"})
    assert response.status_code == 201
    assert response.json()["label"] is None
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=alpha.pk).verdict == ""
    assert list(alpha.labels.values_list("verdict", "user__username")) == [("clear", "alice"), ("like", "alice")]
    assert "Alpha Brewing" in names(api.get("/api/companies/", {"label": "none"}))


def test_labelling_queues_one_rescore_after_commit(api, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert post_label(api, world["Bravo Beers"].pk, {"verdict": "like"}).status_code == 201
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    "body, error",
    [
        ("{not json", 'body must be JSON like {"verdict": "like"}: '),
        ("", 'body must be JSON like {"verdict": "like" | "dislike" | "clear"}'),
        ({}, 'body must be JSON like {"verdict": "like" | "dislike" | "clear"}'),
        ({"label": "like"}, 'body must be JSON like {"verdict": "like" | "dislike" | "clear"}'),
        (["like"], 'body must be JSON like {"verdict": "like" | "dislike" | "clear"}'),
        ('"like"', 'body must be JSON like {"verdict": "like" | "dislike" | "clear"}'),
        ({"verdict": "maybe"}, "verdict must be one of: like, dislike, clear (got 'maybe')"),
        ({"verdict": ""}, "verdict must be one of: like, dislike, clear (got '')"),
        ({"verdict": None}, "verdict must be one of: like, dislike, clear (got None)"),
        ({"verdict": 1}, "verdict must be one of: like, dislike, clear (got 1)"),
    ],
)
def test_bad_label_bodies_are_a_400(api, world, body, error):
    bravo = world["Bravo Beers"]
    response = post_label(api, bravo.pk, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert bravo.labels.count() == 0
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk).verdict == ""


@pytest.mark.parametrize("raw", [b'{"verdict": "\x80like"}', b"\xff\xfe\x00", b"[" * 100_000])
def test_undecodable_label_bodies_are_a_400_not_a_500(api, world, raw):
    response = api.post(f"/api/companies/{world['Bravo Beers'].pk}/label", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("body must be JSON like")
    assert world["Bravo Beers"].labels.count() == 0


def test_labelling_an_unknown_company_is_a_404(api, world):
    response = post_label(api, 999_999, {"verdict": "like"})
    assert response.status_code == 404
    assert response.json() == {"error": "no company with id 999999"}
    assert Label.objects.count() == 2  # the fixture's two


def test_the_label_endpoint_only_takes_posts(api, world):
    assert api.get(f"/api/companies/{world['Bravo Beers'].pk}/label").status_code == 405


@pytest.fixture
def csrf_client(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def test_a_session_post_without_a_csrf_token_is_refused(csrf_client, world):
    bravo = world["Bravo Beers"]
    response = post_label(csrf_client, bravo.pk, {"verdict": "like"})
    assert response.status_code == 403
    assert response.json() == {"error": "CSRF check failed: send the X-CSRFToken header with a session"}
    assert bravo.labels.count() == 0


def test_a_session_post_with_a_csrf_token_works(csrf_client, world, alice):
    csrf_client.get("/")  # sets the CSRF cookie
    token = csrf_client.cookies["csrftoken"].value
    bravo = world["Bravo Beers"]
    response = post_label(csrf_client, bravo.pk, {"verdict": "dislike"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201
    assert Label.objects.get(company=bravo).user == alice


def test_a_token_post_needs_no_csrf_token(world, key, alice):
    client = Client(enforce_csrf_checks=True)
    bravo = world["Bravo Beers"]
    response = post_label(client, bravo.pk, {"verdict": "like"}, headers={"Authorization": f"Token {key}"})
    assert response.status_code == 201
    assert Label.objects.get(company=bravo).user == alice


def test_the_token_decides_who_labelled(client, world, bob):
    bravo = world["Bravo Beers"]
    response = post_label(
        client, bravo.pk, {"verdict": "like"}, headers={"Authorization": f"Bearer {ApiToken.issue(user=bob).key}"}
    )
    assert response.status_code == 201
    assert Label.objects.get(company=bravo).user == bob
