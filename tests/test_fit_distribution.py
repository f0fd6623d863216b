"""The distribution of fits a big profile's pages read: made by the worker after the scores change
and kept in the database (FitDistribution), instead of every web process sorting every fit after
every pass (~0.5 s at a million); a small profile's made by the page, exact at once."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.test import override_settings

from leads.companies import distribution as fit_distribution
from leads.companies import services as companies
from leads.core import queue
from leads.models import FIRST_PROFILE_ID, FitDistribution, PendingScoreChange, Score, ScoringState
from leads.scoring import labels
from leads.scoring import services as scores
from leads.scoring.bands import Distribution
from tests.test_workers import labelled_and_scored, make_companies
from tests.worker_helpers import start_worker

pytestmark = pytest.mark.django_db(transaction=True)


def written() -> int:
    return ScoringState.of(FIRST_PROFILE_ID).scores_written


def exact() -> Distribution:
    return Distribution.of(Score.objects.filter(profile_id=FIRST_PROFILE_ID).values_list("fit", flat=True))


def wait_for(condition, worker, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        worker.assert_alive()
        assert time.monotonic() < deadline, f"{what}:\n{worker.log_tail()}"
        time.sleep(0.1)


def test_every_write_of_a_profile_s_scores_moves_its_number_once_committed(alice):
    made = make_companies(60)
    labels.label_companies(
        profile_id=FIRST_PROFILE_ID,
        verdicts=[(made[0].pk, "like"), (made[1].pk, "dislike")],
        user=alice,
        source="admin",
    )
    before = written()
    scores.catch_up()  # a full rescore: its writes, committed
    after_rescore = written()
    assert after_rescore > before
    companies.text_changed([made[5]])  # its text changed: its scores dropped
    after_drop = written()
    assert after_drop > after_rescore
    companies.delete_companies([made[6]])
    assert written() > after_drop
    assert not Score.objects.filter(company_id__in=[made[5].pk, made[6].pk]).exists()
    unchanged = written()
    companies.text_changed([made[5]])  # no score left to drop: nothing written, nothing moves
    assert written() == unchanged


@pytest.mark.e2e
@override_settings(FIT_DISTRIBUTION_INLINE_MAX=50, RESCORE_DELAY_SECONDS=0)
def test_a_big_profile_s_pages_read_the_distribution_the_worker_keeps_and_it_follows_each_pass(tmp_path, alice):
    made = labelled_and_scored(300, alice)
    fit_distribution._asked.clear()

    # Nothing kept yet: the first page makes it (exact) and asks the worker to keep it.
    first = fit_distribution.score_distribution(FIRST_PROFILE_ID)
    assert first.total == 290 and first.quantiles == pytest.approx(exact().quantiles)
    worker = start_worker(tmp_path, "worker")
    try:
        wait_for(
            lambda: FitDistribution.objects.filter(profile_id=FIRST_PROFILE_ID, scores_written=written()).exists(),
            worker,
            "the worker keeps the distribution",
        )
        with mock.patch.object(fit_distribution, "made_now", side_effect=AssertionError("a page sorted every fit")):
            kept = fit_distribution.score_distribution(FIRST_PROFILE_ID)
        assert kept.total == 290 and kept.quantiles == pytest.approx(exact().quantiles)

        # A verdict: the worker's pass changes the scores. Until the worker keeps the new
        # distribution the page shows the last one, without sorting every fit itself.
        before = written()
        labels.label_companies(profile_id=FIRST_PROFILE_ID, verdicts=[(made[7].pk, "like")], user=alice, source="click")
        wait_for(
            lambda: not PendingScoreChange.objects.exists() and written() > before,  # committed, its number moved
            worker,
            "the verdict's pass",
        )
        assert not Score.objects.filter(company=made[7]).exists()
        fit_distribution._asked.clear()
        with mock.patch.object(fit_distribution, "made_now", side_effect=AssertionError("a page sorted every fit")):
            meanwhile = fit_distribution.score_distribution(FIRST_PROFILE_ID)  # and asks the worker
        assert meanwhile.total in (290, 289)  # the last kept (or the new one, if the worker was that quick)
        wait_for(
            lambda: FitDistribution.objects.filter(
                profile_id=FIRST_PROFILE_ID, scores_written=written(), total=289
            ).exists(),
            worker,
            "the worker keeps the new distribution",
        )
        after = fit_distribution.score_distribution(FIRST_PROFILE_ID)
        assert after.total == 289 and after.quantiles == pytest.approx(exact().quantiles)
        assert after.quantiles != pytest.approx(first.quantiles)  # the pass moved the fits
    finally:
        worker.stop()
        queue.purge()


def kept_then_a_pass(alice) -> Distribution:
    """40 companies, two labelled and scored, their distribution kept (as the worker keeps it);
    then a like and its pass, so that the kept one is older than the scores. Returns the kept one."""
    made = make_companies(40)
    labels.label_companies(
        profile_id=FIRST_PROFILE_ID,
        verdicts=[(made[0].pk, "like"), (made[1].pk, "dislike")],
        user=alice,
        source="admin",
    )
    scores.catch_up()
    scores.keep_distribution(FIRST_PROFILE_ID)
    kept = fit_distribution.score_distribution(FIRST_PROFILE_ID)
    labels.label_companies(profile_id=FIRST_PROFILE_ID, verdicts=[(made[2].pk, "like")], user=alice, source="click")
    scores.apply_label_changes(FIRST_PROFILE_ID)
    return kept


@override_settings(FIT_DISTRIBUTION_INLINE_MAX=50)
def test_a_small_profile_s_pages_never_show_an_older_distribution(alice):
    assert kept_then_a_pass(alice).total == 38
    now = fit_distribution.score_distribution(FIRST_PROFILE_ID)  # the kept one is older: made here
    assert now.total == 37 and now.quantiles == pytest.approx(exact().quantiles)
    assert scores.keep_distribution(FIRST_PROFILE_ID) is True
    assert scores.keep_distribution(FIRST_PROFILE_ID) is False  # kept and current: nothing to make


@override_settings(FIT_DISTRIBUTION_INLINE_MAX=10)
def test_a_big_profile_s_pages_ask_once_across_processes_and_not_while_redis_is_away(alice, monkeypatch):
    assert kept_then_a_pass(alice).total == 38  # kept, and older than the scores now
    queue.purge()
    fit_distribution._asked.clear()
    monkeypatch.setattr(queue, "_failed_at", time.monotonic())  # this process's last send just failed
    assert fit_distribution.score_distribution(FIRST_PROFILE_ID).total == 38  # the kept one
    assert queue.backlog() == 0  # not asked: a try would cost ~1 s while Redis is away
    monkeypatch.setattr(queue, "_failed_at", time.monotonic() - fit_distribution.QUEUE_DOWN_SECONDS)
    fit_distribution.score_distribution(FIRST_PROFILE_ID)
    assert queue.backlog() == 1  # long enough since: asked again
    fit_distribution._asked.clear()  # as another web process would
    fit_distribution.score_distribution(FIRST_PROFILE_ID)
    assert queue.backlog() == 1  # one request waits a profile, whichever process asks
    queue.started_once(fit_distribution.ask_key(FIRST_PROFILE_ID))  # as the task does when it starts
    fit_distribution._asked.clear()
    fit_distribution.score_distribution(FIRST_PROFILE_ID)
    assert queue.backlog() == 2  # a write after it started may ask again
    queue.purge()
