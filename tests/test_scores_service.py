"""Labels, embeddings and scores through the services, on the real database (fake encoder)."""

import threading
import time

import numpy as np
import pytest
from django.db import connection

from leads.core import locks
from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company, Label, Score, ScoringState
from leads.scoring import labels, reads
from leads.scoring import services as scores

pytestmark = pytest.mark.django_db


@pytest.fixture
def companies(fake_encoder):
    rows = {
        "brew": "beer brewery lager stout",
        "brew2": "beer brewery lager ale",
        "brew3": "beer brewery stout porter",
        "soft": "software developer tools code",
        "soft2": "software developer code review",
        "shop": "fashion clothing store",
    }
    made = {key: Company.objects.create(name=key, description=text) for key, text in rows.items()}
    embeddings.embed_companies([c.pk for c in made.values()])
    return made


def test_a_label_is_kept_in_the_history_and_the_latest_one_is_current(companies, alice, bob):
    brew = companies["brew"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=brew, user=alice, source="click", verdict="like")
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=brew, user=bob, source="click", verdict="dislike")
    brew = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=brew.pk)
    assert brew.verdict == "dislike"
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=brew, user=alice, source="click", verdict="clear")
    brew = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=brew.pk)
    assert brew.verdict == ""
    assert list(brew.labels.values_list("verdict", "user__username")) == [
        ("clear", "alice"),
        ("dislike", "bob"),
        ("like", "alice"),
    ]


def test_an_unknown_verdict_is_refused(companies, alice):
    with pytest.raises(labels.InvalidVerdict, match="like, dislike, clear"):
        labels.label_company(
            profile_id=FIRST_PROFILE_ID, company=companies["brew"], user=alice, source="click", verdict="maybe"
        )
    assert Label.objects.count() == 0


def test_scores_follow_the_nearest_labels_and_explain_themselves(companies, alice):
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=companies["brew"], user=alice, source="click", verdict="like"
    )
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=companies["soft"], user=alice, source="click", verdict="dislike"
    )
    assert scores.rescore_all(FIRST_PROFILE_ID) == 4
    by_name = {s.company.name: s for s in Score.objects.select_related("company")}
    assert set(by_name) == {"brew2", "brew3", "soft2", "shop"}  # labelled companies get no score
    assert by_name["brew2"].value > 0.3 and by_name["soft2"].value < -0.3
    nearest = by_name["brew2"].neighbours[0]
    assert nearest["company_id"] == companies["brew"].pk and nearest["label"] == 1.0
    assert sum(n["weight"] for n in by_name["brew2"].neighbours) == pytest.approx(1.0, abs=1e-5)


def test_without_labels_companies_are_not_scored_not_zero(companies, alice):
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=companies["brew"], user=alice, source="click", verdict="like"
    )
    scores.rescore_all(FIRST_PROFILE_ID)
    assert Score.objects.count() == 5
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=companies["brew"], user=alice, source="click", verdict="clear"
    )
    scores.rescore_all(FIRST_PROFILE_ID)
    assert Score.objects.count() == 0


def test_embedding_skips_companies_whose_text_and_model_are_unchanged(companies):
    ids = [c.pk for c in companies.values()]
    assert embeddings.embed_companies(ids) == []
    Company.objects.filter(pk=companies["shop"].pk).update(description="now sells beer")
    shop = Company.objects.get(pk=companies["shop"].pk)
    shop.save()  # recomputes the text hash
    assert embeddings.embed_companies(ids) == [shop.pk]


def test_scores_match_scoring_module_on_stored_vectors(companies, alice):
    from leads.scoring.knn import knn_scores

    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=companies["brew"], user=alice, source="click", verdict="like"
    )
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=companies["soft"], user=alice, source="click", verdict="dislike"
    )
    scores.rescore_all(FIRST_PROFILE_ID)
    labelled = reads.load_labelled_set(FIRST_PROFILE_ID)
    target = companies["shop"]
    vector = np.array([target.embeddings.get().vector], dtype=np.float32)
    expected = knn_scores(vector, labelled.vectors, labelled.labels, k=10).values[0]
    assert Score.objects.get(company=target).value == pytest.approx(expected, abs=1e-9)


def test_the_sweep_restarts_a_full_rescore_whose_chunk_tasks_were_lost(companies, alice, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from leads import tasks
    from leads.models import ScoringState

    sent = []
    monkeypatch.setattr(scores, "send_in_turn", lambda name, runs: sent.extend(name for _ in runs) or len(runs))
    ScoringState.objects.update_or_create(
        profile_id=FIRST_PROFILE_ID,
        defaults={"chunks_left": 3, "full_started_at": timezone.now() - timedelta(minutes=5)},
    )
    assert not scores.full_rescore_stalled(FIRST_PROFILE_ID)
    ScoringState.change(FIRST_PROFILE_ID, full_started_at=timezone.now() - timedelta(hours=1))
    assert scores.full_rescore_stalled(FIRST_PROFILE_ID)
    tasks.sweep()
    state = ScoringState.of(FIRST_PROFILE_ID)
    assert state.chunks_left == 1 and timezone.now() - state.full_started_at < timedelta(minutes=1)
    assert sent.count("leads.rescore_chunk") == 1


def test_changing_k_rescores_every_company(companies, alice, monkeypatch):
    """SCORING_K is the setting that picks k: scores made with another k are rescored, by the
    sweep (full rescore chunks for the workers) or by the next label change."""
    from django.test import override_settings

    from leads import tasks
    from leads.models import ScoringState

    for company in list(companies.values())[:4]:
        labels.label_company(profile_id=FIRST_PROFILE_ID, company=company, user=alice, source="click", verdict="like")
    with override_settings(SCORING_K=2):
        scores.rescore_all(FIRST_PROFILE_ID)
        assert ScoringState.of(FIRST_PROFILE_ID).k == 2
        assert {len(s.neighbour_ids) for s in Score.objects.all()} == {2}
        sent = []
        monkeypatch.setattr(scores, "send_in_turn", lambda name, runs: sent.extend(tuple(a) for a in runs) or len(runs))
        tasks.sweep()
        assert sent == []  # k unchanged: nothing to do
    with override_settings(SCORING_K=3):
        tasks.sweep()
        assert sent and ScoringState.of(FIRST_PROFILE_ID).k == 3  # the chunks went to the workers
        for _, lo, hi in sent:
            scores.rescore_chunk(FIRST_PROFILE_ID, lo, hi)
        assert {len(s.neighbour_ids) for s in Score.objects.all()} == {3}


@pytest.mark.django_db(transaction=True)
def test_the_labelled_set_is_read_from_one_snapshot_while_verdicts_change(fake_encoder, alice):
    """Reading ids and verdicts in two statements let a clear committed in between leave an id
    without a verdict (KeyError('') in the worker). Other connections like, dislike and clear the
    same companies while the labelled set is read again and again."""
    made = [Company.objects.create(name=f"Racer {i}", description=f"beer number {i}") for i in range(12)]
    embeddings.embed_companies([c.pk for c in made])
    stop = threading.Event()
    errors: list[BaseException] = []

    def click_around(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                company = Company.objects.get(pk=made[rng.integers(len(made))].pk)
                verdict = ["like", "dislike", "clear"][rng.integers(3)]
                labels.label_company(
                    profile_id=FIRST_PROFILE_ID, company=company, user=alice, source="click", verdict=verdict
                )
        except BaseException as error:  # noqa: BLE001 - reported below, with the thread's cause
            errors.append(error)
        finally:
            connection.close()

    reps = [threading.Thread(target=click_around, args=(seed,)) for seed in range(2)]
    for rep in reps:
        rep.start()
    try:
        deadline = time.monotonic() + 3.0
        snapshots = 0
        while time.monotonic() < deadline:
            labelled = reads.load_labelled_set(FIRST_PROFILE_ID)
            assert len(labelled.labels) == len(labelled.company_ids) == len(labelled.vectors)
            assert set(np.unique(labelled.labels)) <= {1.0, -1.0}
            snapshots += 1
    finally:
        stop.set()
        for rep in reps:
            rep.join()
    assert not errors, errors
    assert snapshots > 10
    scores.catch_up()  # and the passes end where a full rescore does
    after_passes = dict(Score.objects.values_list("company_id", "fit"))
    scores.rescore_all(FIRST_PROFILE_ID)
    assert dict(Score.objects.values_list("company_id", "fit")) == pytest.approx(after_passes)


def test_a_radius_measured_before_the_companies_were_embedded_is_measured_again(fake_encoder, alice):
    """The demo's labels arrive with its import, before the worker has embedded the companies: a
    radius measured then (on none: 1.0, every company "close") must not stay."""
    first = [Company.objects.create(name=f"First {i}", description=f"beer brewery {i}") for i in range(2)]
    embeddings.embed_and_score([c.pk for c in first])
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=first[0], user=alice, source="import", verdict="like")
    scores.apply_label_changes(FIRST_PROFILE_ID, inline_full=True)
    state = ScoringState.of(FIRST_PROFILE_ID)
    assert state.radius_companies == 2
    words = ["software code", "fashion clothing", "beer lager", "bank payments", "hotel rooms"]
    rest = [Company.objects.create(name=f"Later {i}", description=words[i % 5] + f" {i}") for i in range(10)]
    embeddings.embed_and_score([c.pk for c in rest])
    state = ScoringState.of(FIRST_PROFILE_ID)
    assert state.radius_companies == 12 and state.radius == pytest.approx(reads.measure_radius()[0])
    weighed = dict(Score.objects.values_list("company_id", "fit"))
    assert len(weighed) == 11
    scores.rescore_all(FIRST_PROFILE_ID)
    assert dict(Score.objects.values_list("company_id", "fit")) == pytest.approx(weighed)


@pytest.mark.django_db(transaction=True)
def test_a_pass_with_nothing_pending_takes_no_lock(fake_encoder):
    """Beat asks for a pass every SWEEP_SECONDS on the interactive queue (verdicts whose own pass a
    Redis outage dropped): with nothing pending it must not wait behind a full rescore's chunks."""
    held, release = threading.Event(), threading.Event()

    def chunk_writer() -> None:  # holds the scores lock shared, as a full rescore's chunk does
        try:
            with locks.scores_lock(FIRST_PROFILE_ID, shared=True):
                held.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=chunk_writer)
    writer.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        assert scores.apply_label_changes(FIRST_PROFILE_ID) == 0
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        writer.join()
