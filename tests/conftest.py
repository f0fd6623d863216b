"""Shared fixtures. Tests run on the real embedded Postgres + pgvector and Redis
that tests/settings.py puts under .leads/test."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO_CSV = Path(__file__).resolve().parent.parent / "leads" / "demo" / "companies.csv"


def fake_encode(texts: list[str]) -> np.ndarray:
    """A tiny deterministic bag-of-words encoder: texts sharing words end up close.

    Unit tests use it for speed; the end-to-end tests use the real model."""
    vectors = np.zeros((len(texts), 384), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z]+", text.lower()):
            vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 384] += 1.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


@pytest.fixture
def fake_encoder(monkeypatch):
    monkeypatch.setattr("leads.embedding.encode", fake_encode)
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


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """Stop the embedded Postgres and Redis the suite started, so that nothing outlives `make test`."""
    import os

    from django.conf import settings

    from leads import devstack

    if not os.environ.get("REDIS_URL"):
        devstack.stop_redis(settings.LEADS_HOME)
    if not os.environ.get("DATABASE_URL"):
        from django.db import connections

        connections.close_all()
        devstack.stop_postgres(settings.LEADS_HOME)
