"""End to end on real components: CSV import -> Redis -> a real Celery worker process ->
the real sentence-transformers model -> pgvector -> kNN scores, compared with scikit-learn.

No eager mode and no mocks. The worker is a separate process, so these tests use
transactional test cases: it must see what the test process committed.
"""

from __future__ import annotations

import csv
import sys
import time
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from sklearn.metrics.pairwise import cosine_distances
from sklearn.neighbors import KNeighborsRegressor

from leads.core import queue
from leads.embedding import active
from leads.embedding.services import queue_pending_embeddings
from leads.models import (
    FIRST_PROFILE_ID,
    VERDICT_VALUE,
    ApiToken,
    Company,
    CompanyEmbedding,
    ImportJob,
    PendingScoreChange,
    Score,
)
from leads.scoring import reads
from tests.conftest import FIXTURES
from tests.worker_helpers import Worker, start_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

E2E_CSV = FIXTURES / "e2e.csv"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Smaller than the number of labels (5), so the worker really has to pick the nearest ones.
WORKER_K = 3
WAIT_SECONDS = 120


@pytest.fixture(scope="module")
def worker_process(django_db_setup, tmp_path_factory):
    """One real `celery -A leads worker` on the test database for the whole module (the model loads once)."""

    # Other tests queue tasks (for ids in long-gone rows) without a worker to run them.
    queue.purge()
    worker = start_worker(tmp_path_factory.mktemp("celery"), "e2e", {"SCORING_K": str(WORKER_K)})
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def worker(worker_process, request):
    """The module's worker; prints its log when the test failed."""
    failed_before = request.session.testsfailed
    worker_process.assert_alive()
    yield worker_process
    if request.session.testsfailed > failed_before:
        print(f"--- Celery worker log ({worker_process.log_path}) ---\n{worker_process.log_tail(120)}", file=sys.stderr)


def wait_until(worker: Worker, what: str, predicate, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        worker.assert_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}:\n{worker.log_tail()}")
        time.sleep(0.25)


def import_csv(path: Path) -> ImportJob:
    call_command("import_companies", str(path), "--no-progress", stdout=StringIO(), stderr=StringIO())
    return ImportJob.objects.order_by("-pk").first()


def all_embedded() -> bool:
    total = Company.objects.count()
    return total > 0 and Company.objects.with_current_embedding(active.model_name()).count() == total


def scores_current() -> bool:
    """Every label change is covered by a rescore and every unlabelled company has a score."""
    unlabelled = Company.objects.unlabelled(FIRST_PROFILE_ID).count()
    return reads.scores_are_current(FIRST_PROFILE_ID) and Score.objects.count() == unlabelled > 0


def vectors_by_company() -> dict[int, np.ndarray]:
    rows = CompanyEmbedding.objects.filter(model_name=active.model_name()).values_list("company_id", "vector")
    return {cid: np.asarray(vector, dtype=np.float64) for cid, vector in rows}


def assert_same_neighbours(ours: list[int], theirs: list[int], distance: dict[int, float]) -> None:
    """Same neighbours in the same order, except that companies at equal distance may swap."""
    assert len(ours) == len(set(ours)) == len(theirs)
    ours_d = [distance[cid] for cid in ours]
    assert ours_d == sorted(ours_d), "neighbours must be nearest first"
    assert ours_d == pytest.approx([distance[cid] for cid in theirs], abs=1e-9)
    for mine, sk in zip(ours, theirs):
        tied = [cid for cid in distance if abs(distance[cid] - distance[sk]) <= 1e-9]
        assert mine == sk or mine in tied


def test_import_then_label_through_the_api_scores_like_sklearn(worker, alice):
    job = import_csv(E2E_CSV)
    assert (job.state, job.created, job.rejected, job.labels) == (ImportJob.State.DONE, 12, 0, 4)
    name = active.model_name()

    wait_until(worker, "every company to be embedded", all_embedded)
    wait_until(worker, "the scores for the imported labels", scores_current)
    cider = Company.objects.get(name="Orchard Hill Cider")
    assert Score.objects.filter(company=cider).exists()

    # A rep likes the cider maker through the API; the worker rescores the companies it affects.
    before = {s.company_id: (s.value, s.computed_at) for s in Score.objects.all()}
    response = Client().post(
        f"/api/companies/{cider.pk}/label",
        data={"verdict": "like"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {ApiToken.issue(user=alice).key}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["label"] == "like"
    wait_until(
        worker,
        "the rescore after the API label",
        lambda: scores_current() and not Score.objects.filter(company=cider).exists(),
    )

    # The real model embedded the real text: 384 unit-length, dense, meaningful dimensions.
    embeddings = {e.company_id: e for e in CompanyEmbedding.objects.select_related("company")}
    assert len(embeddings) == 12
    assert {e.model_name for e in embeddings.values()} == {name}
    assert name == (settings.EMBEDDING_MODEL or "all-MiniLM-L6-v2")
    assert all(e.text_hash == e.company.text_hash for e in embeddings.values())
    vectors = vectors_by_company()
    matrix = np.stack(list(vectors.values()))
    assert matrix.shape == (12, 384)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)
    assert (np.count_nonzero(matrix, axis=1) > 300).all()  # not a sparse bag of words
    by_name = {c.name: c.pk for c in Company.objects.all()}
    brewery, bavarian, devtools = (
        vectors[by_name[n]] for n in ("Copperkettle Brewing", "Alpenquell Brauerei", "Stackwise")
    )
    assert brewery @ bavarian > brewery @ devtools + 0.1
    bakery = Company.objects.get(name="Harbour Street Bakery")
    local = active.encode([bakery.text])[0]
    assert float(local @ vectors[bakery.pk]) > 0.9999

    # The scores equal scikit-learn's inverse-distance kNN on the stored vectors and labels.
    companies = list(Company.objects.in_profile(FIRST_PROFILE_ID).order_by("pk"))
    labelled = [c for c in companies if c.verdict]
    unlabelled = [c for c in companies if not c.verdict]
    assert (len(labelled), len(unlabelled)) == (5, 7)
    labelled_ids = [c.pk for c in labelled]
    x = np.stack([vectors[cid] for cid in labelled_ids])
    y = np.array([VERDICT_VALUE[c.verdict] for c in labelled])
    k = min(WORKER_K, len(labelled))
    model = KNeighborsRegressor(n_neighbors=k, weights="distance", metric="cosine", algorithm="brute").fit(x, y)
    candidates = np.stack([vectors[c.pk] for c in unlabelled])
    expected = model.predict(candidates)
    _, sk_neighbours = model.kneighbors(candidates)
    all_distances = cosine_distances(candidates, x)

    scores = {s.company_id: s for s in Score.objects.all()}
    assert set(scores) == {c.pk for c in unlabelled}  # labelled companies have no score
    for row, company in enumerate(unlabelled):
        score = scores[company.pk]
        assert score.value == pytest.approx(expected[row], abs=1e-6), company.name
        distance = dict(zip(labelled_ids, all_distances[row]))
        ours = [n["company_id"] for n in score.neighbours]
        assert_same_neighbours(ours, [labelled_ids[j] for j in sk_neighbours[row]], distance)
        assert [n["distance"] for n in score.neighbours] == pytest.approx([distance[c] for c in ours], abs=1e-6)
        assert sum(n["weight"] for n in score.neighbours) == pytest.approx(1.0, abs=1e-5)
        assert [n["label"] for n in score.neighbours] == [y[labelled_ids.index(c)] for c in ours]
    # Only the scores the new like changed were rewritten (the incremental rescore).
    moved = {cid for cid, (value, _) in before.items() if cid in scores and scores[cid].value != value}
    assert moved, "a like on a neighbour must move some score"
    assert {cid for cid in moved if scores[cid].computed_at == before[cid][1]} == set()
    assert all(cider.pk in scores[cid].neighbour_ids for cid in moved)
    # Like-minded companies lean the right way: brewing is liked, developer tooling is not.
    assert scores[by_name["Alpenquell Brauerei"]].value > 0 > scores[by_name["Patchwork Labs"]].value


def test_reimport_reembeds_only_the_company_whose_text_changed(worker, tmp_path):
    import_csv(E2E_CSV)
    wait_until(worker, "every company to be embedded", all_embedded)
    wait_until(worker, "the scores for the imported labels", scores_current)

    def snapshot():
        return {
            e.company_id: (e.pk, e.created_at, e.text_hash, np.asarray(e.vector, dtype=np.float32).tobytes())
            for e in CompanyEmbedding.objects.filter(model_name=active.model_name())
        }

    embeddings_before = snapshot()
    scored_before = dict(Score.objects.values_list("company_id", "computed_at"))

    # The same file again: nothing changes, so nothing is queued, embedded or rescored.
    same = import_csv(E2E_CSV)
    assert (same.created, same.updated, same.unchanged, same.labels) == (0, 0, 12, 0)
    assert queue_pending_embeddings() == 0
    assert not PendingScoreChange.objects.exists()

    # One description changes: only that company gets a new vector and a new score.
    rows = list(csv.DictReader(E2E_CSV.open(encoding="utf-8")))
    for row in rows:
        if row["name"] == "Ledgerlane":
            row["description"] = "Small-batch distillery making gin, whisky and fruit liqueurs for bars and wine shops."
    changed_csv = tmp_path / "changed.csv"
    with changed_csv.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    changed_job = import_csv(changed_csv)
    assert (changed_job.created, changed_job.updated, changed_job.unchanged) == (0, 1, 11)
    changed = Company.objects.get(name="Ledgerlane")
    assert changed.text_hash != embeddings_before[changed.pk][2]

    # The solo worker runs tasks in order: once this one is re-embedded and rescored,
    # the (empty) task of the identical re-import has run as well.
    wait_until(
        worker,
        "the changed company to be re-embedded and rescored",
        lambda: (
            Company.objects.filter(pk=changed.pk).with_current_embedding(active.model_name()).exists()
            and Score.objects.filter(company=changed, computed_at__gt=scored_before[changed.pk]).exists()
        ),
    )
    embeddings_after = snapshot()
    assert set(embeddings_after) == set(embeddings_before)
    for company_id, before in embeddings_before.items():
        if company_id != changed.pk:
            assert embeddings_after[company_id] == before, f"company {company_id} was re-embedded"
    row_id, created_at, text_hash, vector = embeddings_after[changed.pk]
    assert row_id == embeddings_before[changed.pk][0]  # updated in place, not duplicated
    assert created_at > embeddings_before[changed.pk][1]
    assert text_hash == changed.text_hash
    old = np.frombuffer(embeddings_before[changed.pk][3], dtype=np.float32)
    new = np.frombuffer(vector, dtype=np.float32)
    assert float(old @ new) < 0.9

    scored_after = dict(Score.objects.values_list("company_id", "computed_at"))
    assert set(scored_after) == set(scored_before)
    assert {cid for cid in scored_before if scored_after[cid] != scored_before[cid]} == {changed.pk}
    assert reads.scores_are_current(FIRST_PROFILE_ID)
