"""What makes webhook messages, and who manages endpoints: a verdict (company.labelled), a rescore
pass (company.band_changed, one message per pass and endpoint, filtered by band), an import
(import.finished); nothing without an endpoint, and never an error into the verdict; the
managers' pages and `manage.py webhooks`."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.accounts import roles
from leads.companies.distribution import band_of, score_distribution
from leads.embedding import services as embeddings
from leads.imports import services as imports
from leads.models import FIRST_PROFILE_ID, Company, CrmRecord, Label, Score, WebhookDelivery, WebhookEndpoint
from leads.outcomes import services as outcomes
from leads.scoring import labels
from leads.scoring import services as scores
from leads.webhooks import events, services
from tests.web_helpers import in_role, logged_in

pytestmark = pytest.mark.django_db

FASHION = ["Hotel Fashion", "India Fashion", "Juliet Fashion", "Kilo Fashion"]


@pytest.fixture
def allowed(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ("localhost",)
    return settings


def endpoint(events_=("company.band_changed",), bands=()) -> WebhookEndpoint:
    return services.endpoint_create(url="http://localhost:9/hook", events=list(events_), bands=list(bands))


@pytest.fixture
def fashion(world):
    """Four more fashion shops, embedded and scored: unexplored, like Foxtrot Fashion (nothing
    labelled is close to any of them)."""
    made = [
        Company.objects.create(
            name=name,
            website=f"{name.split()[0].lower()}.example",
            description="fashion clothing store",
            industry="Retail",
        )
        for name in FASHION
    ]
    embeddings.embed_and_score([c.pk for c in made])
    return {**world, **{c.name: c for c in made}}


def bands_now(distribution) -> dict[int, str | None]:
    return {s.company_id: band_of(s, distribution).key for s in Score.objects.filter(profile_id=FIRST_PROFILE_ID)}


def test_one_pass_sends_one_message_with_every_company_that_changed_band(allowed, fashion, alice):
    listening = endpoint()
    before_distribution = score_distribution(FIRST_PROFILE_ID)
    before = bands_now(before_distribution)
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=fashion["Hotel Fashion"], user=alice, verdict="like", source="click"
    )
    assert not WebhookDelivery.objects.filter(event="company.band_changed").exists()  # the pass, not the click
    scores.apply_label_changes(FIRST_PROFILE_ID)
    after = bands_now(before_distribution)
    moved = {pk for pk in after if before.get(pk) != after[pk]}
    (delivery,) = WebhookDelivery.objects.filter(event="company.band_changed")
    data = delivery.payload["data"]
    assert delivery.endpoint == listening and delivery.payload["type"] == "company.band_changed"
    assert {c["id"] for c in data["companies"]} == moved and len(moved) >= 4  # Foxtrot and three new shops
    for company in data["companies"]:
        assert (company["old_band"], company["new_band"]) == ("unexplored", after[company["id"]])
        assert company["name"] == Company.objects.get(pk=company["id"]).name
    assert data["because"] == [{"company_id": fashion["Hotel Fashion"].pk, "verdict": "like"}]


def test_a_full_rescore_announces_the_band_changes_of_each_chunk(allowed, fashion, alice, settings):
    """A full rescore (an import of verdicts, a new encoder) sends what its chunks moved, one
    message per chunk; the company whose verdict started it left the bands as company.labelled said."""
    settings.RESCORE_CHUNK_SIZE = 4  # several chunks of the world's companies
    endpoint()
    before_distribution = score_distribution(FIRST_PROFILE_ID)
    before = bands_now(before_distribution)
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=fashion["Hotel Fashion"], user=alice, verdict="like", source="click"
    )
    chunks = scores.rescore_all(FIRST_PROFILE_ID)
    assert chunks and not scores.PendingScoreChange.objects.filter(profile_id=FIRST_PROFILE_ID).exists()
    after = bands_now(before_distribution)
    moved = {pk for pk in after if before.get(pk) != after[pk]}
    deliveries = WebhookDelivery.objects.filter(event="company.band_changed")
    announced = [c for d in deliveries for c in d.payload["data"]["companies"]]
    assert {c["id"] for c in announced} == moved and len(moved) >= 4
    assert fashion["Hotel Fashion"].pk not in {c["id"] for c in announced}
    assert len(deliveries) > 1 and all(d.payload["data"]["because"] == [] for d in deliveries)


def test_the_sweep_announces_the_companies_it_scores_for_the_first_time(allowed, fashion):
    listening = endpoint()
    lost = [fashion["India Fashion"].pk, fashion["Kilo Fashion"].pk]
    Score.objects.filter(
        profile_id=FIRST_PROFILE_ID, company_id__in=lost
    ).delete()  # a worker died between embedding and scoring
    assert scores.score_unscored(FIRST_PROFILE_ID) == 2
    (delivery,) = WebhookDelivery.objects.filter(event="company.band_changed")
    assert delivery.endpoint == listening
    entered = {c["id"]: (c["old_band"], c["new_band"]) for c in delivery.payload["data"]["companies"]}
    assert entered == {pk: (None, "unexplored") for pk in lost}


def test_a_band_filter_sends_only_changes_into_or_out_of_its_bands(allowed, fashion, alice):
    strong, unlikely = endpoint(bands=["strong"]), endpoint(bands=["unlikely"])
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=fashion["Hotel Fashion"], user=alice, verdict="like", source="click"
    )
    scores.apply_label_changes(FIRST_PROFILE_ID)
    (delivery,) = WebhookDelivery.objects.filter(event="company.band_changed")
    assert delivery.endpoint == strong and not unlikely.deliveries.exists()
    assert {c["new_band"] for c in delivery.payload["data"]["companies"]} == {"strong"}


def test_a_band_change_carries_the_companys_crm_records(allowed, fashion, alice):
    endpoint()
    CrmRecord.objects.create(company=fashion["Foxtrot Fashion"], crm="hubspot", record_id="4711")
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=fashion["Hotel Fashion"], user=alice, verdict="like", source="click"
    )
    scores.apply_label_changes(FIRST_PROFILE_ID)
    (delivery,) = WebhookDelivery.objects.filter(event="company.band_changed")
    (foxtrot,) = [c for c in delivery.payload["data"]["companies"] if c["name"] == "Foxtrot Fashion"]
    assert foxtrot["crm_records"] == [{"crm": "hubspot", "record_id": "4711"}]
    assert foxtrot["domain"] == "foxtrot-fashion.fr"


def test_companies_scored_for_the_first_time_enter_their_bands_in_one_message(allowed, world):
    """An import's companies get their first score as the worker embeds them: each batch sends
    one message of the companies that entered a band (old band none)."""
    listening = endpoint()
    made = [
        Company.objects.create(name=name, description=text)
        for name, text in [("Lima Lager", "beer brewery lager hops malt"), ("Mike Code", "software code review tools")]
    ]
    distribution = score_distribution(
        FIRST_PROFILE_ID
    )  # bands are judged against the fits before the batch (events.py)
    embeddings.embed_and_score([c.pk for c in made])
    (delivery,) = WebhookDelivery.objects.filter(event="company.band_changed")
    entered = {c["id"]: (c["old_band"], c["new_band"]) for c in delivery.payload["data"]["companies"]}
    assert delivery.endpoint == listening
    assert entered == {
        c.pk: (None, band_of(Score.objects.get(profile_id=FIRST_PROFILE_ID, company=c), distribution).key) for c in made
    }
    assert delivery.payload["data"]["because"] == []


def test_without_an_endpoint_a_pass_pays_one_query_and_writes_nothing(fashion, alice):
    with CaptureQueriesContext(connection) as queries:
        assert events.BandWatch.start(FIRST_PROFILE_ID, [c.pk for c in fashion.values()]) is None
    assert len(queries) == 1
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=fashion["Hotel Fashion"], user=alice, verdict="like", source="click"
    )
    scores.apply_label_changes(FIRST_PROFILE_ID)
    assert not WebhookDelivery.objects.exists()


def test_an_endpoint_for_other_events_gets_no_band_changes(allowed, fashion, alice):
    endpoint(events_=["import.finished"])
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=fashion["Hotel Fashion"], user=alice, verdict="like", source="click"
    )
    scores.apply_label_changes(FIRST_PROFILE_ID)
    assert not WebhookDelivery.objects.exists()


def test_a_verdict_sends_company_labelled_with_who_and_from_where(allowed, world, alice):
    listening = endpoint(events_=["company.labelled"])
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=world["Bravo Beers"], user=alice, verdict="dislike", source="api"
    )
    (delivery,) = listening.deliveries.all()
    (verdict,) = delivery.payload["data"]["verdicts"]
    assert (verdict["verdict"], verdict["by"], verdict["source"]) == ("dislike", "alice", "api")
    assert verdict["company"]["name"] == "Bravo Beers" and delivery.message_id.startswith("msg_")


def test_many_verdicts_at_once_are_batched(allowed, world, alice, monkeypatch):
    monkeypatch.setattr(events, "BATCH", 2)
    listening = endpoint(events_=["company.labelled"])
    names = ["Bravo Beers", "Copper Stouts", "Echo Review", "Foxtrot Fashion", "Golf Pending"]
    labels.label_companies(
        profile_id=FIRST_PROFILE_ID, verdicts=[(world[n].pk, "like") for n in names], user=alice, source="import"
    )
    parts = [d.payload["data"] for d in listening.deliveries.order_by("pk")]
    assert [len(p["verdicts"]) for p in parts] == [2, 2, 1] and {p["parts"] for p in parts} == {3}


def test_a_webhook_failure_never_undoes_the_verdict(allowed, world, alice, monkeypatch, caplog):
    endpoint(events_=["company.labelled"])

    def broken(company_ids):
        raise RuntimeError("the CRM table is gone")

    monkeypatch.setattr(events, "companies_described", broken)
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=world["Bravo Beers"], user=alice, verdict="like", source="click"
    )
    assert Label.objects.filter(company=world["Bravo Beers"], verdict="like").exists()
    assert not WebhookDelivery.objects.exists() and "could not record" in caplog.text


def test_an_import_sends_import_finished_with_its_counts(allowed, world, alice, tmp_path):
    listening = endpoint(events_=["import.finished"])
    path = Path(tmp_path) / "two.csv"
    path.write_text("name,description\nLima Lager,beer\nBad,\n")
    job = imports.run_import(imports.create_job(path=path, user=alice))
    (delivery,) = listening.deliveries.all()
    (summary,) = delivery.payload["data"]["imports"]
    assert (summary["id"], summary["kind"], summary["state"], summary["by"]) == (job.pk, "companies", "done", "alice")
    assert (summary["created"], summary["rejected"], summary["labels"]) == (job.created, job.rejected, job.labels)


def test_a_deals_import_sends_import_finished_with_its_kind_and_counts(allowed, world, alice, tmp_path):
    listening = endpoint(events_=["import.finished"])
    path = Path(tmp_path) / "deals.csv"
    path.write_text(
        "Record ID,Deal Name,Deal Stage,Close Date,Associated Company\n"
        "9001,Bravo pilot,Closed Won,2024-03-05,Bravo Beers\n"
        "9002,Nobody,closedlost,2024-03-20,No Such Company\n"
    )
    job = outcomes.run_import(outcomes.create_import(path=path, user=alice))
    assert job.state == "done" and job.created == 1 and job.rejected == 1
    (delivery,) = listening.deliveries.all()
    (summary,) = delivery.payload["data"]["imports"]
    assert (summary["id"], summary["kind"], summary["state"], summary["by"]) == (job.pk, "deals", "done", "alice")
    assert (summary["created"], summary["rejected"], summary["matched"]) == (1, 1, job.matched)
    assert "labels" not in summary and "duplicates" not in summary


# --- Pages and the command --------------------------------------------------------------------


def test_a_manager_adds_an_endpoint_and_sees_its_secret(allowed, bob):
    client = logged_in(in_role(bob, roles.MANAGER))
    response = client.post(
        "/webhooks/", {"url": "http://localhost:8080/in", "events": ["company.band_changed"], "bands": ["strong"]}
    )
    added = WebhookEndpoint.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/webhooks/{added.pk}/"
    page = client.get(response["Location"])
    assert added.secret.startswith("whsec_") and added.secret in page.text
    assert (added.events, added.bands, added.created_by) == (["company.band_changed"], ["strong"], bob)
    assert client.get(response["Location"], {"page": "99"}).status_code == 200  # past the log's end: empty
    for bad in ("abc", "0", "9" * 19):  # 19 nines was an OFFSET past a bigint
        refused = client.get(response["Location"], {"page": bad})
        assert (
            refused.status_code == 400
            and f"page must be a whole number from 1 to 1,000,000 (got {bad!r})" in refused.text
        )


@pytest.mark.parametrize(
    "url, says",
    [
        ("ftp://example.com/", "must start with https:// or http://"),
        ("not a url", "spaces or control characters"),
        ("http://127.0.0.1:8080/in", "WEBHOOK_ALLOWED_HOSTS=127.0.0.1"),
    ],
)
def test_a_bad_url_gets_a_400_that_says_what_to_fix(bob, url, says):
    client = logged_in(in_role(bob, roles.MANAGER))
    response = client.post("/webhooks/", {"url": url, "events": ["company.labelled"]})
    assert response.status_code == 400 and says in response.text
    assert not WebhookEndpoint.objects.exists()


def test_a_rep_may_not_see_or_add_endpoints(allowed, alice):
    client = logged_in(alice)
    assert client.get("/webhooks/").status_code == 403
    assert client.post("/webhooks/", {"url": "http://localhost/x", "events": ["company.labelled"]}).status_code == 403
    assert not WebhookEndpoint.objects.exists()
    assert "/webhooks/" not in client.get("/").text


def test_a_manager_replays_a_delivery_from_the_log(allowed, bob):
    client = logged_in(in_role(bob, roles.MANAGER))
    delivery = services.send_test(endpoint=endpoint())
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", error="answered 500")
    page = client.get(f"/webhooks/{delivery.endpoint_id}/")
    assert delivery.message_id in page.text and "answered 500" in page.text
    response = client.post(f"/webhooks/deliveries/{delivery.pk}/replay", {"next": f"/webhooks/{delivery.endpoint_id}/"})
    assert response["Location"] == f"/webhooks/{delivery.endpoint_id}/"
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"


def test_the_command_adds_lists_replays_and_removes(allowed):
    out = StringIO()
    call_command("webhooks", "add", "http://localhost:9/in", "--events", "company.labelled,import.finished", stdout=out)
    added = WebhookEndpoint.objects.get()
    assert added.secret in out.getvalue() and added.events == ["company.labelled", "import.finished"]
    call_command("webhooks", "list", stdout=out)
    assert "http://localhost:9/in" in out.getvalue()
    delivery = services.send_test(endpoint=added)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    call_command("webhooks", "replay", "--failed", stdout=out)
    assert "Replaying 1 failed" in out.getvalue() and WebhookDelivery.objects.get().status == "pending"
    call_command("webhooks", "remove", str(added.pk), stdout=out)
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "arguments, says",
    [
        (["add", "http://10.0.0.1/", "--events", "company.labelled"], "WEBHOOK_ALLOWED_HOSTS"),
        (["add", "http://localhost/", "--events", "company.liked"], "unknown event 'company.liked'"),
        (["add", "http://localhost/", "--events", "company.labelled", "--bands", "hot"], "unknown band 'hot'"),
        (["remove", "99"], "no endpoint 99"),
        (["replay"], "give one delivery id, or --failed"),
    ],
)
def test_the_command_says_what_is_wrong(allowed, arguments, says):
    with pytest.raises(CommandError, match=says):
        call_command("webhooks", *arguments)
