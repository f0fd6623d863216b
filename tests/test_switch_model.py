"""manage.py switch_model: every company embedded with the new encoder in the background while the
old vectors keep scores and similar companies as they were, then one switch, a full rescore on
the new vectors (of another size here: 384 -> 512), and the old vectors and index dropped."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from pgvector.django import CosineDistance

from leads.companies.nearest import similar_companies
from leads.embedding import active
from leads.embedding import encoders as embedding
from leads.embedding import services as embeddings
from leads.embedding import switching as encoders
from leads.imports import selectors as import_selectors
from leads.models import FIRST_PROFILE_ID, Company, CompanyEmbedding, EncoderState, ImportJob, Score
from leads.models.companies import sized_vector
from leads.models.encoders import hnsw_index_name
from leads.scoring import knn as scoring
from leads.scoring import services as scores

MINILM = embedding.encoder_for("minilm")
MULTILINGUAL = embedding.encoder_for("multilingual")


def indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("select indexname from pg_indexes where tablename = 'leads_companyembedding'")
        return {row[0] for row in cursor.fetchall()}


def score_values() -> dict[int, float]:
    return dict(Score.objects.filter(profile_id=FIRST_PROFILE_ID).values_list("company_id", "value"))


def test_switching_to_an_encoder_of_another_size_embeds_switches_rescores_and_drops_the_old(world):
    before = score_values()
    out = StringIO()
    call_command("switch_model", "multilingual", "--here", stdout=out)
    text = out.getvalue()
    assert "Embedding every company with 'multilingual'" in text
    assert "companies embedded with 'multilingual'" in text  # progress lines
    assert "Switched" in text

    state = EncoderState.objects.get()
    assert (state.active, state.active_dimensions, state.target) == ("multilingual", 512, "")
    assert active.model_name() == MULTILINGUAL.stored_name
    # Every company has a 512-d vector from the new encoder; the old vectors and index are gone.
    assert set(CompanyEmbedding.objects.values_list("model_name", flat=True)) == {MULTILINGUAL.stored_name}
    assert CompanyEmbedding.objects.count() == Company.objects.count()
    assert {len(v) for v in CompanyEmbedding.objects.values_list("vector", flat=True)} == {512}
    assert hnsw_index_name(MULTILINGUAL.stored_name) in indexes()
    assert hnsw_index_name(MINILM.stored_name) not in indexes()

    # The scores are the new vectors' kNN scores: what scikit-learn-equal leads.scoring.knn gives.
    after = score_values()
    assert set(after) == set(before) | {world["Golf Pending"].pk}  # Golf was embedded on the way
    labelled = {c.pk: c.verdict for c in Company.objects.in_profile(FIRST_PROFILE_ID).labelled(FIRST_PROFILE_ID)}
    vectors = dict(CompanyEmbedding.objects.values_list("company_id", "vector"))
    ids = sorted(labelled)
    expected = scoring.knn_scores(
        np.array([vectors[i] for i in sorted(after)]),
        np.array([vectors[i] for i in ids]),
        np.array([1.0 if labelled[i] == "like" else -1.0 for i in ids]),
        k=10,
    ).values
    assert np.allclose([after[i] for i in sorted(after)], expected, atol=1e-9)

    # Similar companies search the new vectors (through the new index): the exact nearest.
    bravo = world["Bravo Beers"].pk
    distance = {i: 1 - float(np.dot(vectors[bravo], v)) for i, v in vectors.items() if i != bravo}
    nearest = sorted(distance, key=lambda i: (round(distance[i], 9), i))[:3]
    assert [
        s.company.pk for s in similar_companies(world["Bravo Beers"], profile_id=FIRST_PROFILE_ID, limit=3)
    ] == nearest
    with transaction.atomic(), connection.cursor() as cursor:  # the query's expression is the index's
        cursor.execute("set local enable_seqscan = off")
        query = CosineDistance(sized_vector(512), vectors[bravo])
        plan = CompanyEmbedding.objects.filter(model_name=MULTILINGUAL.stored_name).order_by(query)[:3].explain()
    assert hnsw_index_name(MULTILINGUAL.stored_name) in plan


def test_during_a_switch_the_old_vectors_keep_scores_and_similar_companies(world):
    before = score_values()
    similar_before = [
        s.company.pk for s in similar_companies(world["Bravo Beers"], profile_id=FIRST_PROFILE_ID, limit=3)
    ]
    encoders.start("multilingual")
    half = sorted(Company.objects.values_list("pk", flat=True))[:3]
    assert embeddings.embed_companies(half, target=True) == half

    progress = active.progress()
    assert (progress.target, progress.embedded, progress.total) == ("multilingual", 3, 7)
    assert not encoders.finish()  # not every company has a new vector yet
    assert active.model_name() == MINILM.stored_name
    assert score_values() == before
    assert [
        s.company.pk for s in similar_companies(world["Bravo Beers"], profile_id=FIRST_PROFILE_ID, limit=3)
    ] == similar_before
    # A label change meanwhile is scored from the old vectors, as everything else.
    scores.catch_up()
    assert score_values() == before
    # The import progress page says how far the switch got.
    job = ImportJob.objects.create(original_name="x.csv", state=ImportJob.State.DONE)
    shown = import_selectors.import_progress(job, profile_id=FIRST_PROFILE_ID)
    assert (shown["switch_target"], shown["switch_embedded"], shown["switch_total"]) == ("multilingual", 3, 7)


def test_it_refuses_a_switch_to_the_encoder_in_use_and_an_encoder_it_cannot_load(world, tmp_path):
    with pytest.raises(CommandError, match="already use 'minilm'"):
        call_command("switch_model", "minilm", stdout=StringIO())
    with pytest.raises(CommandError, match="could not load"):
        call_command("switch_model", str(tmp_path / "no-such-model"), stdout=StringIO())
    assert EncoderState.objects.get().target == ""


def test_a_setting_that_names_another_encoder_than_the_database_s_is_a_warning_saying_what_to_do(world):
    assert not [w for w in checks.run_checks() if w.id == "leads.W001"]
    call_command("switch_model", "multilingual", "--here", stdout=StringIO())
    warnings = [w for w in checks.run_checks() if w.id == "leads.W001"]
    assert len(warnings) == 1
    assert "switch_model minilm" in warnings[0].msg and "'multilingual' is used" in warnings[0].msg
