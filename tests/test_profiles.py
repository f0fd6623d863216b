"""Several ideal-customer profiles (#28) through the services on the real database (fake encoder):
each profile scores exactly as a separate installation with its labels would, a verdict in one
never moves another's scores, an archived profile takes no verdict, and the incremental pass of a
profile equals its full rescore."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from leads.embedding import services as embeddings
from leads.models import (
    FIRST_PROFILE_ID,
    Company,
    CurrentVerdict,
    Label,
    PendingScoreChange,
    Profile,
    QualitySnapshot,
    Score,
    ScoreChange,
    ScoreSnapshot,
    ScoringState,
    WebhookDelivery,
)
from leads.review import snapshots as quality_snapshots
from leads.scoring import history, labels
from leads.scoring import services as scores
from leads.scoring import snapshots as score_history
from leads.webhooks import events as webhook_events
from leads.webhooks import services as webhooks

pytestmark = pytest.mark.django_db

TEXTS = {
    "brew": "beer brewery lager stout",
    "brew2": "beer brewery lager ale",
    "brew3": "beer brewery stout porter",
    "cider": "cider orchard apples brewery",
    "soft": "software developer tools code",
    "soft2": "software developer code review",
    "soft3": "cloud software platform code",
    "shop": "fashion clothing store",
    "shop2": "fashion shoes clothing brand",
    "bank": "bank lending loans finance",
    "pay": "payments card terminals finance",
    "dairy": "dairy cheese milk farm",
}
# Two notions of fit over the same companies: the same company liked in one and disliked in the other.
PAYMENTS = {"pay": "like", "bank": "like", "brew": "dislike", "shop": "dislike"}
BREWING = {"brew": "like", "cider": "like", "pay": "dislike", "soft": "dislike", "shop2": "dislike"}


@pytest.fixture
def companies(fake_encoder):
    made = {key: Company.objects.create(name=key, description=text) for key, text in TEXTS.items()}
    embeddings.embed_companies([c.pk for c in made.values()])
    return made


def give(profile_id: int, companies, verdicts: dict[str, str], user) -> None:
    for key, verdict in verdicts.items():
        labels.label_company(profile_id=profile_id, company=companies[key], user=user, source="click", verdict=verdict)


def scores_of(profile_id: int) -> dict[int, tuple]:
    """Every score of the profile as stored: the plain score, fit, evidence and the neighbours."""
    return {
        s.company_id: (s.value, s.fit, s.evidence, s.unexplored, s.supported, s.neighbour_ids, s.neighbour_distances)
        for s in Score.objects.filter(profile_id=profile_id)
    }


def forget_everything() -> None:
    """Back to a team with companies and vectors only: what a fresh installation starts from."""
    for model in (Label, CurrentVerdict, Score, PendingScoreChange, ScoreChange, ScoringState):
        model.objects.all().delete()
    Profile.objects.exclude(pk=FIRST_PROFILE_ID).delete()


def test_two_profiles_score_as_two_separate_installations(companies, alice, bob):
    give(FIRST_PROFILE_ID, companies, PAYMENTS, alice)
    scores.catch_up()
    alone_payments = scores_of(FIRST_PROFILE_ID)
    forget_everything()
    give(FIRST_PROFILE_ID, companies, BREWING, bob)
    scores.catch_up()
    alone_brewing = scores_of(FIRST_PROFILE_ID)
    forget_everything()
    assert alone_payments and alone_brewing and alone_payments != alone_brewing

    brewing = Profile.objects.create(name="Brewing")
    for (key, verdict), (other, other_verdict) in zip(PAYMENTS.items(), BREWING.items()):  # interleaved
        give(FIRST_PROFILE_ID, companies, {key: verdict}, alice)
        give(brewing.pk, companies, {other: other_verdict}, bob)
    give(brewing.pk, companies, dict(list(BREWING.items())[len(PAYMENTS) :]), bob)
    scores.catch_up()
    assert scores_of(FIRST_PROFILE_ID) == alone_payments
    assert scores_of(brewing.pk) == alone_brewing
    # A company labelled in one profile is scored in the other.
    assert companies["soft"].pk in scores_of(FIRST_PROFILE_ID) and companies["soft"].pk not in scores_of(brewing.pk)
    assert companies["soft2"].pk in scores_of(brewing.pk) and companies["soft2"].pk in scores_of(FIRST_PROFILE_ID)
    assert companies["brew3"].pk in scores_of(FIRST_PROFILE_ID)
    in_brewing = Company.objects.in_profile(brewing.pk).get(pk=companies["brew"].pk)
    in_payments = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=companies["brew"].pk)
    assert (in_brewing.verdict, in_payments.verdict) == ("like", "dislike")
    assert in_brewing.score is None and in_payments.score is None  # labelled in both: scored in neither


def test_a_verdict_in_one_profile_never_changes_a_score_in_another(companies, alice, bob):
    brewing = Profile.objects.create(name="Brewing")
    give(FIRST_PROFILE_ID, companies, PAYMENTS, alice)
    give(brewing.pk, companies, BREWING, bob)
    scores.catch_up()
    with connection.cursor() as cursor:
        cursor.execute("select * from leads_score where profile_id = %s order by company_id", [FIRST_PROFILE_ID])
        before = cursor.fetchall()  # every column, the time written and the version included
    since = timezone.now()
    give(brewing.pk, companies, {"soft2": "like", "dairy": "like", "brew": "clear"}, bob)
    assert not PendingScoreChange.objects.filter(profile_id=FIRST_PROFILE_ID).exists()
    assert scores.apply_label_changes(brewing.pk) > 0
    assert scores.apply_label_changes(FIRST_PROFILE_ID) == 0  # nothing waits there
    with connection.cursor() as cursor:
        cursor.execute("select * from leads_score where profile_id = %s order by company_id", [FIRST_PROFILE_ID])
        assert cursor.fetchall() == before
    moved = ScoreChange.objects.filter(changed_at__gt=since)
    assert moved.exists() and set(moved.values_list("profile_id", flat=True)) == {brewing.pk}
    assert Label.objects.filter(profile_id=FIRST_PROFILE_ID).count() == len(PAYMENTS)


def test_each_profiles_incremental_pass_equals_its_full_rescore(companies, alice):
    brewing = Profile.objects.create(name="Brewing")
    give(FIRST_PROFILE_ID, companies, PAYMENTS, alice)
    give(brewing.pk, companies, BREWING, alice)
    scores.catch_up()
    rng = np.random.default_rng(7)
    keys = list(TEXTS)
    for step in range(12):
        profile_id = (FIRST_PROFILE_ID, brewing.pk)[step % 2]
        key = keys[int(rng.integers(len(keys)))]
        give(profile_id, companies, {key: str(rng.choice(["like", "dislike", "clear"]))}, alice)
        scores.apply_label_changes(profile_id, inline_full=True)
        incremental = {p: scores_of(p) for p in (FIRST_PROFILE_ID, brewing.pk)}
        for p in (FIRST_PROFILE_ID, brewing.pk):
            scores.rescore_all(p)
        assert {p: scores_of(p) for p in (FIRST_PROFILE_ID, brewing.pk)} == incremental, step


def test_an_archived_profile_takes_no_verdict_and_keeps_its_labels(companies, alice):
    old = Profile.objects.create(name="Lending US")
    give(old.pk, companies, {"bank": "like"}, alice)
    Profile.objects.filter(pk=old.pk).update(archived_at=timezone.now())
    with pytest.raises(labels.ArchivedProfile, match="'Lending US' is archived: it takes no verdicts"):
        give(old.pk, companies, {"pay": "like"}, alice)
    assert list(Label.objects.filter(profile_id=old.pk).values_list("verdict", flat=True)) == ["like"]
    assert list(CurrentVerdict.objects.filter(profile_id=old.pk).values_list("company_id", flat=True)) == [
        companies["bank"].pk
    ]


def test_the_commands_take_a_profile_by_name_or_id(companies, alice, tmp_path):
    brewing = Profile.objects.create(name="Brewing")
    give(FIRST_PROFILE_ID, companies, PAYMENTS, alice)
    give(brewing.pk, companies, BREWING, alice)
    scores.catch_up()
    fits = {}
    for option in ("brewing", str(FIRST_PROFILE_ID)):
        out = tmp_path / f"{option}.csv"
        call_command("export_scores", str(out), "--profile", option, "--no-bom", stdout=io.StringIO())
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        fits[option] = {row["name"]: round(float(row["fit"]), 6) for row in rows if row["fit"]}
    profile_of = {"brewing": brewing.pk, str(FIRST_PROFILE_ID): FIRST_PROFILE_ID}
    for option, exported in fits.items():
        stored = {
            c.name: round(c.score.fit, 6)
            for c in Company.objects.in_profile(profile_of[option]).filter(current__isnull=True)
            if c.score
        }
        assert {name: fit for name, fit in exported.items() if name in stored} == stored, option
    assert fits["brewing"]["soft2"] != fits[str(FIRST_PROFILE_ID)]["soft2"]

    labelled = tmp_path / "labelled.csv"
    labelled.write_text("name,description,label\nsoft2,software developer code review,like\n")
    call_command("import_companies", str(labelled), "--profile", "Brewing", "--no-progress", stdout=io.StringIO())
    assert Company.objects.in_profile(brewing.pk).get(name="soft2").verdict == "like"
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name="soft2").verdict == ""
    with pytest.raises(CommandError, match=r"--profile must name a profile by its id or name: 1 \(Ideal customers\)"):
        call_command("export_scores", str(tmp_path / "x.csv"), "--profile", "Lending")


def test_each_profile_keeps_its_own_daily_snapshots(companies, alice):
    brewing = Profile.objects.create(name="Brewing")
    give(FIRST_PROFILE_ID, companies, PAYMENTS, alice)
    give(brewing.pk, companies, BREWING, alice)
    scores.catch_up()
    for profile_id in (FIRST_PROFILE_ID, brewing.pk):
        assert score_history.take_snapshot_if_due(profile_id=profile_id) is not None
        assert score_history.take_snapshot_if_due(profile_id=profile_id) is None  # one a day
        assert quality_snapshots.record_quality_if_due(profile_id) is not None
    packed = {s.profile_id: history.unpack(s.ids, s.fits, s.bands) for s in ScoreSnapshot.objects.all()}
    for profile_id, snapshot in packed.items():
        stored = dict(Score.objects.filter(profile_id=profile_id).values_list("company_id", "fit"))
        assert snapshot.ids.tolist() == sorted(stored)
        assert np.allclose(snapshot.fits, [stored[i] for i in sorted(stored)], atol=1e-4)
    labelled = dict(QualitySnapshot.objects.values_list("profile_id", "labels"))
    assert labelled == {FIRST_PROFILE_ID: len(PAYMENTS), brewing.pk: len(BREWING)}


def test_a_webhook_gets_the_verdicts_of_its_profiles_and_each_message_names_its_profile(
    companies, alice, settings, monkeypatch
):
    monkeypatch.setattr(webhook_events, "queue_deliveries", lambda ids: None)  # the log, not the sending
    settings.WEBHOOK_ALLOWED_HOSTS = ("localhost",)
    brewing = Profile.objects.create(name="Brewing")
    everywhere = webhooks.endpoint_create(url="http://localhost:9/all", events=["company.labelled"])
    brewing_only = webhooks.endpoint_create(
        url="http://localhost:9/brewing", events=["company.labelled"], profiles=["brewing"]
    )
    with pytest.raises(webhooks.InvalidEndpoint, match="unknown profile 'Lending'"):
        webhooks.endpoint_create(url="http://localhost:9/x", events=["company.labelled"], profiles=["Lending"])
    give(FIRST_PROFILE_ID, companies, {"pay": "like"}, alice)
    give(brewing.pk, companies, {"brew": "like"}, alice)
    sent = {
        endpoint: [
            (d.payload["data"]["profile"]["name"], d.payload["data"]["verdicts"][0]["company"]["id"])
            for d in WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk")
        ]
        for endpoint in (everywhere, brewing_only)
    }
    assert sent[everywhere] == [("Ideal customers", companies["pay"].pk), ("Brewing", companies["brew"].pk)]
    assert sent[brewing_only] == [("Brewing", companies["brew"].pk)]
