"""The worker's copy of the vectors (scoring.vector_copy) selects exactly what the scan in
Postgres selects (rows.entering), a vector written by a transaction still open while the copy
looked included: what a pass during an import meets."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from django.db import connection, transaction

from leads.embedding import active
from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company, CompanyEmbedding
from leads.scoring import labels, vector_copy
from leads.scoring import rows as score_rows
from leads.scoring import services as scores
from leads.scoring import thresholds as score_thresholds
from leads.scoring.incremental import SELECTION_SLACK

pytestmark = pytest.mark.django_db(transaction=True)

TEXTS = [
    "beer brewery lager stout hops malt", "beer brewery ale hops", "stout porter brewery",
    "software developer tools code review", "code review cloud software", "developer tools cloud",
    "fashion clothing store", "clothing shoes store", "dental clinic teeth", "dental care clinic teeth",
]  # fmt: skip


def selections(arrivals: np.ndarray) -> tuple:
    """What the copy selects and what the scan in Postgres selects, each by id."""
    model = active.model_name()
    thresholds = score_thresholds.current(FIRST_PROFILE_ID)
    found = []
    for entering in (vector_copy.entering, score_rows.entering):
        ids, vectors = entering(model, arrivals, thresholds, SELECTION_SLACK)
        order = np.argsort(ids)
        found.append((ids[order].tolist(), vectors[order].tolist()))
    return found


def test_the_copy_selects_what_the_scan_selects_a_vector_written_while_it_looked_included(
    fake_encoder, alice, settings
):
    settings.SCORING_K = 1  # each score's k-th distance: its nearest labelled company's
    made = [Company.objects.create(name=f"Company {i}", description=text) for i, text in enumerate(TEXTS)]
    embeddings.embed_and_score([company.pk for company in made])
    for company, verdict in ((made[0], "like"), (made[3], "dislike"), (made[6], "dislike"), (made[9], "dislike")):
        labels.label_company(profile_id=FIRST_PROFILE_ID, company=company, user=alice, source="click", verdict=verdict)
    scores.catch_up()
    vectors = dict(CompanyEmbedding.objects.values_list("company_id", "vector"))
    arrival = np.array([vectors[made[1].pk]], dtype=np.float32)  # a brewery: near the breweries only
    (copy_ids, copy_vectors), (scan_ids, scan_vectors) = selections(arrival)
    assert copy_ids == scan_ids and copy_vectors == scan_vectors
    dentist = made[8]
    assert dentist.pk not in scan_ids  # far from a brewery

    # Another connection rewrites the dentist's vector as the brewery's, in a transaction that
    # stays open while the copy looks, and commits after: its rows are stamped with its start.
    opened, looked = threading.Event(), threading.Event()

    def rewrite() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "update leads_companyembedding set vector = %s::vector, created_at = now() where company_id = %s",
                    ["[" + ",".join(repr(float(x)) for x in arrival[0]) + "]", dentist.pk],
                )
                opened.set()
                assert looked.wait(30)
        finally:
            connection.close()

    writer = threading.Thread(target=rewrite)
    writer.start()
    assert opened.wait(30)
    selections(arrival)  # the copy looks while the rewrite is open (and cannot see it)
    looked.set()
    writer.join(30)
    (copy_ids, copy_vectors), (scan_ids, scan_vectors) = selections(arrival)
    assert dentist.pk in scan_ids  # at distance 0 now
    assert copy_ids == scan_ids and copy_vectors == scan_vectors


def test_a_company_added_since_the_copy_was_made_is_in_it(fake_encoder, alice):
    made = [Company.objects.create(name=f"Company {i}", description=text) for i, text in enumerate(TEXTS[:6])]
    embeddings.embed_and_score([company.pk for company in made])
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=made[3], user=alice, source="click", verdict="dislike")
    scores.catch_up()
    vectors = dict(CompanyEmbedding.objects.values_list("company_id", "vector"))
    arrival = np.array([vectors[made[0].pk]], dtype=np.float32)
    selections(arrival)
    held = vector_copy.held_bytes()
    added = [Company.objects.create(name=f"New {i}", description=TEXTS[i % 3]) for i in range(40)]
    embeddings.embed_and_score([company.pk for company in added])
    (copy_ids, copy_vectors), (scan_ids, scan_vectors) = selections(arrival)
    assert {company.pk for company in added} <= set(scan_ids)
    assert copy_ids == scan_ids and copy_vectors == scan_vectors
    assert vector_copy.held_bytes() > held
