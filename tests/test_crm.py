"""CRM identity (#27): a CRM's own export imports with its record ids, the record id decides which
company a row is before its website does, a re-import updates the same companies, and a record id
finds its company. Through the real import service into the real embedded Postgres."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from leads.crm import columns
from leads.imports import csvfiles, headers
from leads.imports import services as imports
from leads.models import Company, CrmRecord, ImportJob
from tests.csv_helpers import csv_text, import_bytes, write_file
from tests.import_helpers import confirm, text, uploaded_job

pytestmark = pytest.mark.django_db

HUBSPOT = [
    ["Record ID", "Company name", "Company Domain Name", "Industry", "About Us", "Company owner"],
    ["9001", "Hopfield Brewery", "hopfield.com", "Food & Beverages", "Craft brewery making lager.", "ann"],
    ["9002", "Pixel Forge", "pixelforge.dev", "Software", "Developer tools for code review.", "ben"],
]
SALESFORCE = [
    ["Account ID", "Account Name", "Website", "Industry", "Description"],
    ["0015g00000XyZabAAB", "Hopfield Brewery", "hopfield.com", "Food", "Craft brewery making lager."],
    ["0015g00000XyZacAAB", "Frostline", "frostline.io", "Logistics", "Refrigerated trucks."],
]
PIPEDRIVE = [
    ["Organization - ID", "Organization - Name", "Organization - Website", "Organization - About"],
    ["17", "Pixel Forge", "pixelforge.dev", "Developer tools for code review."],
    ["18", "Frostline", "frostline.io", "Refrigerated trucks."],
]


def data(rows: list[list[str]]) -> bytes:
    return csv_text(rows).encode()


def records() -> set[tuple[str, str, str]]:
    """(crm, record id, the company's name) of every record."""
    return set(CrmRecord.objects.values_list("crm", "record_id", "company__name"))


# --- which column is the record id ------------------------------------------------------


@pytest.mark.parametrize(
    "head, rows, expected",
    [
        (HUBSPOT[0], HUBSPOT[1:], columns.Detected(0, "hubspot")),
        (SALESFORCE[0], SALESFORCE[1:], columns.Detected(0, "salesforce")),
        (PIPEDRIVE[0], PIPEDRIVE[1:], columns.Detected(0, "pipedrive")),
        # A Data Loader export: "Id" with Salesforce's own columns, or with Account ids under it.
        (["Id", "Name", "Website", "BillingCity"], [], columns.Detected(0, "salesforce")),
        (["Name", "Id", "Website"], [["Acme", "001000000000001AAA", "acme.com"]], columns.Detected(1, "salesforce")),
        # Pipedrive's newer export: "ID" beside its own columns.
        (["ID", "Name", "People", "Open deals", "Won deals"], [], columns.Detected(0, "pipedrive")),
    ],
)
def test_it_finds_the_record_id_column_of_each_crms_export(head, rows, expected):
    assert columns.detect(head, rows) == expected


def test_an_ordinary_id_column_of_any_other_vendor_is_no_crm_id():
    head = ["ID", "Name", "Website", "Description"]
    assert columns.detect(head, [["1", "Acme", "acme.com", "Anvils"], ["2", "Bolt", "bolt.io", "Bolts"]]) is None
    suggested = headers.suggest_mapping(head, [["1", "Acme", "acme.com", "Anvils"]])
    assert "crm_id" not in suggested.mapping.values() and suggested.crm == ""


def test_the_suggested_mapping_gives_the_record_id_column_and_names_the_crm():
    suggested = headers.suggest_mapping(HUBSPOT[0], HUBSPOT[1:])
    assert suggested.crm == "hubspot"
    assert suggested.mapping == {
        0: "crm_id", 1: "name", 2: "website", 3: "industry", 4: "description", 5: "extra:company_owner",
    }  # fmt: skip


# --- importing record ids ---------------------------------------------------------------


@pytest.mark.parametrize("rows, crm", [(HUBSPOT, "hubspot"), (SALESFORCE, "salesforce"), (PIPEDRIVE, "pipedrive")])
def test_a_crms_export_imports_with_its_record_ids(tmp_path, rows, crm):
    job = import_bytes(tmp_path, data(rows))
    assert (job.crm, job.created, job.crm_records) == (crm, 2, 2)
    assert records() == {(crm, row[0], row[1]) for row in rows[1:]}
    assert all("record_id" not in c.extra and "account_id" not in c.extra for c in Company.objects.all())


def test_a_reimport_with_changed_domains_and_names_updates_the_same_companies(tmp_path):
    import_bytes(tmp_path, data(HUBSPOT))
    ids = dict(Company.objects.values_list("name", "pk"))
    changed = [
        HUBSPOT[0],
        ["9001", "Hopfield Brewing Co", "hopfield-brewing.com", "Food & Beverages", "Craft brewery making lager.", ""],
        ["9002", "Pixel Forge", "pixelforge.io", "Software", "Developer tools for code review.", ""],
    ]
    job = import_bytes(tmp_path, data(changed), name="again.csv")
    assert (job.created, job.updated, job.crm_records, job.crm_conflicts) == (0, 2, 0, 0)
    now = {c.pk: (c.name, c.domain, c.dedupe_key) for c in Company.objects.all()}
    assert now == {
        ids["Hopfield Brewery"]: ("Hopfield Brewing Co", "hopfield-brewing.com", "hopfield-brewing.com"),
        ids["Pixel Forge"]: ("Pixel Forge", "pixelforge.io", "pixelforge.io"),
    }
    # The dedupe key followed the new domain: a file without record ids finds the same company.
    plain = csv_text([["name", "website", "description"], ["Pixel Forge", "pixelforge.io", "Code review tools."]])
    assert import_bytes(tmp_path, plain.encode(), name="plain.csv").created == 0
    assert Company.objects.count() == 2


def test_a_crm_export_without_descriptions_updates_companies_and_keeps_theirs(tmp_path, capsys):
    """HubSpot's default companies export has no description: its record ids decide the companies,
    which keep their descriptions; a new one comes in scored from its name (the import says so)."""
    import_bytes(tmp_path, data(HUBSPOT))
    bare = [["Record ID", "Company name", "Company Domain Name", "Industry"],
            ["9001", "Hopfield Brewing Co", "hopfield.com", "Food & Beverages"],
            ["9003", "Saltmarsh Cider", "saltmarsh.example", "Food & Beverages"]]  # fmt: skip
    job = import_bytes(tmp_path, data(bare), name="companies-export.csv")
    assert (job.created, job.updated) == (1, 1)
    hopfield = Company.objects.get(crm_records__record_id="9001")
    assert (hopfield.name, hopfield.description) == ("Hopfield Brewing Co", "Craft brewery making lager.")
    assert Company.objects.get(name="Saltmarsh Cider").description == ""
    # Without record ids the description column is still asked for: the wrong sheet is refused.
    with pytest.raises(csvfiles.UnreadableFile, match="No column is the description"):
        import_bytes(tmp_path, data([row[1:] for row in bare]), name="plain.csv")


def test_the_preview_and_the_command_say_what_an_import_without_descriptions_does(tmp_path, as_staff):
    bare = data([["Record ID", "Company name", "Company Domain Name"], ["9001", "Hopfield", "hopfield.com"]])
    job = uploaded_job(as_staff, bare, "hubspot.csv")
    page = as_staff.get(f"/imports/{job.pk}/")
    assert page.status_code == 200 and csvfiles.NO_DESCRIPTION_NOTE in text(page)
    assert confirm(as_staff, job, crm="hubspot").status_code == 302
    out = StringIO()
    call_command("import_companies", str(write_file(tmp_path, bare, "hubspot.csv")), "--dry-run", stdout=out)
    assert csvfiles.NO_DESCRIPTION_NOTE in out.getvalue()


def test_a_new_record_id_attaches_to_the_company_its_domain_finds(tmp_path):
    Company.objects.create(name="Frostline", website="frostline.io", description="Trucks.")
    job = import_bytes(tmp_path, data(SALESFORCE))
    assert (job.created, job.crm_records) == (1, 2)
    assert records() == {
        ("salesforce", "0015g00000XyZabAAB", "Hopfield Brewery"),
        ("salesforce", "0015g00000XyZacAAB", "Frostline"),
    }
    assert Company.objects.count() == 2


def test_when_a_record_id_and_a_domain_name_two_companies_the_record_id_wins_and_is_reported(tmp_path):
    import_bytes(tmp_path, data(PIPEDRIVE))
    forge, frost = Company.objects.get(name="Pixel Forge"), Company.objects.get(name="Frostline")
    # Record 17 (Pixel Forge) now with Frostline's website.
    rows = [PIPEDRIVE[0], ["17", "Pixel Forge", "frostline.io", "Developer tools for code review, now in trucks."]]
    job = import_bytes(tmp_path, data(rows), name="conflict.csv")
    assert (job.created, job.updated, job.crm_conflicts) == (0, 1, 1)
    assert job.crm_conflict_rows == [
        {"line": 2, "record_id": "17", "company": forge.pk, "company_name": "Pixel Forge",
         "other": frost.pk, "other_name": "Frostline"},
    ]  # fmt: skip
    forge.refresh_from_db()
    assert forge.description == "Developer tools for code review, now in trucks."
    assert forge.dedupe_key == "pixelforge.dev"  # Frostline keeps its key: two companies never share one
    assert "the record id decided" in job.crm_summary and "line 2" in job.crm_summary


def test_rows_of_one_unknown_record_id_make_one_company(tmp_path):
    rows = [
        HUBSPOT[0],
        ["77", "Acme", "acme.com", "", "Anvils.", ""],
        ["77", "Acme Corp", "acme.io", "", "Anvils!", ""],
    ]
    job = import_bytes(tmp_path, data(rows))
    assert (job.created, job.crm_records) == (1, 1)
    assert records() == {("hubspot", "77", "Acme Corp")}


def test_a_record_id_too_long_to_keep_is_rejected_with_its_reason_and_the_rest_goes_in(tmp_path):
    rows = [HUBSPOT[0], ["9" * 101, "Acme", "acme.com", "", "Anvils.", ""], HUBSPOT[1]]
    job = import_bytes(tmp_path, data(rows))
    assert job.rejected == 1 and job.created == 1
    assert job.rejected_rows[0]["line"] == 2
    assert "the CRM record id is 101 characters long; the limit is 100" in job.rejected_rows[0]["reason"]


def test_a_crm_id_column_needs_the_crms_name(tmp_path):
    rows = [["Ref", "name", "website", "description"], ["A-1", "Acme", "acme.com", "Anvils."]]
    job = imports.create_job(path=write_file(tmp_path, data(rows)))
    assert job.crm == ""
    with pytest.raises(csvfiles.UnreadableFile, match="name the CRM its record ids come from"):
        imports.choose_columns(job, [("crm_id", "Ref")])
    with pytest.raises(csvfiles.UnreadableFile, match="Name the CRM the record ids come from"):
        imports.choose_crm(job, "  ")
    imports.choose_crm(job, "Zoho CRM")
    imports.choose_columns(job, [("crm_id", "Ref")])
    job = imports.run_import(job)
    assert job.state == ImportJob.State.DONE
    assert records() == {("zoho-crm", "A-1", "Acme")}


def test_a_file_without_record_ids_imports_as_before(tmp_path):
    rows = [["name", "website", "description"], ["Acme", "acme.com", "Anvils."]]
    job = import_bytes(tmp_path, data(rows))
    assert (job.crm, job.created, job.crm_records) == ("", 1, 0)
    assert not CrmRecord.objects.exists()
