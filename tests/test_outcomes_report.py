"""The proof on a simulated team: 300 real YC companies with their real embeddings
(tests/fixtures/yc-sample*, made by tests/fixtures/make_yc_sample.py), reps who like a few fintech
companies and dislike others, a score snapshot, then deals whose outcome is drawn from a hidden
profile (fintech, payments, banking, insurance). The report's counts, win rates, ranks, lift and
its interval equal a direct numpy computation from the scores as they were; no outcome leaks into
its own band. Real database and pgvector; vectors written as the worker would."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from leads import tasks
from leads.core import queue
from leads.embedding import active
from leads.models import (
    FIRST_PROFILE_ID,
    Company,
    CompanyEmbedding,
    Label,
    LabelSource,
    Outcome,
    OutcomeBand,
    Profile,
    Score,
    ScoreSnapshot,
)
from leads.outcomes import figures
from leads.outcomes import services as outcomes
from leads.outcomes.report import cutoff_of, drift, outcomes_report
from leads.scoring import bands, history, labels
from leads.scoring import services as scores
from leads.scoring.snapshots import take_snapshot, take_snapshot_if_due
from tests.conftest import FIXTURES
from tests.test_bench_scoring import PROJECT_ROOT, databases

pytestmark = pytest.mark.django_db

PROFILE = {"fintech", "payments", "banking", "insurance"}  # the hidden profile: who buys
SNAPSHOT_DAY = datetime.date(2024, 1, 10)
REPS_LABELLED = timezone.make_aware(datetime.datetime(2024, 1, 2))


@pytest.fixture
def team(alice):
    with open(FIXTURES / "yc-sample.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    vectors = np.load(FIXTURES / "yc-sample-vectors.npy").astype(np.float32)
    made = [Company.objects.create(name=r["name"], website=r["website"], description=r["description"]) for r in rows]
    CompanyEmbedding.objects.bulk_create(
        CompanyEmbedding(company=c, model_name=active.model_name(), text_hash=c.text_hash, vector=v)
        for c, v in zip(made, vectors)
    )
    buyer = np.array([bool(PROFILE & set(r["tags"].split(";"))) for r in rows])
    order = np.random.default_rng(5).permutation(len(rows))
    liked = [i for i in order[:80] if buyer[i]][:8]
    disliked = [i for i in order[:80] if not buyer[i]][:16]
    labels.label_companies(profile_id=FIRST_PROFILE_ID,
                           verdicts=[(made[i].pk, "like") for i in liked] + [(made[i].pk, "dislike") for i in disliked],
                           user=alice, source=LabelSource.CLICK)  # fmt: skip
    Label.objects.update(created_at=REPS_LABELLED)  # the reps labelled before the snapshot: simulated time
    scores.rescore_all(FIRST_PROFILE_ID)
    as_scored = list(
        Score.objects.filter(profile_id=FIRST_PROFILE_ID)
        .order_by("company_id")
        .values_list("company_id", "fit", "unexplored", "supported")
    )
    take_snapshot(on=SNAPSHOT_DAY, profile_id=FIRST_PROFILE_ID)
    return {"companies": made, "buyer": buyer, "order": order, "liked": liked, "disliked": disliked,
            "as_scored": as_scored}  # fmt: skip


def deals_file(tmp_path, team) -> tuple:
    """200 deals on unlabelled companies closed in February and March 2024, won with the hidden
    profile's odds; 3 on companies the reps labelled; 2 closed before any snapshot."""
    made, buyer, rng = team["companies"], team["buyer"], np.random.default_rng(11)
    labelled = set(team["liked"]) | set(team["disliked"])
    scored = [i for i in team["order"][80:] if i not in labelled and made[i].domain][:200]
    lines = ["Record ID,Company Domain Name,Deal Stage,Close Date"]
    expected = []
    for n, i in enumerate(scored):
        won = rng.random() < (0.6 if buyer[i] else 0.1)
        day = datetime.date(2024, 2 + n % 2, 1 + n % 28)
        lines.append(f"{n},{made[i].domain},{'Closed Won' if won else 'Closed Lost'},{day}")
        expected.append((made[i].pk, won, day))
    extra = [(team["liked"][0], "Closed Won", "2024-02-03"), (team["liked"][1], "Closed Lost", "2024-02-04"),
             (team["disliked"][0], "Closed Won", "2024-02-05"), (int(scored[0]), "Closed Won", "2023-12-01"),
             (int(scored[1]), "Closed Lost", "2023-12-02")]  # fmt: skip
    for n, (i, stage, day) in enumerate(extra, start=1000):
        lines.append(f"{n},{made[i].domain},{stage},{day}")
    path = tmp_path / "deals.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, expected


def expected_figures(team, expected) -> dict:
    """The report computed directly: bands by bands.Distribution.band, one company at a time, on the
    scores as they were at the snapshot; ranks on the fits as the snapshot keeps them (1e-4)."""
    ids = np.array([row[0] for row in team["as_scored"]])
    fits = np.array([row[1] for row in team["as_scored"]])
    distribution = bands.Distribution.of(fits)
    band_of = {
        cid: distribution.band(fit, unexplored, supported).key for cid, fit, unexplored, supported in team["as_scored"]
    }
    kept = np.rint(fits * history.FIT_SCALE) / history.FIT_SCALE
    top_of = dict(zip(ids.tolist(), [(kept > f).mean() for f in kept]))
    expected = sorted(expected)  # the report's order (company id): the bootstrap draws by position
    won = np.array([w for _, w, _ in expected])
    band = np.array([band_of[cid] for cid, _, _ in expected])
    top = np.array([top_of[cid] for cid, _, _ in expected])
    return {"won": won, "band": band, "top": top, "months": np.array([d.strftime("%Y-%m") for _, _, d in expected])}


def test_the_reports_figures_equal_a_direct_computation(team, tmp_path):
    path, expected = deals_file(tmp_path, team)
    outcomes.run_import(outcomes.create_import(path=path, crm="hubspot"))
    report = outcomes_report(profile_id=FIRST_PROFILE_ID)
    direct = expected_figures(team, expected)
    won, band = direct["won"], direct["band"]
    assert (report["deals"], report["counted"]) == (205, 200)
    assert report["left_out"] == {"no_snapshot_before": 2, "not_scored_before": 3}
    assert report["base_rate"] == pytest.approx(won.mean())
    for row in report["bands"]:
        here = won[band == row["band"]]
        assert (row["deals"], row["won"], row["lost"]) == (len(here), here.sum(), len(here) - here.sum()), row
        assert row["win_rate"] == (pytest.approx(here.mean()) if len(here) else None)
    for row, top in zip(report["ranks"], figures.TOPS):
        here = won[direct["top"] < top]
        assert (row["deals"], row["won"]) == (len(here), here.sum()), row
    strong = band == "strong"
    lift = won[strong].mean() / won.mean()
    draws = np.random.default_rng(figures.SEED).integers(0, len(won), size=(figures.BOOTSTRAP, len(won)))
    with np.errstate(invalid="ignore", divide="ignore"):
        lifts = (won[draws] & strong[draws]).sum(1) / strong[draws].sum(1) / won[draws].mean(1)
    low, high = np.nanpercentile(np.where(np.isfinite(lifts), lifts, np.nan), [2.5, 97.5])
    assert report["lift"]["value"] == pytest.approx(lift)
    assert (report["lift"]["low"], report["lift"]["high"]) == (pytest.approx(low), pytest.approx(high))
    assert report["lift"]["deals"] == strong.sum() > 0
    assert lift > 1.5 and report["lift"]["low"] <= lift <= report["lift"]["high"]  # it finds customers
    for month in report["trend"]:
        here = direct["months"] == month["month"]
        assert (month["deals"], month["won"], month["selected_deals"]) == (
            here.sum(),
            won[here].sum(),
            (here & strong).sum(),
        )


def test_reps_verdicts_at_the_time_are_the_baseline(team, tmp_path):
    path, _ = deals_file(tmp_path, team)
    outcomes.run_import(outcomes.create_import(path=path, crm="hubspot"))
    reps = {
        row["group"]: (row["deals"], row["won"])
        for row in outcomes_report(profile_id=FIRST_PROFILE_ID)["reps"]["verdicts"]
    }
    assert reps["like"] == (1 + 1, 1) and reps["dislike"] == (1, 1)  # liked: one won, one lost; disliked, then won
    assert sum(deals for deals, _ in reps.values()) == 205


def test_no_outcome_leaks_into_its_own_band(team, tmp_path, bob):
    """Outcomes counting as verdicts change the scores; a later snapshot has those companies
    labelled. The report reads each deal's band from before it, so nothing changes."""
    path, expected = deals_file(tmp_path, team)
    outcomes.run_import(outcomes.create_import(path=path, crm="hubspot"))
    before = outcomes_report(profile_id=FIRST_PROFILE_ID)
    outcomes.set_outcomes_count(count=True, user=bob, profile_id=FIRST_PROFILE_ID)
    scores.rescore_all(FIRST_PROFILE_ID)
    # after every close: never read for these deals
    take_snapshot(on=datetime.date(2024, 4, 1), profile_id=FIRST_PROFILE_ID)
    first = Outcome.objects.get(deal_id="0")
    assert ScoreSnapshot.objects.count() == 2
    after = outcomes_report(profile_id=FIRST_PROFILE_ID)
    assert after["bands"] == before["bands"] and after["ranks"] == before["ranks"] and after["lift"] == before["lift"]
    # A deal leads heard of before its close date: its band is from before the day it arrived.
    Outcome.objects.filter(pk=first.pk).update(closed_on=datetime.date(2024, 6, 1),
                                               decided_at=timezone.make_aware(datetime.datetime(2024, 3, 15)))  # fmt: skip
    assert cutoff_of(datetime.date(2024, 6, 1), timezone.make_aware(datetime.datetime(2024, 3, 15))) == datetime.date(
        2024, 3, 15
    )
    moved = outcomes_report(profile_id=FIRST_PROFILE_ID)
    assert moved["counted"] == before["counted"] and moved["bands"] == before["bands"]


def test_each_deals_band_before_is_kept_so_the_report_reads_no_snapshot_again(team, tmp_path):
    """The import keeps each decided deal's band and rank before it, in every profile; the report
    then reads no snapshot (here: one whose scores are wiped gives the same report), unless a
    snapshot has come between the day kept and the deal since."""
    path, _ = deals_file(tmp_path, team)
    outcomes.run_import(outcomes.create_import(path=path, crm="hubspot"))
    before = outcomes_report(profile_id=FIRST_PROFILE_ID)  # read from the snapshot: the import's task has not run yet
    assert not OutcomeBand.objects.exists()
    second = Profile.objects.create(name="Second")  # no snapshot of its own before any deal
    assert outcomes.remember_bands_before() == 2 * 205  # the task's work: each deal in each profile
    kept = OutcomeBand.objects.filter(profile_id=FIRST_PROFILE_ID)
    assert kept.filter(snapshot_before=SNAPSHOT_DAY).count() == 203
    assert kept.filter(snapshot_before=None).count() == 2  # closed before any snapshot
    assert OutcomeBand.objects.filter(profile=second, snapshot_before=None).count() == 205
    assert outcomes_report(profile_id=FIRST_PROFILE_ID) == before
    empty = history.pack(np.empty(0, np.int64), np.empty(0), np.empty(0, np.uint8))
    ScoreSnapshot.objects.update(ids=empty.ids, fits=empty.fits, bands=empty.bands)
    assert outcomes_report(profile_id=FIRST_PROFILE_ID) == before
    Score.objects.all().delete()
    # a snapshot (of no scores) between the day kept and the deals
    take_snapshot(on=datetime.date(2024, 1, 20), profile_id=FIRST_PROFILE_ID)
    after = outcomes_report(profile_id=FIRST_PROFILE_ID)
    assert after["counted"] == 0 and after["left_out"]["not_scored_before"] == 203


def test_the_sweep_keeps_the_bands_of_deals_a_lost_task_did_not(team, tmp_path, monkeypatch):
    monkeypatch.setattr(queue, "backlog", lambda: 3)  # bulk work queued: the sweep re-queues nothing else
    path, _ = deals_file(tmp_path, team)
    outcomes.run_import(outcomes.create_import(path=path, crm="hubspot"))
    before = outcomes_report(profile_id=FIRST_PROFILE_ID)
    tasks.sweep()  # no worker in these tests: the import's task never ran
    assert (
        OutcomeBand.objects.filter(profile_id=FIRST_PROFILE_ID).count() == Outcome.objects.exclude(stage="open").count()
    )
    assert outcomes.remember_bands_before() == 0
    assert outcomes_report(profile_id=FIRST_PROFILE_ID) == before


def test_a_days_rank_counted_for_a_few_equals_the_sort_for_many():
    fits = np.random.default_rng(3).uniform(-1, 1, 5_000).round(4)
    day = history.unpack(*vars(history.pack(np.arange(1, 5_001), fits, np.zeros(5_000, np.uint8))).values())
    many = np.arange(0, 5_000, 7)
    assert len(many) > history.FEW
    assert day.top_share(many[: history.FEW]).tolist() == day.top_share(many)[: history.FEW].tolist()
    assert day.top_share(many).tolist() == [(day.fits > day.fits[i]).mean() for i in many]


def test_the_json_has_won_and_lost_per_band(team, tmp_path):
    path, _ = deals_file(tmp_path, team)
    outcomes.run_import(outcomes.create_import(path=path, crm="hubspot"))
    out = io.StringIO()
    call_command("outcomes_report", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert [(b["band"], b["won"], b["lost"]) for b in printed["bands"]] == [
        (b["band"], b["won"], b["lost"]) for b in outcomes_report(profile_id=FIRST_PROFILE_ID)["bands"]]  # fmt: skip
    assert [b["band"] for b in printed["bands"]] == [b.key for b in bands.BANDS]


def test_drift_compares_this_months_imports_with_last_months(team):
    made = team["companies"]
    today = timezone.localdate()
    last_month = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=15)
    labelled = {made[i].pk for i in team["liked"] + team["disliked"]}
    unlabelled = [c.pk for c in made if c.pk not in labelled]
    Company.objects.update(created_at=timezone.make_aware(datetime.datetime(2020, 1, 1)))
    Company.objects.filter(pk__in=unlabelled[:40]).update(created_at=timezone.now())
    Company.objects.filter(pk__in=unlabelled[40:100]).update(
        created_at=timezone.make_aware(datetime.datetime.combine(last_month, datetime.time(12)))
    )
    nearest = dict(Score.objects.filter(profile_id=FIRST_PROFILE_ID).values_list("company_id", "neighbour_distances"))
    found = drift(today=today, profile_id=FIRST_PROFILE_ID)
    assert found["this_month"]["companies"] == 40 and found["last_month"]["companies"] == 60
    assert found["this_month"]["median_distance"] == pytest.approx(np.median([nearest[i][0] for i in unlabelled[:40]]))
    assert found["last_month"]["median_distance"] == pytest.approx(
        np.median([nearest[i][0] for i in unlabelled[40:100]])
    )
    assert "than last month's" in found["sentence"]


def test_a_snapshot_packs_every_score_and_reads_back(team):
    snapshot = ScoreSnapshot.objects.get(taken_on=SNAPSHOT_DAY)
    day = history.unpack(snapshot.ids, snapshot.fits, snapshot.bands)
    ids = [row[0] for row in team["as_scored"]]
    assert day.ids.tolist() == ids and snapshot.companies == len(ids)
    assert np.abs(day.fits - [row[1] for row in team["as_scored"]]).max() <= 0.5 / history.FIT_SCALE
    # ~3 bytes a company: a fit, a band and a compressed id delta.
    assert len(snapshot.ids) + len(snapshot.fits) + len(snapshot.bands) < 3.5 * len(ids) + 64


def test_the_sweeps_snapshot_of_no_scores_is_empty_and_taken_once_a_day():
    first = take_snapshot_if_due(profile_id=FIRST_PROFILE_ID)
    assert first is not None and first.companies == 0 and take_snapshot_if_due(profile_id=FIRST_PROFILE_ID) is None
    assert history.unpack(first.ids, first.fits, first.bands).ids.tolist() == []
    assert (
        outcomes_report(profile_id=FIRST_PROFILE_ID)["deals"] == 0
        and outcomes_report(profile_id=FIRST_PROFILE_ID)["lift"]["value"] is None
    )


def test_the_reports_benchmark_gives_the_same_report_both_ways_in_its_own_database():
    """`manage.py bench_outcomes_report` at a tiny size, as a subprocess with the test settings."""
    name = f"leads_bench_outcomes_test_{os.getpid()}"
    command = [sys.executable, "manage.py", "bench_outcomes_report", "--companies", "3000", "--days", "4",
               "--deals", "50", "--database", name]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    run = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert (figures["companies"], figures["snapshots"], figures["deals"]) == (3000, 4, 50)
    assert figures["counted"] > 0 and figures["same_report"] is True
    assert figures["report_reading_snapshots_s"] > 0 and figures["report_bands_kept_s"] > 0
    assert name not in databases()
