"""The JSON API's authentication: tokens (hashed, junk refused as JSON), sessions with CSRF."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import ApiToken

pytestmark = pytest.mark.django_db


# --- authentication ---------------------------------------------------------------


def test_anonymous_requests_get_a_401_that_says_how_to_authenticate(client, world):
    response = client.get("/api/companies/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "authentication required: log in or send 'Authorization: Token <key>'"}


def test_anonymous_label_posts_get_a_401_and_change_nothing(client, world):
    bravo = world["Bravo Beers"]
    response = client.post(f"/api/companies/{bravo.pk}/label", {"verdict": "like"}, content_type="application/json")
    assert response.status_code == 401
    assert "Authorization: Token" in response.json()["error"]
    assert bravo.labels.count() == 0


@pytest.mark.parametrize("scheme", ["Token", "token", "Bearer", "bearer"])
def test_a_token_authenticates(client, world, key, scheme):
    response = client.get("/api/companies/", headers={"Authorization": f"{scheme} {key}"})
    assert response.status_code == 200
    assert response.json()["count"] == 7


def test_a_token_with_surrounding_spaces_still_works(client, world, key):
    response = client.get("/api/companies/", headers={"Authorization": f"Token   {key}  "})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header, error",
    [
        ("Token not-a-real-key", "invalid API token; get yours at /account/token"),
        ("Bearer 0000000000000000000000000000000000000000", "invalid API token; get yours at /account/token"),
        ("Basic YWxpY2U6cGFzc3dvcmQ=", "Authorization header must be 'Token <your API token>'"),
        ("Token", "Authorization header must be 'Token <your API token>'"),
        ("Token    ", "Authorization header must be 'Token <your API token>'"),
    ],
)
def test_bad_tokens_are_refused(client, world, key, header, error):
    response = client.get("/api/companies/", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {"error": error}


@pytest.mark.parametrize(
    "key",
    ["\x00", "abc\x00def", "\x00" * 40, "é" * 40, "\udcff" * 40, "x" * 10_000, "' OR 1=1 --"],
    ids=["nul", "nul-inside", "nuls", "non-ascii", "surrogates", "10k", "sql"],
)
def test_it_answers_junk_in_the_token_header_with_a_json_401(client, world, key):
    response = client.get("/api/companies/", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid API token; get yours at /account/token"}


def test_it_finds_a_token_by_the_hash_of_its_key(client, world, alice, key):
    assert ApiToken.objects.get(user=alice).key_hash == hashlib.sha256(key.encode()).hexdigest()
    response = client.get("/api/companies/", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 200


def test_it_notes_when_a_token_was_last_used_at_most_once_a_minute(client, world, alice, key):
    assert ApiToken.objects.get(user=alice).last_used_at is None
    client.get("/api/companies/", headers={"Authorization": f"Token {key}"})
    first = ApiToken.objects.get(user=alice).last_used_at
    assert timezone.now() - first < timedelta(seconds=10)
    client.get("/api/companies/", headers={"Authorization": f"Token {key}"})
    assert ApiToken.objects.get(user=alice).last_used_at == first
    ApiToken.objects.filter(user=alice).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/companies/", headers={"Authorization": f"Token {key}"})
    assert ApiToken.objects.get(user=alice).last_used_at > first


def test_a_bad_token_is_refused_even_with_a_session(client, world, alice):
    client.force_login(alice)
    response = client.get("/api/companies/", headers={"Authorization": "Token nope"})
    assert response.status_code == 401


def test_an_inactive_users_token_is_refused(client, world, alice, key):
    alice.is_active = False
    alice.save()
    response = client.get("/api/companies/", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 401
    assert "invalid API token" in response.json()["error"]


def test_a_session_authenticates(client, world, alice):
    client.force_login(alice)
    assert client.get("/api/companies/").json()["count"] == 7


def test_the_listing_only_takes_gets(api, world):
    assert api.post("/api/companies/", {}, content_type="application/json").status_code == 405


def test_the_token_pages_example_asks_what_a_rep_would_and_the_api_answers_it(client, world, alice, key):
    """It showed `ordering=-score`, the one ordering the README says is slow at scale."""
    import html
    import re

    client.force_login(alice)
    page = html.unescape(client.get("/account/token").content.decode())
    assert "ordering=-score" not in page
    url = re.search(r"'https?://[^/]+(/api/companies/\?[^']+)'", page)[1]
    client.logout()
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and "results" in response.json()
