"""Similar companies: the nearest current vectors through the HNSW index, in the selector
(checked against an exact numpy search), the JSON API and on the company page.

Real database and services throughout; the vectors come from the fake bag-of-words encoder
(`world`) or from an encoder that hands out chosen vectors (`points`)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.db import connection, transaction

from leads.api.views import MAX_SIMILAR
from leads.companies import distribution as fit_distribution
from leads.companies.nearest import similar_companies
from leads.companies.services import save_company
from leads.embedding import active
from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, ApiToken, Company, CompanyEmbedding, CurrentVerdict, Score
from leads.models.encoders import hnsw_index_name
from leads.scoring import labels
from tests.conftest import fake_encode

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_index(fresh_hnsw_index):
    """Every test here asks the HNSW index (conftest.fresh_hnsw_index)."""


@pytest.fixture
def api(client, alice):
    """A client that sends alice's token and no session."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {ApiToken.issue(user=alice).key}"
    return client


def points(monkeypatch, vectors: np.ndarray) -> list[Company]:
    """Companies 'Point 0', 'Point 1', ..., embedded through the service as the rows of `vectors`."""
    vectors = vectors.astype(np.float32)
    monkeypatch.setattr(
        "leads.embedding.encoders.encode", lambda texts, spec=None: vectors[[int(t.split()[1]) for t in texts]]
    )
    companies = [Company.objects.create(name=f"Point {i}") for i in range(len(vectors))]
    assert len(embeddings.embed_companies([c.pk for c in companies])) == len(vectors)
    return companies


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def fan(n: int) -> np.ndarray:
    """Row 0 and n - 1 rows ever farther from it: row i is the i-th nearest to row 0."""
    rng = np.random.default_rng(7)
    away = unit(np.hstack([np.zeros((n, 1)), rng.normal(size=(n, 383))]))  # orthogonal to row 0
    angles = np.linspace(0, np.pi / 2, n)[:, None]
    start = np.zeros((1, 384))
    start[0, 0] = 1.0
    return np.cos(angles) * start + np.sin(angles) * away


def cluster(n: int, *, seed: int) -> np.ndarray:
    """n random vectors around a random direction: about 0.2 apart, and about 1 from anything
    else in the index (such as the entries other tests left behind)."""
    rng = np.random.default_rng(seed)
    return unit(unit(rng.normal(size=(1, 384))) + rng.normal(scale=0.5 / np.sqrt(384), size=(n, 384)))


def exact_similar(company: Company, *, limit: int, unlabelled: bool) -> list[tuple[int, float]]:
    """The reference: every current vector compared with the company's in float64, nearest first,
    ties by id. [(company id, cosine distance)]."""
    labelled = set(CurrentVerdict.objects.filter(profile_id=FIRST_PROFILE_ID).values_list("company_id", flat=True))
    rows = [
        (pk, vector, pk in labelled)
        for pk, vector in CompanyEmbedding.objects.current(active.model_name()).values_list("company_id", "vector")
    ]
    ids = np.array([pk for pk, _, _ in rows])
    vectors = np.array([vector for _, vector, _ in rows], dtype=np.float64)
    keep = np.array([pk != company.pk and not (unlabelled and verdict) for pk, _, verdict in rows])
    query = vectors[ids == company.pk][0]
    distances = 1.0 - vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    order = np.lexsort((ids[keep], distances[keep]))[:limit]
    return [(int(pk), float(d)) for pk, d in zip(ids[keep][order], distances[keep][order])]


def hnsw_scans() -> int:
    """How many times this transaction (the test's) has scanned the HNSW index."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_get_xact_numscans(%s::regclass)", [hnsw_index_name(active.model_name())])
        return cursor.fetchone()[0]


def world_distance(a: Company, b: Company) -> float:
    vectors = fake_encode([a.text, b.text]).astype(np.float64)
    return float(1.0 - vectors[0] @ vectors[1])


# --- the selector -----------------------------------------------------------------


def test_it_lists_the_nearest_companies_first(world):
    bravo = world["Bravo Beers"]
    scans = hnsw_scans()
    found = similar_companies(bravo, profile_id=FIRST_PROFILE_ID)
    assert hnsw_scans() == scans + 1  # through the index, not a full scan and sort
    # The other breweries, then the rest; Golf Pending has no vector yet.
    assert [s.company.name for s in found] == [
        "Alpha Brewing",
        "Copper Stouts",
        "Foxtrot Fashion",
        "Echo Review",
        "Delta Code",
    ]
    assert [s.distance for s in found] == pytest.approx([world_distance(bravo, s.company) for s in found], abs=1e-6)
    assert all(s.similarity == pytest.approx(1.0 - s.distance) for s in found)
    assert [s.distance for s in found] == sorted(s.distance for s in found)


def test_it_never_lists_the_company_itself(world):
    bravo = world["Bravo Beers"]
    twin = Company.objects.create(
        name=bravo.name, website="bravo-twin.com", description=bravo.description, industry=bravo.industry
    )
    embeddings.embed_companies([twin.pk])
    found = similar_companies(bravo, profile_id=FIRST_PROFILE_ID, limit=3)
    assert [(s.company.pk, round(s.distance, 6)) for s in found][0] == (twin.pk, 0.0)  # the same text, at 0
    assert bravo.pk not in [s.company.pk for s in found]


def test_it_stops_at_the_limit(world):
    assert [s.company.name for s in similar_companies(world["Bravo Beers"], profile_id=FIRST_PROFILE_ID, limit=2)] == [
        "Alpha Brewing",
        "Copper Stouts",
    ]


def test_it_lists_only_unlabelled_companies_when_asked(world):
    found = similar_companies(world["Bravo Beers"], profile_id=FIRST_PROFILE_ID, unlabelled=True)
    # Alpha Brewing (liked) and Delta Code (disliked) are left out.
    assert [s.company.name for s in found] == ["Copper Stouts", "Foxtrot Fashion", "Echo Review"]
    assert found[0].company.score == Score.objects.get(company=world["Copper Stouts"])  # loaded with it


def test_it_fills_the_limit_with_unlabelled_companies_when_the_nearest_are_labelled(monkeypatch, alice):
    companies = points(monkeypatch, fan(150))
    target = companies[0]
    # More labelled near neighbours than the index search keeps candidates (ef_search).
    for company in companies[1:121]:
        labels.label_company(profile_id=FIRST_PROFILE_ID, company=company, user=alice, source="click", verdict="like")

    scans = hnsw_scans()
    found = similar_companies(target, profile_id=FIRST_PROFILE_ID, limit=10, unlabelled=True)
    assert hnsw_scans() == scans + 1
    assert [s.company.name for s in found] == [f"Point {i}" for i in range(121, 131)]

    # Without the iterative scan the same search through the index finds none of them: it stops
    # after ef_search candidates, and those are the company itself and labelled ones.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        cursor.execute("SET LOCAL hnsw.ef_search = 64")
        cursor.execute("SET LOCAL enable_sort = off")  # the index, as in the selector
        in_use = active.encoder()  # its index: vectors cast to its size, its rows only
        cursor.execute(
            "SELECT c.name FROM leads_companyembedding e JOIN leads_company c ON c.id = e.company_id"
            f" WHERE NOT EXISTS (SELECT 1 FROM leads_currentverdict v WHERE v.company_id = c.id) AND e.model_name = %s ORDER BY e.vector::vector({in_use.dimensions}) <=>"
            " (SELECT vector FROM leads_companyembedding WHERE company_id = %s) LIMIT 10",
            [in_use.stored_name, target.pk],
        )
        assert {name for (name,) in cursor.fetchall()} <= {"Point 0"}
        transaction.set_rollback(True)


@pytest.mark.parametrize("unlabelled", [False, True])
def test_it_equals_an_exact_search(monkeypatch, alice, unlabelled):
    companies = points(monkeypatch, cluster(40, seed=3 + unlabelled))
    for company in companies[::3]:
        labels.label_company(
            profile_id=FIRST_PROFILE_ID, company=company, user=alice, source="click", verdict="dislike"
        )
    for company in companies[:12]:
        found = similar_companies(company, profile_id=FIRST_PROFILE_ID, limit=10, unlabelled=unlabelled)
        exact = exact_similar(company, limit=10, unlabelled=unlabelled)
        assert len(exact) == 10
        assert [s.company.pk for s in found] == [pk for pk, _ in exact]  # recall 1.0, same order
        assert [s.distance for s in found] == pytest.approx([d for _, d in exact], abs=1e-6)


def test_a_company_whose_text_changed_has_no_similar_companies_until_re_embedded(world):
    alpha, bravo = world["Alpha Brewing"], world["Bravo Beers"]
    assert bravo.pk in [s.company.pk for s in similar_companies(alpha, profile_id=FIRST_PROFILE_ID)]
    bravo.description = "cider orchard apples"
    save_company(bravo)  # a new text hash: the stored vector is stale until the worker runs

    assert similar_companies(bravo, profile_id=FIRST_PROFILE_ID) == []
    assert bravo.pk not in [
        s.company.pk for s in similar_companies(alpha, profile_id=FIRST_PROFILE_ID)
    ]  # nor is it anyone's neighbour

    embeddings.embed_companies([bravo.pk])
    assert bravo.pk in [s.company.pk for s in similar_companies(alpha, profile_id=FIRST_PROFILE_ID)]
    assert similar_companies(bravo, profile_id=FIRST_PROFILE_ID) != []


def test_a_company_never_embedded_has_no_similar_companies(world):
    assert similar_companies(world["Golf Pending"], profile_id=FIRST_PROFILE_ID) == []


# --- the API ----------------------------------------------------------------------


def test_the_api_lists_the_nearest_companies_with_their_label_and_score(api, world):
    alpha, bravo, copper = world["Alpha Brewing"], world["Bravo Beers"], world["Copper Stouts"]
    response = api.get(f"/api/companies/{bravo.pk}/similar?limit=2")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": bravo.pk,
        "embedded": True,
        "results": [
            {
                "id": alpha.pk,
                "name": "Alpha Brewing",
                "domain": "alphabrew.com",
                "label": "like",
                "score": None,
                "fit": None,
                "evidence": None,
                "band": None,
                "distance": pytest.approx(world_distance(bravo, alpha), abs=1e-6),
                "similarity": pytest.approx(1 - world_distance(bravo, alpha), abs=1e-6),
            },
            {
                "id": copper.pk,
                "name": "Copper Stouts",
                "domain": "copperstouts.co.uk",
                "label": None,
                "score": round(Score.objects.get(company=copper).value, 6),
                # the evidence behind it, as everywhere a score is served
                "fit": round(Score.objects.get(company=copper).fit, 6),
                "evidence": round(Score.objects.get(company=copper).evidence, 6),
                "band": fit_distribution.band_of(
                    Score.objects.get(company=copper), fit_distribution.score_distribution(FIRST_PROFILE_ID)
                ).key,
                "distance": pytest.approx(world_distance(bravo, copper), abs=1e-6),
                "similarity": pytest.approx(1 - world_distance(bravo, copper), abs=1e-6),
            },
        ],
    }


def test_the_api_gives_ten_by_default(api, monkeypatch):
    companies = points(monkeypatch, fan(15))
    response = api.get(f"/api/companies/{companies[0].pk}/similar")
    assert [r["name"] for r in response.json()["results"]] == [f"Point {i}" for i in range(1, 11)]


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE", "Yes"])
def test_the_api_lists_only_unlabelled_companies_when_asked(api, world, value):
    response = api.get(f"/api/companies/{world['Bravo Beers'].pk}/similar?unlabelled={value}")
    assert [r["name"] for r in response.json()["results"]] == ["Copper Stouts", "Foxtrot Fashion", "Echo Review"]


@pytest.mark.parametrize("value", ["false", "0", "no", ""])
def test_the_api_lists_labelled_companies_too_unless_asked(api, world, value):
    response = api.get(f"/api/companies/{world['Bravo Beers'].pk}/similar?unlabelled={value}")
    assert [r["label"] for r in response.json()["results"]] == ["like", None, None, None, "dislike"]


def test_the_api_says_a_company_waits_for_embedding(api, world):
    bravo = world["Bravo Beers"]
    bravo.description = "cider orchard apples"
    save_company(bravo)
    response = api.get(f"/api/companies/{bravo.pk}/similar")
    assert response.json() == {"id": bravo.pk, "embedded": False, "results": []}
    golf = world["Golf Pending"]
    assert api.get(f"/api/companies/{golf.pk}/similar").json() == {"id": golf.pk, "embedded": False, "results": []}


def test_the_api_needs_authentication(client, world):
    response = client.get(f"/api/companies/{world['Bravo Beers'].pk}/similar")
    assert response.status_code == 401
    assert response.json() == {"error": "authentication required: log in or send 'Authorization: Token <key>'"}


def test_the_api_accepts_a_session(as_alice, world):
    response = as_alice.get(f"/api/companies/{world['Bravo Beers'].pk}/similar?limit=1")
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["results"]] == ["Alpha Brewing"]


@pytest.mark.parametrize(
    "query, error",
    [
        ("unlabelled=maybe", "unlabelled must be true or false"),
        ("unlabelled=2", "unlabelled must be true or false"),
        ("limit=0", f"limit must be a whole number from 1 to {MAX_SIMILAR}"),
        (f"limit={MAX_SIMILAR + 1}", f"limit must be a whole number from 1 to {MAX_SIMILAR}"),
        ("limit=-3", f"limit must be a whole number from 1 to {MAX_SIMILAR}"),
        ("limit=2.5", f"limit must be a whole number from 1 to {MAX_SIMILAR}"),
        ("limit=ten", f"limit must be a whole number from 1 to {MAX_SIMILAR}"),
        ("limit=", f"limit must be a whole number from 1 to {MAX_SIMILAR}"),
    ],
)
def test_the_api_says_what_to_fix_in_bad_parameters(api, world, query, error):
    response = api.get(f"/api/companies/{world['Bravo Beers'].pk}/similar?{query}")
    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_the_api_takes_the_largest_limit(api, world):
    response = api.get(f"/api/companies/{world['Bravo Beers'].pk}/similar?limit={MAX_SIMILAR}")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 5  # every other embedded company


def test_the_api_says_an_unknown_company_is_not_found(api, db):
    response = api.get("/api/companies/999999/similar")
    assert response.status_code == 404
    assert response.json() == {"error": "no company with id 999999"}


def test_the_api_only_reads(api, world):
    assert api.post(f"/api/companies/{world['Bravo Beers'].pk}/similar").status_code == 405


# --- the company page -------------------------------------------------------------


def test_the_company_page_lists_similar_unlabelled_companies(as_alice, world):
    bravo, copper = world["Bravo Beers"], world["Copper Stouts"]
    response = as_alice.get(f"/companies/{bravo.pk}/")
    assert "<h2>Similar companies</h2>" in response.text
    table = response.text.split('<table class="similar">')[1].split("</table>")[0]
    rows = re.findall(r'<a href="/companies/(\d+)/">([^<]+)</a></td>\s*<td>(-?\d+)%</td>\s*<td>(.*?)</td>', table, re.S)
    assert [(int(pk), name) for pk, name, _, _ in rows] == [
        (world[name].pk, name) for name in ["Copper Stouts", "Foxtrot Fashion", "Echo Review"]
    ]
    assert int(rows[0][2]) == round(100 * (1 - world_distance(bravo, copper)))
    assert Score.objects.get(company=copper).signed in rows[0][3]
    assert "Alpha Brewing</a></td>" not in table  # liked: not one to label next


def test_the_company_page_says_similar_companies_wait_for_embedding(as_alice, world):
    response = as_alice.get(f"/companies/{world['Golf Pending'].pk}/")
    assert "<h2>Similar companies</h2>" in response.text
    assert "Waiting for embedding: similar companies show once the worker has embedded this company." in response.text
    assert '<table class="similar">' not in response.text


def test_the_company_page_says_when_no_unlabelled_company_is_similar(as_alice, fake_encoder, alice):
    lone = Company.objects.create(name="Lone Brewery", description="beer")
    liked = Company.objects.create(name="Liked Brewery", description="beer")
    embeddings.embed_companies([lone.pk, liked.pk])
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=liked, user=alice, source="click", verdict="like")
    response = as_alice.get(f"/companies/{lone.pk}/")
    assert "No other unlabelled company is embedded yet." in response.text
    assert '<table class="similar">' not in response.text
