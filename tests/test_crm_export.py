"""CRM records where people look (#27): the company page, the admin, search by record id, the API
row and the CSV export; scores out in each CRM's import shape (`export_scores --for`, the
dashboard's export menu), read back from the file; the preview's and the command's CRM name.

Real database and services; the fake bag-of-words encoder."""

from __future__ import annotations

import csv
import html
import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from leads.accounts import roles
from leads.models import FIRST_PROFILE_ID, Company, CrmRecord, ImportJob
from leads.scoring import explanations
from tests.import_helpers import confirm, text, uploaded_job

pytestmark = pytest.mark.django_db

SALESFORCE_ID = "0015g00000XyZabAAB"


@pytest.fixture
def recorded(world):
    """The scored world with record ids: Bravo in HubSpot (two records, after a merge there) and in
    Salesforce, Echo in HubSpot, Copper nowhere."""
    bravo, echo = world["Bravo Beers"], world["Echo Review"]
    for company, crm, record_id in [
        (bravo, "hubspot", "9001"), (bravo, "hubspot", "9003"), (bravo, "salesforce", SALESFORCE_ID),
        (echo, "hubspot", "9002"),
    ]:  # fmt: skip
        CrmRecord.objects.create(company=company, crm=crm, record_id=record_id)
    return world


def read_csv(body: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body)))


# --- shown and searchable --------------------------------------------------------------


def test_the_company_page_shows_its_crm_records(as_alice, recorded):
    page = text(as_alice.get(f"/companies/{recorded['Bravo Beers'].pk}/"))
    assert "In your CRM: HubSpot 9001 · HubSpot 9003 · Salesforce " + SALESFORCE_ID in " ".join(
        page.replace("<code>", "").replace("</code>", "").replace('<span class="crm-record">', "")
        .replace("</span>", "").split()
    )  # fmt: skip
    assert 'id="crm-records"' not in text(as_alice.get(f"/companies/{recorded['Copper Stouts'].pk}/"))


@pytest.mark.parametrize("query", [SALESFORCE_ID, "9003", f"  {SALESFORCE_ID} "])
def test_a_record_id_finds_its_company_on_the_dashboard_and_the_api(as_alice, api, recorded, query):
    page = text(as_alice.get("/", {"q": query}))
    assert "Bravo Beers" in page and "Echo Review" not in page
    assert "Matches its CRM record id" in page
    body = api.get("/api/companies/", {"q": query}).json()
    assert [c["name"] for c in body["results"]] == ["Bravo Beers"]


def test_the_api_row_carries_the_crm_records(api, recorded):
    body = api.get("/api/companies/", {"page_size": 50}).json()
    by_name = {c["name"]: c["crm_records"] for c in body["results"]}
    assert by_name["Bravo Beers"] == [
        {"crm": "hubspot", "record_id": "9001"},
        {"crm": "hubspot", "record_id": "9003"},
        {"crm": "salesforce", "record_id": SALESFORCE_ID},
    ]
    assert by_name["Copper Stouts"] == []
    one = api.get(f"/api/companies/{recorded['Echo Review'].pk}").json()
    assert one["crm_records"] == [{"crm": "hubspot", "record_id": "9002"}]


def test_the_admin_searches_filters_and_shows_records_read_only(as_staff, recorded):
    found = as_staff.get("/admin/leads/company/", {"q": "9002"})
    assert "Echo Review" in found.text and "Bravo Beers" not in found.text
    in_salesforce = text(as_staff.get("/admin/leads/company/", {"crm": "salesforce"}))
    assert "Bravo Beers" in in_salesforce and "Echo Review" not in in_salesforce
    without = text(as_staff.get("/admin/leads/company/", {"crm": "-none"}))
    assert "Copper Stouts" in without and "Bravo Beers" not in without
    page = as_staff.get(f"/admin/leads/company/{recorded['Bravo Beers'].pk}/change/").text
    assert "CRM records" in page and SALESFORCE_ID in page
    assert 'name="crm_records-0-record_id"' not in page  # read-only: no input to change it


def test_the_csv_export_carries_every_record_id_in_one_column(as_alice, recorded):
    response = as_alice.get("/export.csv")
    rows = read_csv(b"".join(response.streaming_content).decode("utf-8-sig"))
    by_name = {row["name"]: row["crm_ids"] for row in rows}
    assert by_name["Bravo Beers"] == f"hubspot:9001; hubspot:9003; salesforce:{SALESFORCE_ID}"
    assert by_name["Copper Stouts"] == ""


# --- scores out in each CRM's import shape ------------------------------------------------


def test_export_scores_for_hubspot_writes_its_update_import(tmp_path, recorded):
    path, out = tmp_path / "hubspot.csv", io.StringIO()
    call_command("export_scores", str(path), "--for", "hubspot", stdout=out)
    body = path.read_text(encoding="utf-8")
    assert not body.startswith("\ufeff")
    rows = read_csv(body)
    assert list(rows[0]) == [
        "Record ID", "Leads fit", "Leads evidence", "Leads score", "Leads band", "Leads rank", "Leads why",
        "Leads neighbour 1", "Leads neighbour 2", "Leads neighbour 3",
    ]  # fmt: skip
    assert [row["Record ID"] for row in rows] == ["9001", "9003", "9002"]  # Bravo (best fit) twice, then Echo
    bravo = Company.objects.in_profile(FIRST_PROFILE_ID).get(name="Bravo Beers")
    first = rows[0]
    assert float(first["Leads fit"]) == round(bravo.score.fit, 4) and float(first["Leads score"]) > 0
    assert float(first["Leads evidence"]) == round(bravo.score.evidence, 2)
    assert first["Leads band"] in ("strong fit", "likely", "unsure") and "%" in first["Leads rank"]
    assert first["Leads why"] == explanations.explanation_sentence(
        bravo, explanations.score_explanation(bravo), explanations.close_reach(profile_id=FIRST_PROFILE_ID)
    )
    assert first["Leads neighbour 1"] == "Alpha Brewing (liked)" and first["Leads neighbour 2"].endswith("(disliked)")
    assert rows[1] == {**first, "Record ID": "9003"}
    # Seven companies in the view, two with a HubSpot record.
    assert (
        out.getvalue().strip()
        == f"Wrote 3 HubSpot records of 2 companies to {path}; skipped 5 companies with no HubSpot record id."
    )


@pytest.mark.parametrize("crm, id_header, fit_header", [
    ("salesforce", "Id", "Leads_Fit__c"), ("pipedrive", "ID", "Leads fit"),
])  # fmt: skip
def test_export_scores_for_salesforce_and_pipedrive(tmp_path, recorded, crm, id_header, fit_header):
    CrmRecord.objects.create(company=recorded["Echo Review"], crm="pipedrive", record_id="17")
    path = tmp_path / f"{crm}.csv"
    call_command("export_scores", str(path), "--for", crm, stdout=io.StringIO())
    rows = read_csv(path.read_text(encoding="utf-8"))
    assert list(rows[0])[:2] == [id_header, fit_header] and len(rows[0]) == 10  # the id and FIELDS
    expected = {"salesforce": [SALESFORCE_ID], "pipedrive": ["17"]}[crm]
    assert [row[id_header] for row in rows] == expected


def test_export_scores_refuses_an_unknown_crm_and_writes_nothing(tmp_path, recorded):
    path = tmp_path / "kept.csv"
    path.write_text("what was there")
    with pytest.raises(
        CommandError, match=r"There is no import shape for 'zoho': use one of hubspot, salesforce, pipedrive"
    ):
        call_command("export_scores", str(path), "--for", "zoho")
    assert path.read_text() == "what was there"


def test_the_dashboard_export_menu_writes_each_crms_file_for_the_current_view(as_alice, recorded):
    page = html.unescape(as_alice.get("/", {"show": "unlabelled", "q": "beer"}).content.decode())
    assert 'href="/export.csv?show=unlabelled&q=beer&for=hubspot"' in page
    response = as_alice.get("/export.csv", {"show": "unlabelled", "q": "beer", "for": "hubspot"})
    assert response.status_code == 200
    assert 'filename="leads-scores-hubspot-unlabelled-' in response["Content-Disposition"]
    rows = read_csv(b"".join(response.streaming_content).decode("utf-8"))
    assert [row["Record ID"] for row in rows] == ["9001", "9003"]  # Echo Review is no beer


def test_the_crm_file_neutralises_formulas(as_alice, recorded):
    CrmRecord.objects.create(company=recorded["Copper Stouts"], crm="hubspot", record_id="=HYPERLINK(1)")
    response = as_alice.get("/export.csv", {"for": "hubspot"})
    rows = read_csv(b"".join(response.streaming_content).decode("utf-8"))
    assert "'=HYPERLINK(1)" in [row["Record ID"] for row in rows]
    assert all(not value.startswith(("=", "+", "@")) for row in rows for value in row.values())


@pytest.mark.parametrize("role, status", [("rep", 200), ("manager", 200), ("admin", 200), ("norole", 403)])
def test_the_crm_export_is_open_to_whoever_may_export(client, django_user_model, recorded, role, status):
    user = django_user_model.objects.create_user(role, f"{role}@example.com", "pw-long-enough-1")
    groups = {"rep": [roles.REP], "manager": [roles.MANAGER], "admin": [roles.ADMIN], "norole": []}[role]
    user.groups.set([Group.objects.get(name=name) for name in groups])
    client.force_login(user)
    assert client.get("/export.csv", {"for": "pipedrive"}).status_code == status


def test_the_web_export_refuses_an_unknown_crm(as_alice, recorded):
    response = as_alice.get("/export.csv", {"for": "excel"})
    assert response.status_code == 400
    assert "There is no import shape for 'excel'" in response.content.decode()


# --- naming the CRM on the preview and the command line ----------------------------------


@pytest.fixture
def manager(client, django_user_model):
    user = django_user_model.objects.create_user("mia", "mia@example.com", "mia-password-1")
    user.groups.set([Group.objects.get(name=roles.MANAGER)])
    client.force_login(user)
    return client


def test_the_preview_suggests_the_crm_of_a_crms_export(manager):
    job = uploaded_job(manager, "Record ID,Company name,Company Domain Name,About Us\n9001,Acme,acme.com,Anvils.\n")
    assert (job.crm, job.column_mapping()[0]) == ("hubspot", "crm_id")
    page = text(manager.get(f"/imports/{job.pk}/"))
    assert '<option value="hubspot" selected>HubSpot</option>' in page
    assert '<option value="crm_id" selected>CRM record id</option>' in page


def test_the_preview_asks_for_the_crms_name_and_keeps_a_typed_one(manager, fake_encoder):
    job = uploaded_job(manager, "Ref,name,website,about\nA-1,Acme,acme.com,Anvils for smiths.\n")
    refused = confirm(manager, job, **{"column-0": "crm_id", "crm": ""})
    assert refused.status_code == 400
    assert "Name the CRM the record ids come from" in text(refused)
    assert ImportJob.objects.get().state == ImportJob.State.PENDING
    done = confirm(manager, job, **{"column-0": "crm_id", "crm": "other", "crm_other": "Zoho CRM"})
    assert done.status_code == 302
    job.refresh_from_db()
    assert job.crm == "zoho-crm" and job.state != ImportJob.State.PENDING


def test_import_companies_takes_the_crm_and_its_column(tmp_path):
    path = tmp_path / "attio.csv"
    path.write_text("Ref,name,website,about\nA-1,Acme,acme.com,Anvils for smiths.\n")
    out = io.StringIO()
    call_command("import_companies", str(path), "--crm", "Attio", "--column", "crm_id=Ref", "--no-progress", stdout=out)
    assert set(CrmRecord.objects.values_list("crm", "record_id", "company__name")) == {("attio", "A-1", "Acme")}
    assert "1 new Attio record id kept." in out.getvalue()
    with pytest.raises(CommandError, match="name the CRM its record ids come from"):
        call_command("import_companies", str(path), "--column", "crm_id=Ref", "--no-progress", stdout=io.StringIO())
