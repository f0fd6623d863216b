"""Outcomes in: deals files as HubSpot, Salesforce and Pipedrive write them, matched to companies by
CRM record id, domain and name; re-imports that update, never duplicate; the dry run; rejects; and
"outcomes count as verdicts" on and off through the real labels service. Real database."""

from __future__ import annotations

import csv
import datetime
import io
import shutil
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from leads import tasks
from leads.accounts import roles
from leads.companies.disagreements import rep_disagreements
from leads.core import queue
from leads.imports import jobs
from leads.models import (
    FIRST_PROFILE_ID,
    Company,
    CrmRecord,
    Label,
    LabelSource,
    Outcome,
    OutcomeBand,
    OutcomeImport,
    PendingScoreChange,
    Profile,
    Verdict,
)
from leads.outcomes import deals as deal_rows
from leads.outcomes import selectors as outcome_selectors
from leads.outcomes import services as outcomes
from leads.review.selectors import rep_verdicts
from leads.scoring import labels
from leads.scoring import services as scores
from tests.conftest import FIXTURES
from tests.csv_helpers import xlsx_bytes
from tests.test_queues import queued

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    """Acme (HubSpot record 101, Pipedrive 77, no website), Globex (globex.com), Initech, Inc.
    (by name only) and Umbrella (umbrella.com)."""
    made = {
        "Acme": Company.objects.create(name="Acme"),
        "Globex": Company.objects.create(name="Globex", website="https://www.globex.com"),
        "Initech": Company.objects.create(name="Initech, Inc."),
        "Umbrella": Company.objects.create(name="Umbrella", website="umbrella.com"),
    }
    CrmRecord.objects.create(company=made["Acme"], crm="hubspot", record_id="101")
    CrmRecord.objects.create(company=made["Acme"], crm="pipedrive", record_id="77")
    CrmRecord.objects.create(company=made["Acme"], crm="salesforce", record_id="001A")
    return made


def imported(path, **choices) -> OutcomeImport:
    job = outcomes.create_import(path=path)
    if choices:
        outcomes.choose(job, **choices)
    return outcomes.run_import(job)


def deals_of(company: Company) -> list[tuple]:
    return list(Outcome.objects.filter(company=company).order_by("deal_id").values_list(
        "deal_id", "stage", "closed_on", "amount", "currency", "matched_by"))  # fmt: skip


def test_it_reads_a_hubspot_deals_export_matching_by_record_id_domain_and_name(team):
    job = imported(FIXTURES / "deals-hubspot.csv")
    assert job.crm == "hubspot" and job.state == OutcomeImport.State.DONE
    assert deals_of(team["Acme"]) == [("9001", "won", datetime.date(2024, 3, 5), Decimal("12500.00"), "USD", "record")]
    assert deals_of(team["Globex"]) == [("9002", "lost", datetime.date(2024, 3, 20), Decimal("900.00"), "", "domain")]
    assert deals_of(team["Initech"]) == [("9003", "open", None, None, "", "name")]
    # "Signed" is no default stage: open, until a manager says otherwise.
    assert deals_of(team["Umbrella"]) == [
        ("9005", "open", datetime.date(2024, 4, 2), Decimal("1200.50"), "EUR", "domain")
    ]
    assert job.matched == {"record": 1, "domain": 2, "name": 1, "amount_unread": 0}
    assert (job.created, job.rejected) == (4, 2)
    reasons = {row["line"]: row["reason"] for row in job.rejected_rows}
    assert (
        "no company has the hubspot record id 555 or the domain nobody.example or the name 'Nobody Ltd'" in reasons[5]
    )
    assert "the close date 'sometime' is no date" in reasons[7]


def test_it_reads_a_pipedrive_export_by_its_status_not_its_pipeline_stage(team):
    job = imported(FIXTURES / "deals-pipedrive.csv")
    assert job.crm == "pipedrive"
    assert deals_of(team["Acme"]) == [("31", "won", datetime.date(2024, 5, 2), Decimal("5000.00"), "EUR", "record")]
    assert deals_of(team["Globex"]) == [("32", "lost", datetime.date(2024, 5, 10), Decimal("0.00"), "EUR", "name")]
    assert deals_of(team["Initech"])[0][1] == "open"


def test_it_reads_a_salesforce_workbook_by_is_won_and_is_closed(team, tmp_path):
    rows = [["Opportunity ID", "Opportunity Name", "Account ID", "Account Name", "Stage", "IsClosed", "IsWon",
             "Close Date", "Amount"],
            ["0061", "Acme big", "001A", "Acme", "Negotiation/Review", "TRUE", "FALSE", datetime.date(2024, 6, 1), 300],
            ["0062", "Globex", "", "Globex", "Closed Won", "TRUE", "TRUE", datetime.date(2024, 6, 2), 400],
            ["0063", "Initech", "", "Initech Inc", "Prospecting", "FALSE", "FALSE", None, None]]  # fmt: skip
    path = tmp_path / "opportunities.xlsx"
    path.write_bytes(xlsx_bytes({"Opportunities": rows}))
    job = imported(path)
    assert job.crm == "salesforce"
    assert deals_of(team["Acme"]) == [("0061", "lost", datetime.date(2024, 6, 1), Decimal("300.00"), "", "record")]
    assert deals_of(team["Globex"])[0][:2] == ("0062", "won")
    assert deals_of(team["Initech"])[0][:2] == ("0063", "open")


def test_re_importing_the_same_file_updates_and_never_duplicates(team, tmp_path):
    first = imported(FIXTURES / "deals-hubspot.csv")
    again = imported(FIXTURES / "deals-hubspot.csv")
    assert Outcome.objects.count() == 4
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    decided_before = Outcome.objects.get(deal_id="9005").decided_at
    # The CRM moved Umbrella's deal on; a manager says "Signed" means won.
    later = imported(FIXTURES / "deals-hubspot.csv", stages={"Signed": "won"})
    umbrella = Outcome.objects.get(deal_id="9005")
    assert (later.created, later.updated, Outcome.objects.count()) == (0, 1, 4)
    assert decided_before is None and umbrella.stage == "won" and umbrella.decided_at is not None
    assert umbrella.source_id == later.pk != first.pk


def test_a_re_import_that_changes_every_field_stores_what_a_first_import_of_it_would(team, tmp_path):
    columns = ["company_id", "stage", "stage_as_written", "closed_on", "amount", "currency", "deal_name", "matched_by"]
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("Record ID,Deal Name,Deal Stage,Close Date,Amount,Associated Company\n"
                   "7001,Pilot,Open,,,Acme\n7002,Renewal,Closed Won,2024-01-02,100,Globex\n")  # fmt: skip
    new.write_text("Record ID,Deal Name,Deal Stage,Close Date,Amount,Associated Company\n"
                   "7001,Pilot (signed),closedwon,2024-05-06,EUR 2500.50,Initech\n"
                   "7002,Renewal lost,Closed Lost,2024-07-08,90,Umbrella\n")  # fmt: skip
    imported(old)
    kept = [OutcomeBand(profile_id=FIRST_PROFILE_ID, outcome=o, band_before="strong") for o in Outcome.objects.all()]
    OutcomeBand.objects.bulk_create(kept)
    again = imported(new)
    assert (again.created, again.updated) == (0, 2)
    updated = {o["deal_id"]: o for o in Outcome.objects.values("deal_id", "source_id", "decided_at", *columns)}
    assert all(o["source_id"] == again.pk and o["decided_at"] for o in updated.values())
    assert not OutcomeBand.objects.exists()  # changed deals: their bands before are read again
    Outcome.objects.all().delete()
    imported(new)
    fresh = {o["deal_id"]: o for o in Outcome.objects.values("deal_id", *columns)}
    assert {key: {c: updated[key][c] for c in columns} for key in updated} == {
        key: {c: fresh[key][c] for c in columns} for key in fresh
    }
    assert fresh["7001"]["company_id"] == team["Initech"].pk and fresh["7001"]["amount"] == Decimal("2500.50")


def test_a_file_without_deal_ids_keys_each_deal_by_its_company_and_name(team, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("Company,Deal Name,Stage\nGlobex,Pilot,Open\n")
    imported(path, crm="hubspot")
    path.write_text("Company,Deal Name,Stage\nGlobex,Pilot,Closed Won\n")
    imported(path, crm="hubspot")
    assert list(Outcome.objects.values_list("stage", flat=True)) == ["won"]


def test_a_deal_on_two_rows_counts_once_and_its_earlier_row_says_why(team, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        "Deal ID,Company,Deal Name,Stage,Amount\n"
        "D1,Globex,Pilot,Closed Won,12500\n"
        "D2,Umbrella,Roll-out,Closed Lost,300\n"
        "D1,Initech,Pilot again,Closed Won,100\n"
        ",Umbrella,Extension,Open,\n"
        ",Umbrella,Extension,Closed Won,\n"
    )
    job = outcomes.create_import(path=path)
    outcomes.choose(job, crm="hubspot")
    reading = outcomes.read_file(job)  # the preview's dry run
    assert len(reading.matched) == 3 and reading.stages == {"won": 2, "lost": 1, "open": 0}
    assert [(r.line, r.reason) for r in reading.rejected] == [
        (2, "deal 'D1' is on line 4 too: a deal is one row, and its last row counts"),
        (5, "a deal of the same company and name is on line 6 too: a deal is one row, and its last row counts"),
    ]
    done = outcomes.run_import(job)
    assert (done.rows_read, done.created, done.rejected) == (5, 3, 2)  # every row accounted for
    assert deals_of(team["Initech"]) == [("D1", "won", None, Decimal("100.00"), "", "name")]
    assert deals_of(team["Globex"]) == []


def test_the_dry_run_says_what_matches_by_which_key_and_writes_nothing(team):
    out = io.StringIO()
    call_command("import_outcomes", str(FIXTURES / "deals-hubspot.csv"), "--dry-run", stdout=out)
    text = out.getvalue()
    assert "6 rows, 4 deals match a company, by record 1, domain 2, name 1; 2 rejected" in text
    assert "Read as open (say otherwise with --stage VALUE=won): Signed" in text
    assert not Outcome.objects.exists() and not OutcomeImport.objects.exists()


def test_the_command_takes_stages_and_columns(team, tmp_path):
    path = tmp_path / "deals.csv"
    shutil.copy(FIXTURES / "deals-hubspot.csv", path)
    out = io.StringIO()
    call_command("import_outcomes", str(path), "--stage", "Signed=won", "--column", "name=Deal Name", stdout=out)
    # Deal names match no company: only record ids and domains find them now.
    assert "matched by record 1, domain 2, name 0" in out.getvalue()
    assert Outcome.objects.get(deal_id="9005").stage == "won"
    with pytest.raises(Exception, match="write it as VALUE=won"):
        call_command("import_outcomes", str(path), "--stage", "Signed=maybe")


def test_the_rejects_download_as_csv_for_managers(team, client, bob, alice):
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    job = imported(FIXTURES / "deals-hubspot.csv")
    client.force_login(bob)
    rows = list(csv.reader(io.StringIO(client.get(f"/outcomes/{job.pk}/rejected.csv").content.decode())))
    assert rows[0][:3] == ["line", "reason", "Record ID"]
    assert [row[0] for row in rows[1:]] == ["5", "7"] and rows[1][2] == "9004"
    client.force_login(alice)
    assert client.get(f"/outcomes/{job.pk}/rejected.csv").status_code == 403


def test_a_file_with_no_stage_column_is_said_to_read_every_deal_as_open(team, client, bob, tmp_path):
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    client.force_login(bob)
    client.post("/outcomes/", {"file": io.BytesIO(b"Company,Deal Name\nGlobex,Pilot\n"), "crm": "hubspot"})
    job = OutcomeImport.objects.get()
    preview = client.get(f"/outcomes/{job.pk}/").content.decode()
    assert "No column says each deal&#x27;s stage, so every deal would be read as open" in preview
    assert "Won 0, lost 0, open 1." in preview
    form = {"column-0": "name", "column-1": "stage", "crm": "hubspot", "action": "preview"}  # the manager maps one
    client.post(f"/outcomes/{job.pk}/", form)
    assert "No column says each deal" not in client.get(f"/outcomes/{job.pk}/").content.decode()
    path = tmp_path / "deals.csv"
    path.write_text("Company,Deal Name\nGlobex,Pilot\n")
    out = io.StringIO()
    call_command("import_outcomes", str(path), "--crm", "hubspot", "--dry-run", stdout=out)
    assert deal_rows.NO_STAGE in out.getvalue()
    path.write_text("Company,Deal Stage\nGlobex,Closed Won\n")
    out = io.StringIO()
    call_command("import_outcomes", str(path), "--crm", "hubspot", "--dry-run", stdout=out)
    assert deal_rows.NO_STAGE not in out.getvalue()


def test_the_web_preview_maps_a_stage_then_a_worker_imports(team, client, bob, django_capture_on_commit_callbacks):
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    client.force_login(bob)
    with open(FIXTURES / "deals-hubspot.csv", "rb") as stream:
        response = client.post("/outcomes/", {"file": stream, "crm": ""})
    job = OutcomeImport.objects.get()
    preview = client.get(f"/outcomes/{job.pk}/").content.decode()
    assert "4 deals match a company: 1 by HubSpot record id," in preview and "Signed" in preview
    assert not Outcome.objects.exists()
    form = {f"column-{i}": t for i, t in job.column_mapping().items()}
    form = {**form, "crm": "hubspot", "stage-0": "Signed", "stage-0-as": "won", "action": "import"}
    queue.purge()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/outcomes/{job.pk}/", form)
    assert response.status_code == 302 and response["Location"] == f"/outcomes/{job.pk}/"
    # Queued for a worker, with the manager's choices kept on the job; nothing imported yet.
    assert queued("bulk") == [("leads.run_outcome_import", [job.pk], {})]
    job.refresh_from_db()
    assert (job.state, job.crm, job.stages) == (OutcomeImport.State.QUEUED, "hubspot", {"signed": "won"})
    assert not Outcome.objects.exists()
    page = client.get(f"/outcomes/{job.pk}/").content.decode()
    assert "Waiting for a worker to pick the import up" in page and f'data-url="/outcomes/{job.pk}/progress"' in page
    # The rows read switch from "of about 6" to "6 rows" when it is done, as a companies import's
    # (it kept saying "6 of about 6" until a reload).
    assert '<span data-show="rows-counted" hidden>' in page and '<span data-show="rows-estimated">' in page
    assert client.get(f"/outcomes/{job.pk}/progress").json()["state"] == "queued"
    with django_capture_on_commit_callbacks(execute=True):  # a second click queues nothing
        again = client.post(f"/outcomes/{job.pk}/", {**form, "stage-0-as": "lost"})
    assert again.status_code == 302 and len(queued("bulk")) == 1
    assert "This import was already confirmed." in client.get(f"/outcomes/{job.pk}/").content.decode()
    queue.purge()

    tasks.run_outcome_import(job.pk)  # what the worker runs
    assert Outcome.objects.get(deal_id="9005").stage == "won" and Outcome.objects.count() == 4
    progress = client.get(f"/outcomes/{job.pk}/progress").json()
    assert progress == {"state": "done", "state_display": "Imported", "rows_read": 6, "rows_exact": True,
                        "rows_counted": True, "rows_estimate": 6, "rows_word": "rows", "created": 4, "updated": 0,
                        "unchanged": 0, "rejected": 2, "error": "", "finished": True}  # fmt: skip
    result = client.get(f"/outcomes/{job.pk}/").content.decode()
    assert "6 rows, 4 new deals, 0 updated," in result
    assert "Matched by HubSpot record id 1, domain 2, name 1." in result and "line 5: no company has" in result
    page = client.get(f"/companies/{team['Acme'].pk}/").content.decode()
    assert "Acme renewal" in page and "closed 2024-03-05" in page and "12,500.00 USD" in page


def test_the_sweep_sends_a_confirmed_deals_import_whose_task_redis_lost(team, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("Record ID,Company,Deal Stage\n1,Acme,Closed Won\n")
    job = outcomes.create_import(path=path, crm="hubspot")
    assert outcomes.start_import(job) and not outcomes.start_import(job)  # confirmed once
    queue.purge()  # the task lost (its on-commit send never ran here, as with Redis down)
    try:
        tasks.sweep()  # an idle queue: confirmed imports are sent again
        assert ("leads.run_outcome_import", [job.pk], {}) in queued("bulk")
    finally:
        queue.purge()
    tasks.run_outcome_import(job.pk)
    tasks.run_outcome_import(job.pk)  # a duplicate: the import is done, nothing twice
    job.refresh_from_db()
    assert (job.state, job.created, Outcome.objects.count()) == (OutcomeImport.State.DONE, 1, 1)


def test_a_deals_import_that_fails_says_why_and_keeps_nothing(team, client, bob, tmp_path):
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    client.force_login(bob)
    path = tmp_path / "deals.csv"
    path.write_text("Record ID,Company,Deal Stage\n1,Acme,Closed Won\n2,Globex,Closed Lost\n")
    job = outcomes.create_import(path=path, crm="hubspot", user=bob)
    outcomes.start_import(job)
    job.file.storage.delete(job.file.name)  # the kept copy lost before the worker reads it
    tasks.run_outcome_import(job.pk)
    job.refresh_from_db()
    assert job.state == OutcomeImport.State.FAILED and not Outcome.objects.exists()
    assert job.error.startswith("The import failed and nothing of it was kept (FileNotFoundError")
    assert job.finished_at is not None
    page = client.get(f"/outcomes/{job.pk}/").content.decode()
    assert "Failed" in page and "nothing of it was kept" in page and "Nothing of the file was imported." in page
    assert client.get(f"/outcomes/{job.pk}/progress").json()["finished"] is True


def test_outcomes_count_as_verdicts_through_the_labels_service_and_step_back(team, alice, bob, tmp_path):
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=team["Acme"], user=alice, verdict="like", source=LabelSource.CLICK
    )
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=team["Globex"], user=alice, verdict="dislike", source=LabelSource.CLICK
    )
    path_rows = "Record ID,Company,Stage,Close Date\n1,Acme,Closed Lost,2024-01-01\n2,Globex,Closed Won,2024-01-02\n"
    path_rows += "3,Initech,Closed Won,2024-01-03\n4,Umbrella,Open,\n"
    path = tmp_path / "deals.csv"
    path.write_text(path_rows)
    imported(path, crm="hubspot")
    PendingScoreChange.objects.all().delete()
    assert outcome_selectors.disagreements(profile_id=FIRST_PROFILE_ID)[1] == 2  # liked then lost, disliked then won
    assert outcomes.set_outcomes_count(count=True, user=bob, profile_id=FIRST_PROFILE_ID) == 3
    in_profile = Company.objects.in_profile(FIRST_PROFILE_ID)
    verdicts = {name: in_profile.get(pk=c.pk).verdict for name, c in team.items()}
    assert verdicts == {"Acme": Verdict.DISLIKE, "Globex": Verdict.LIKE, "Initech": Verdict.LIKE, "Umbrella": ""}
    assert set(Label.objects.filter(source=LabelSource.OUTCOME).values_list("company__name", flat=True)) == {
        "Acme", "Globex", "Initech, Inc."}  # fmt: skip
    # The rescore follows as for any verdict: the three wait as pending changes.
    assert set(PendingScoreChange.objects.values_list("company_id", flat=True)) == {
        team[n].pk for n in ("Acme", "Globex", "Initech")}  # fmt: skip
    # already so: nothing written
    assert outcomes.set_outcomes_count(count=True, user=bob, profile_id=FIRST_PROFILE_ID) == 0
    assert outcomes.set_outcomes_count(count=False, user=bob, profile_id=FIRST_PROFILE_ID) == 3
    verdicts = {name: in_profile.get(pk=c.pk).verdict for name, c in team.items()}
    assert verdicts == {"Acme": Verdict.LIKE, "Globex": Verdict.DISLIKE, "Initech": "", "Umbrella": ""}
    assert Label.objects.filter(company=team["Acme"]).first().source == LabelSource.RESTORED


def test_giving_reps_verdicts_back_settles_no_disagreement_between_them(team, alice, bob, tmp_path):
    """A restore is neither a rep's opinion nor a manager's settling: reps who disagreed before the
    outcomes counted still disagree after (a source admin label would have settled it)."""
    carol = User.objects.create_user("carol")
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=team["Acme"], user=alice, verdict="like", source=LabelSource.CLICK
    )
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=team["Acme"], user=carol, verdict="dislike", source=LabelSource.CLICK
    )
    assert set(rep_disagreements(FIRST_PROFILE_ID)) == {team["Acme"].pk}
    path = tmp_path / "deals.csv"
    path.write_text("Record ID,Company,Stage\n1,Acme,Closed Won\n")
    imported(path, crm="hubspot")
    outcomes.set_outcomes_count(count=True, user=bob, profile_id=FIRST_PROFILE_ID)
    outcomes.set_outcomes_count(count=False, user=bob, profile_id=FIRST_PROFILE_ID)
    assert (
        Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=team["Acme"].pk).verdict == Verdict.DISLIKE
    )  # carol's, the latest
    assert set(rep_disagreements(FIRST_PROFILE_ID)) == {team["Acme"].pk}
    # bob's restore is no rep's
    assert {user for _, user, *_ in rep_verdicts(profile_id=FIRST_PROFILE_ID)} == {alice.pk, carol.pk}


def test_an_outcome_counting_as_a_verdict_moves_the_scores(world, alice, bob, tmp_path):
    """The real rescore: Bravo Beers' neighbour Copper Stouts is won, so Bravo's fit rises."""
    before = Company.objects.in_profile(FIRST_PROFILE_ID).get(name="Bravo Beers").score.fit
    path = tmp_path / "deals.csv"
    path.write_text("Record ID,Company Domain Name,Stage\n7,copperstouts.co.uk,Closed Won\n")
    outcomes.set_outcomes_count(count=True, user=bob, profile_id=FIRST_PROFILE_ID)
    imported(path, crm="hubspot")
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name="Copper Stouts").verdict == Verdict.LIKE
    scores.apply_label_changes(FIRST_PROFILE_ID)
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name="Bravo Beers").score.fit > before


def test_the_stage_words_of_each_crm():
    assert [deal_rows.stage_of(s) for s in ("Closed Won", "closedwon", "won", "Closed Lost", "closedlost", "lost",
                                             "Negotiation/Review", "open", "Signed")] == [
        "won", "won", "won", "lost", "lost", "lost", "open", "open", "open"]  # fmt: skip
    assert deal_rows.stage_of("Signed", chosen={"signed": "won"}) == "won"
    assert deal_rows.read_date("03/05/2024") == datetime.date(2024, 3, 5)
    assert deal_rows.read_date("25/05/2024") == datetime.date(2024, 5, 25)
    assert deal_rows.read_date("05.03.2024") == datetime.date(2024, 3, 5)
    assert deal_rows.read_date("2024-03-05T00:00:00.000+0000") == datetime.date(2024, 3, 5)  # Salesforce's API
    assert deal_rows.read_date("2024-03-05 14:22:11") == datetime.date(2024, 3, 5)  # Pipedrive's won time
    assert deal_rows.read_date("2024-03-055") is None and deal_rows.read_date("20240305") is None
    assert deal_rows.read_amount("EUR 900") == (Decimal("900.00"), "EUR")
    assert deal_rows.read_amount("lots") == (None, "")


def test_a_files_dates_are_read_in_its_own_order_of_day_and_month(team, tmp_path):
    path = tmp_path / "deals.csv"
    rows = "Deal ID,Company,Stage,Close Date\nD1,Globex,Closed Won,05/03/2024\nD2,Umbrella,Closed Lost,{}\n"
    path.write_text(rows.format("31/12/2024"))  # a UK export: one date says the day comes first
    imported(path, crm="hubspot")
    assert dict(Outcome.objects.values_list("deal_id", "closed_on")) == {
        "D1": datetime.date(2024, 3, 5), "D2": datetime.date(2024, 12, 31)}  # fmt: skip
    path.write_text(rows.format("12/31/2024"))  # a US export: the month first, as without a clue
    imported(path, crm="hubspot")
    assert dict(Outcome.objects.values_list("deal_id", "closed_on")) == {
        "D1": datetime.date(2024, 5, 3), "D2": datetime.date(2024, 12, 31)}  # fmt: skip


def test_outcomes_count_as_verdicts_in_the_profile_that_chose_it_only(team, bob, tmp_path):
    lending = Profile.objects.create(name="Lending")
    path = tmp_path / "deals.csv"
    path.write_text(
        "Record ID,Company,Stage,Close Date\n1,Acme,Closed Lost,2024-01-01\n2,Globex,Closed Won,2024-01-02\n"
    )
    imported(path, crm="hubspot")
    assert outcomes.set_outcomes_count(count=True, user=bob, profile_id=lending.pk) == 2
    assert outcome_selectors.outcomes_count(lending.pk) and not outcome_selectors.outcomes_count(FIRST_PROFILE_ID)
    in_lending = Company.objects.in_profile(lending.pk)
    assert in_lending.get(pk=team["Globex"].pk).verdict == Verdict.LIKE
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=team["Globex"].pk).verdict == ""
    # A later deals import's outcomes become verdicts in that profile, not in the first.
    path.write_text("Record ID,Company,Stage,Close Date\n5,Initech,Closed Won,2024-02-01\n")
    job = outcomes.create_import(path=path)
    outcomes.choose(job, crm="hubspot")
    jobs.choose_profile(job, lending.pk)
    outcomes.run_import(job)
    assert in_lending.get(pk=team["Initech"].pk).verdict == Verdict.LIKE
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=team["Initech"].pk).verdict == ""
