"""Shared fixtures. Tests run on the real embedded Postgres + pgvector and Redis
that tests/settings.py puts under .leads/test."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from django.db import connection

from leads.embedding import active, hnsw
from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company, Profile
from leads.models.encoders import hnsw_index_name
from leads.scoring import labels
from leads.scoring import services as scores

# Headless Chromium for the browser tests: the `browser` and `page` fixtures.
pytest_plugins = ["tests.browser_helpers"]

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO_CSV = Path(__file__).resolve().parent.parent / "leads" / "demo" / "companies.csv"


def fake_encode(texts: list[str], spec=None) -> np.ndarray:
    """A tiny deterministic bag-of-words encoder: texts sharing words end up close. It makes
    vectors of the size of the encoder asked for (`spec`, as `embedding.encode` takes it).

    Unit tests use it for speed; the end-to-end tests use the real model."""
    dimensions = spec.dimensions if spec is not None else 384
    vectors = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z]+", text.lower()):
            vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % dimensions] += 1.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The score distribution (bands, ranks) is cached per process: never from an earlier test."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_copies_in_memory():
    """A worker's copies of the vectors (scoring.vector_copy) and of the k-th distances
    (scoring.thresholds) are made anew by each test's first pass: a test rolled back or flushed
    can leave them holding what the database no longer has, which no production database does."""
    from leads.scoring import thresholds, vector_copy

    vector_copy.forget()
    thresholds.forget()
    yield
    vector_copy.forget()
    thresholds.forget()


@pytest.fixture(autouse=True)
def _hnsw_index_kept(request):
    """A test outside a transaction that queued a bulk embedding may end with the active encoder's
    HNSW index dropped (embedding.switching.defer_index) and not yet built again; the flush does not
    bring DDL back. Build it then, so that the next test finds it (and its worker's start-up sweep
    does not spend the test building it)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    spec = active.encoder()
    if not hnsw.index_ready(spec.stored_name):
        hnsw.build_index(spec.stored_name, spec.dimensions)


@pytest.fixture
def fake_encoder(monkeypatch):
    monkeypatch.setattr("leads.embedding.encoders.encode", fake_encode)
    return fake_encode


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "alice-password-1")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "bob-password-1")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("charlie", "charlie@example.com", "charlie-password-1")


WORLD_COMPANIES = {
    # name: (website, description, industry)
    "Alpha Brewing": ("https://www.alphabrew.com", "beer brewery lager stout hops malt", "Brewery"),
    "Bravo Beers": ("bravobeers.com", "beer brewery lager ale hops malt", "Brewery"),
    "Copper Stouts": ("https://copperstouts.co.uk/en/", "beer brewery stout porter hops", "Brewery"),
    "Delta Code": ("https://deltacode.io", "software developer tools code review cloud", "Software"),
    "Echo Review": ("https://echoreview.io", "software developer code review tools", "Software"),
    "Foxtrot Fashion": ("https://foxtrot-fashion.fr", "fashion clothing store", "Retail"),
}


@pytest.fixture
def fresh_hnsw_index(db):
    """Rebuild the HNSW index inside this test's transaction (and so undone with it), for a test
    whose result depends on similar companies.

    Every earlier test rolled back, and a rolled-back insert leaves its index entry behind until
    a VACUUM, which cannot run inside a test's transaction: by now hundreds of dead, identical
    copies of each `world` vector, which crowd live entries off the HNSW graph so that even an
    exhaustive index search misses some. A real database is vacuumed."""
    with connection.cursor() as cursor:
        cursor.execute(f"REINDEX INDEX {hnsw_index_name(active.model_name())}")


@pytest.fixture
def world(fake_encoder, alice, bob):
    """Six embedded companies, Alpha liked by alice and Delta disliked by bob, scores computed;
    plus Golf Pending, created afterwards and so neither embedded nor scored."""
    made = {
        name: Company.objects.create(name=name, website=website, description=description, industry=industry)
        for name, (website, description, industry) in WORLD_COMPANIES.items()
    }
    embeddings.embed_companies([c.pk for c in made.values()])
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=made["Alpha Brewing"], user=alice, source="click", verdict="like"
    )
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=made["Delta Code"], user=bob, source="click", verdict="dislike"
    )
    assert scores.rescore_all(FIRST_PROFILE_ID) == 4
    made["Golf Pending"] = Company.objects.create(name="Golf Pending", industry="Logistics")
    return {name: Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=c.pk) for name, c in made.items()}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """Stop the embedded Postgres and Redis the suite started, so that nothing outlives `make test`."""
    import os

    from django.conf import settings

    from leads.core import devstack

    if not os.environ.get("REDIS_URL"):
        devstack.stop_redis(settings.LEADS_HOME)
    if not os.environ.get("DATABASE_URL"):
        from django.db import connections

        connections.close_all()
        devstack.stop_postgres(settings.LEADS_HOME)


# The helper modules below hold asserts: have pytest rewrite them, as it does test modules,
# so that a failing one shows the values it compared.
pytest.register_assert_rewrite("tests.csv_helpers", "tests.import_helpers", "tests.web_helpers")


@pytest.fixture
def key(alice):
    """Alice's API key (only its hash is stored)."""
    from leads.models import ApiToken

    return ApiToken.issue(user=alice).key


@pytest.fixture
def api(client, key):
    """A client that sends alice's token and no session."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {key}"
    return client


@pytest.fixture
def two_profiles(world, alice):
    """The world's first profile (Alpha liked, Delta disliked) and "Software" (Delta liked, Alpha disliked)."""
    software = Profile.objects.create(name="Software")
    labels.label_company(
        profile_id=software.pk, company=world["Delta Code"], user=alice, source="click", verdict="like"
    )
    labels.label_company(
        profile_id=software.pk, company=world["Alpha Brewing"], user=alice, source="click", verdict="dislike"
    )
    scores.catch_up()
    return software


@pytest.fixture
def as_alice(client, alice):
    """The test client, logged in as alice, a rep."""
    client.force_login(alice)
    return client


@pytest.fixture
def as_staff(client, staff):
    """The test client, logged in as charlie, a superuser."""
    client.force_login(staff)
    return client
