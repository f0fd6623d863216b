"""Word search with stems and why a company matched; search by meaning (the dashboard and the API).

Real database; the sentence encoder is the fake bag-of-words one (tests/conftest.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import override_settings

from leads.companies import search
from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company, CompanyWords
from leads.models.companies import Found, _weakest, search_query
from leads.settings import search_languages
from tests.test_dashboard import dashboard_names

pytestmark = pytest.mark.django_db


@pytest.fixture
def terminals(world):
    """Two more embedded companies whose descriptions hold other forms of the words reps type."""
    made = [
        Company.objects.create(name="Kiosk Nine", description="Card payment terminals for cafés and <b>bakeries</b>"),
        Company.objects.create(name="Polar Haul", description="Runs refrigerated trucks for seafood exporters"),
    ]
    embeddings.embed_companies([company.pk for company in made])
    return made


@pytest.mark.parametrize(
    "query, expected",
    [
        ("payments", ["Kiosk Nine"]),  # 'payment' in its description: the stem
        ("terminal", ["Kiosk Nine"]),  # a prefix of 'terminals'
        ("running trucks", ["Polar Haul"]),  # 'runs': the stem; every word is required
        ("bakery", ["Kiosk Nine"]),  # 'bakeries'
        ("payments trucks", []),
    ],
)
def test_it_finds_other_forms_of_the_words(as_alice, terminals, query, expected):
    assert dashboard_names(as_alice.get("/", {"q": query})) == expected


def test_without_a_search_language_only_the_words_as_typed_match(as_alice, terminals):
    with override_settings(SEARCH_LANGUAGES=()):
        embeddings.refill_search_words()
        assert dashboard_names(as_alice.get("/", {"q": "payments"})) == []
        assert dashboard_names(as_alice.get("/", {"q": "payment"})) == ["Kiosk Nine"]
    assert embeddings.refill_search_words() == CompanyWords.objects.count() == 8
    assert dashboard_names(as_alice.get("/", {"q": "payments"})) == ["Kiosk Nine"]


def test_the_migration_reads_the_words_the_embedding_service_writes(terminals):
    kiosk = terminals[0]
    before = CompanyWords.objects.get(company=kiosk).words
    with connection.cursor() as cursor:
        cursor.execute("update leads_companywords set words = to_tsvector('simple', 'nothing')")
    migration = __import__("leads.migrations.0021_search_words_stemmed", fromlist=["read_again"])
    migration.read_again(None, connection.schema_editor())
    assert CompanyWords.objects.get(company=kiosk).words == before
    assert "'payment'" in before and "'termin'" in before  # as typed and stemmed


def test_it_says_why_each_company_matched(as_alice, terminals):
    page = as_alice.get("/", {"q": "payments"}).text
    assert (
        "Matches its description: “Card <mark>payment</mark> terminals for cafés and &lt;b&gt;bakeries&lt;/b&gt;”"
        in page
    )
    assert "<b>bakeries" not in page  # the company's text stays text
    page = as_alice.get("/", {"q": "brew"}).text
    named = Company.objects.filter(name__in=["Alpha Brewing", "Bravo Beers"]).order_by("name")
    matches = search.search_matches([company.pk for company in named], "brew")
    assert [matches[company.pk].fields for company in named] == [
        ("name", "industry", "description"),
        ("industry", "description"),
    ]
    assert "Matches its industry, description: “beer <mark>brewery</mark> lager ale hops malt”" in page
    assert search.search_matches([named[0].pk], "alphabrew")[named[0].pk].fields == ("website",)


def test_a_long_description_is_cut_around_its_first_match():
    text = " ".join(f"w{i}" for i in range(40)) + " payment, terminals! " + " ".join(f"v{i}" for i in range(40))
    pieces = search._excerpt(text, lambda word: word == "payment", around=3)
    assert "".join(piece for piece, _ in pieces) == "…w37 w38 w39 payment, terminals! v0 v1 v2 v3 v4…"
    assert [piece for piece, hit in pieces if hit] == ["payment"]
    # The text between matched words is one piece: a page's template loops over every piece.
    assert pieces == (("…w37 w38 w39 ", False), ("payment", True), (", terminals! v0 v1 v2 v3 v4…", False))


def test_no_search_no_reasons(as_alice, terminals):
    assert "Matches its" not in as_alice.get("/").text
    assert search.search_matches([terminals[0].pk], "!!") == {}


def test_search_languages_are_checked():
    assert search_languages(" English , french,english") == ("english", "french")
    assert search_languages("") == ()
    with pytest.raises(ImproperlyConfigured, match="klingon is not a language search can stem; use a comma"):
        search_languages("english,klingon")


# --- search by meaning ------------------------------------------------------------


def test_it_lists_the_companies_nearest_in_meaning(as_alice, terminals, fresh_hnsw_index):
    page = as_alice.get("/", {"about": "refrigerated trucks for seafood", "q": "beer"})
    names = dashboard_names(page)
    assert names[0] == "Polar Haul" and len(names) == 8  # every embedded company, nearest first
    assert "Golf Pending" not in names  # not embedded: nothing to compare
    assert "nearest in meaning to “refrigerated trucks for seafood”" in page.text
    assert "(the filters do not apply)" in page.text
    assert "% similar to what you described" in page.text
    nearest = search.by_meaning("refrigerated trucks for seafood", profile_id=FIRST_PROFILE_ID)
    assert [row.company.name for row in nearest] == names
    assert nearest[0].similarity > nearest[1].similarity


@pytest.mark.parametrize(
    "about, message",
    [("x" * 501, "Describe it in at most 500 characters (got 501)."), ("cold\x00store", "holds a NUL character")],
)
def test_a_bad_description_says_what_to_fix(as_alice, world, about, message):
    response = as_alice.get("/", {"about": about})
    assert response.status_code == 400 and message in response.text


def test_an_empty_description_is_the_plain_dashboard(as_alice, world):
    assert len(dashboard_names(as_alice.get("/", {"about": "   "}))) == 7


def test_the_api_searches_by_meaning_too(api, terminals, fresh_hnsw_index):
    response = api.get("/api/companies/by-meaning", {"about": "refrigerated trucks for seafood", "limit": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["about"] == "refrigerated trucks for seafood"
    assert [row["name"] for row in body["results"]] == [
        row.company.name for row in search.by_meaning(body["about"], profile_id=FIRST_PROFILE_ID, limit=3)
    ]
    assert body["results"][0]["name"] == "Polar Haul" and 0 < body["results"][0]["similarity"] <= 1


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "about: Describe the company you are looking for in a few words."),
        ({"about": "x" * 501}, "about: Describe it in at most 500 characters (got 501)."),
        ({"about": "cold storage", "limit": "0"}, "limit must be a whole number from 1 to"),
    ],
)
def test_the_api_says_what_to_fix_in_a_search_by_meaning(api, world, params, message):
    response = api.get("/api/companies/by-meaning", params)
    assert response.status_code == 400 and response.json()["error"].startswith(message)


# --- a common word's walk: the cheap check on names and domains ---------------------------

NAMED = [
    ("Straße Payments GmbH", "strasse.de"),
    ("ÄRZTE-Health Tech", "aerzte-health.io"),
    ("Runs Logistics", "run-fast.example"),
    ("Happy Paws", "happiness.example"),
    ("Companies House", "the-company.example"),
    ("e_mail Tools", "mail.example"),
    ("Acme", "payments-acme.com"),
]


@pytest.mark.parametrize(
    "query",
    [
        "payments",
        "straße",
        "ärzte",
        "health tech",
        "running",
        "happy",
        "happiness",
        "companies",
        "the",
        "e_mail",
        "acme payments",
        "acme com",
        "mail",
        "paws run",
        "___",
    ],
)
def test_a_common_words_cheap_name_check_agrees_with_postgres(db, query):
    """A dense search checks the best scores' names and domains with a substring condition before
    their words (Found.named_prefilter): never a company that Postgres's own check keeps left out."""
    made = [Company.objects.create(name=name, domain=domain) for name, domain in NAMED]
    ids = [company.pk for company in made]
    found = Company.objects.all().found_by(query)
    parsed = search_query(query)
    if parsed is None:
        return
    dense = Found(Company.objects.none(), dense=parsed, query=query)
    plain = Found(Company.objects.none(), dense=parsed)  # no query: no prefilter, Postgres alone
    assert plain.named_prefilter is None
    assert dense.matching(ids) == plain.matching(ids) == set(found.ids or [])


def test_the_cheap_name_check_asks_each_substring_once():
    """A word's alternatives as substrings: one that implies another goes ('software' in a name
    implies 'softwar' is), the others stay, so their OR is unchanged."""
    assert _weakest({("software",), ("softwar",)}) == [("softwar",)]
    assert _weakest({("health",)}) == [("health",)]
    assert _weakest({("happy",), ("happi",)}) == [("happi",), ("happy",)]
    assert _weakest({("e", "mail"), ("email",)}) == [("e", "mail")]
    assert _weakest({("mail", "e"), ("mailbox",), ("box",)}) == [("box",), ("mail", "e")]
