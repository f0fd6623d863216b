"""The deals preview as a sales manager uses it, and what a re-import keeps: the choices made on
the preview (stages, columns) surviving "Preview again" and reaching the import, two columns for
one field refused, amounts as CRMs write them ('€2.5k'), a re-import that writes only what its file
says, and the page's words (the fields' names, empty files, one deal). Real database."""

from __future__ import annotations

import datetime
import html
import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from leads.accounts import roles
from leads.imports.csvfiles import UnreadableFile
from leads.models import Company, CrmRecord, Outcome, OutcomeImport
from leads.outcomes import deals as deal_rows
from leads.outcomes import services as outcomes
from tests.csv_helpers import xlsx_bytes
from tests.web_helpers import in_role, logged_in

pytestmark = pytest.mark.django_db

# A HubSpot deals export, as /tmp's tester had it: a stage of the team's own and a Pipeline column.
HUBSPOT = (
    "Record ID,Deal Name,Deal Stage,Close Date,Amount,Currency,Pipeline,Associated Company IDs,Associated Company\n"
    "5000,Clarum - new deal,Closed Lost,2026-12-09 10:00,72333,USD,Sales Pipeline,900000,Clarum\n"
    "5001,Opencall - new deal,Negotiation Phase 3,2026-12-08 10:00,80157,USD,Sales Pipeline,900001,Opencall\n"
)


@pytest.fixture
def companies():
    """Clarum (HubSpot record 900000) and Opencall (900001)."""
    for name, record in (("Clarum", "900000"), ("Opencall", "900001")):
        CrmRecord.objects.create(company=Company.objects.create(name=name), crm="hubspot", record_id=record)


@pytest.fixture
def manager(bob):
    return logged_in(in_role(bob, roles.MANAGER))


def uploaded(client, content: str | bytes, name: str = "deals.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post("/outcomes/", {"file": SimpleUploadedFile(name, data), "crm": ""})


def page_form(page: str) -> dict[str, str]:
    """What the browser posts of the preview's form as shown: each select's selected option (else
    its first), each hidden input."""
    form = {}
    for name, options in re.findall(r'<select name="([^"]+)">(.*?)</select>', page, re.S):
        values = re.findall(r'<option value="([^"]*)"( selected)?', options)
        form[name] = next((v for v, chosen in values if chosen), values[0][0])
    form.update(re.findall(r'<input type="hidden" name="(stage-\d+)" value="([^"]*)"', page))
    return {k: html.unescape(v) for k, v in form.items()}


def test_a_file_of_no_known_crm_asks_which_and_preview_again_does_not_pick_one(companies, manager):
    """No CRM guessed from the headers: the select says "Choose the CRM" (it showed the first CRM
    as chosen, so "Preview again" quietly picked it and read the ids as that CRM's)."""
    uploaded(manager, "Deal,Stage,Company\nD1,won,Clarum\n")
    job = OutcomeImport.objects.get()
    assert job.crm == ""
    page = manager.get(f"/outcomes/{job.pk}/").content.decode()
    assert '<option value="" selected>Choose the CRM</option>' in page
    manager.post(f"/outcomes/{job.pk}/", {**page_form(page), "action": "preview"})  # as the browser sends it
    job.refresh_from_db()
    assert job.crm == ""
    assert "Say whose record ids the file holds." in manager.get(f"/outcomes/{job.pk}/").content.decode()


def test_a_stage_choice_is_shown_after_a_preview_and_reaches_the_import(companies, manager):
    uploaded(manager, HUBSPOT)
    job = OutcomeImport.objects.get()
    page = manager.get(f"/outcomes/{job.pk}/").content.decode()
    assert "Won 0, lost 1, open 1." in page
    manager.post(f"/outcomes/{job.pk}/", {**page_form(page), "stage-0-as": "won", "action": "preview"})
    page = manager.get(f"/outcomes/{job.pk}/").content.decode()
    assert "Won 1, lost 1, open 0." in page
    assert page_form(page)["stage-0-as"] == "won"  # the select says what the counts say
    manager.post(f"/outcomes/{job.pk}/", {**page_form(page), "action": "import"})  # as the browser sends it
    job.refresh_from_db()
    assert (job.state, job.stages) == (OutcomeImport.State.QUEUED, {"negotiation phase 3": "won"})
    outcomes.run_import(job)
    assert Outcome.objects.get(deal_id="5001").stage == "won"


def test_a_re_import_writes_what_its_file_says_and_keeps_the_rest(companies, tmp_path):
    first, second = tmp_path / "all.csv", tmp_path / "stages.csv"
    first.write_text(HUBSPOT)
    second.write_text(  # no close date, no currency, no deal name; an amount without a currency sign
        "Record ID,Deal Stage,Amount,Associated Company IDs\n5000,Closed Won,70000,900000\n5001,Closed Lost,,900001\n"
    )
    job = outcomes.create_import(path=first)
    outcomes.choose(job, stages={"Negotiation Phase 3": "won"})
    outcomes.run_import(job)
    again = outcomes.run_import(outcomes.create_import(path=second))
    assert (again.created, again.updated) == (0, 2)
    kept = Outcome.objects.order_by("deal_id").values_list(
        "deal_id", "stage", "stage_as_written", "closed_on", "amount", "currency", "deal_name")  # fmt: skip
    assert list(kept) == [
        ("5000", "won", "Closed Won", datetime.date(2026, 12, 9), Decimal("70000.00"), "USD", "Clarum - new deal"),
        ("5001", "lost", "Closed Lost", datetime.date(2026, 12, 8), None, "USD", "Opencall - new deal"),
    ]
    # Nothing the second file says differs now: unchanged, even though the first said more.
    assert outcomes.run_import(outcomes.create_import(path=second)).unchanged == 2


def test_a_re_import_without_a_stage_column_keeps_each_deals_stage(companies, tmp_path):
    first, second = tmp_path / "all.csv", tmp_path / "amounts.csv"
    first.write_text(HUBSPOT)
    second.write_text("Record ID,Amount,Associated Company IDs\n5000,EUR 10,900000\n")
    outcomes.run_import(outcomes.create_import(path=first))
    decided = Outcome.objects.get(deal_id="5000").decided_at
    outcomes.run_import(outcomes.create_import(path=second, crm="hubspot"))
    deal = Outcome.objects.get(deal_id="5000")
    assert (deal.stage, deal.decided_at, deal.amount, deal.currency) == ("lost", decided, Decimal("10.00"), "EUR")


def test_amounts_with_a_unit_are_read_as_the_company_import_reads_a_revenue():
    assert deal_rows.read_amount("€2.5k") == (Decimal("2500.00"), "EUR")
    assert deal_rows.read_amount("$1.2M") == (Decimal("1200000.00"), "USD")
    assert deal_rows.read_amount("2,5 Mio") == (Decimal("2500000.00"), "")  # 'mio' is no currency
    assert deal_rows.read_amount("1.234,50") == (Decimal("1234.50"), "")  # cents kept where there is no unit
    assert deal_rows.read_amount("EUR lots") == (None, "EUR")
    for unstorable in ("nan", "1e30", "99999999999999999999"):
        assert deal_rows.read_amount(unstorable) == (None, "")


def test_an_unreadable_amount_keeps_its_deal_and_says_so(companies, manager):
    rows = (
        "Record ID,Deal Stage,Amount,Associated Company IDs\n"
        "5000,Closed Won,€2.5k,900000\n"
        "5001,Closed Lost,about forty grand,900001\n"
    )
    uploaded(manager, rows)
    job = OutcomeImport.objects.get()
    page = html.unescape(manager.get(f"/outcomes/{job.pk}/").content.decode())
    assert "Won 1, lost 1, open 0." in page and "0 rejected" in page
    assert "line 3: the amount 'about forty grand' could not be read: the deal is kept without an amount" in page
    done = outcomes.run_import(job)
    assert (done.created, done.rejected, done.matched["amount_unread"]) == (2, 0, 1)
    assert dict(Outcome.objects.values_list("deal_id", "amount")) == {"5000": Decimal("2500.00"), "5001": None}
    assert Outcome.objects.get(deal_id="5001").stage == "lost"
    result = html.unescape(manager.get(f"/outcomes/{job.pk}/").content.decode())
    assert "1 amount could not be read: its deal was imported without an amount." in result


def test_a_re_import_keeps_an_amount_it_cannot_read(companies, tmp_path):
    first, second = tmp_path / "all.csv", tmp_path / "again.csv"
    first.write_text(HUBSPOT)
    second.write_text("Record ID,Deal Stage,Amount,Associated Company IDs\n5000,Closed Lost,soon,900000\n")
    outcomes.run_import(outcomes.create_import(path=first))
    assert outcomes.run_import(outcomes.create_import(path=second)).unchanged == 1
    assert Outcome.objects.get(deal_id="5000").amount == Decimal("72333.00")


def test_two_columns_for_one_field_are_refused_on_the_preview_naming_both(companies, manager):
    uploaded(manager, HUBSPOT)
    job = OutcomeImport.objects.get()
    form = {**page_form(manager.get(f"/outcomes/{job.pk}/").content.decode()), "column-6": "currency"}
    manager.post(f"/outcomes/{job.pk}/", {**form, "stage-0-as": "won", "action": "preview"})
    page = html.unescape(manager.get(f"/outcomes/{job.pk}/").content.decode())
    assert (
        "'Currency' (column 6) and 'Pipeline' (column 7) are both mapped to Currency, which a deal has one of: "
        "keep one and set the other to ignore." in page
    )
    shown = page_form(page)  # the manager's choices are kept, to change one
    assert (shown["column-5"], shown["column-6"], shown["stage-0-as"]) == ("currency", "currency", "won")
    manager.post(f"/outcomes/{job.pk}/", {**shown, "action": "import"})
    job.refresh_from_db()
    assert job.state == OutcomeImport.State.PENDING  # not confirmed, nothing queued
    manager.post(f"/outcomes/{job.pk}/", {**shown, "column-6": "ignore", "action": "preview"})
    assert "mapped to Currency, which" not in manager.get(f"/outcomes/{job.pk}/").content.decode()


def test_an_import_with_two_columns_for_one_field_fails_saying_which(companies, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(HUBSPOT)
    job = outcomes.create_import(path=path)
    outcomes.choose(job, columns={5: "currency", 6: "currency"})  # as two --column currency=... would
    with pytest.raises(UnreadableFile, match="'Pipeline' \\(column 7\\)"):
        outcomes.run_import(job)
    job.refresh_from_db()
    assert job.state == OutcomeImport.State.FAILED and "'Pipeline' (column 7)" in job.error
    assert not Outcome.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("deals.csv", b"", "The file is empty: it needs a header row and at least one deal."),
        ("deals.csv", b"Record ID,Deal Stage\n", "no deals under it: add one row per deal below the header."),
        ("deals.xlsx", xlsx_bytes({"Deals": [["Record ID", "Deal Stage"]]}), "add one row per deal."),
    ],
)
def test_an_empty_deals_file_asks_for_deals(manager, name, content, said):
    response = uploaded(manager, content, name)
    page = html.unescape(response.content.decode())
    assert response.status_code == 400 and said in page
    assert "compan" not in page.split('role="alert"', 1)[1].split("</p>", 1)[0]


def test_the_columns_are_offered_in_a_sales_managers_words_with_the_field_names_as_values(companies, manager):
    uploaded(manager, HUBSPOT)
    job = OutcomeImport.objects.get()
    page = html.unescape(manager.get(f"/outcomes/{job.pk}/").content.decode())
    offered = dict(re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', page.split("<h3>Columns</h3>")[1]))
    assert offered["deal_id"] == "Deal ID" and offered["record_id"] == "Company's CRM record ID"
    assert offered["closed_on"] == "Close date" and offered["is_won"].startswith("Won?")
    assert set(deal_rows.FIELDS) <= set(offered) and "deal_id</option>" not in page
    assert page_form(page)["column-0"] == "deal_id"


def test_one_deal_is_said_in_the_singular(companies, manager):
    uploaded(manager, "Record ID,Deal Stage,Associated Company IDs\n5000,Closed Won,900000\n")
    job = OutcomeImport.objects.get()
    page = manager.get(f"/outcomes/{job.pk}/").content.decode()
    assert "1 row; 1 deal matches a company:" in page and "Import 1 deal</button>" in page
    outcomes.run_import(job)
    assert "1 row, 1 new deal, 0 updated," in manager.get(f"/outcomes/{job.pk}/").content.decode()


def test_the_command_says_which_amounts_it_could_not_read(companies, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("Record ID,Deal Stage,Amount,Associated Company IDs\n5000,Closed Won,soon,900000\n")
    out = io.StringIO()
    call_command("import_outcomes", str(path), "--dry-run", stdout=out)
    assert "line 2: the amount 'soon' could not be read: the deal is kept without an amount" in out.getvalue()
    out = io.StringIO()
    call_command("import_outcomes", str(path), stdout=out)
    assert "1 amount could not be read: its deal was imported without one." in out.getvalue()


def test_the_report_says_one_deal_in_the_singular(alice):
    company = Company.objects.create(name="Clarum")
    Outcome.objects.create(company=company, crm="hubspot", deal_id="1", stage="won", matched_by="record",
                           decided_at=timezone.now())  # fmt: skip
    page = " ".join(logged_in(in_role(alice, roles.REP)).get("/outcomes/report/").content.decode().split())
    assert "0 of 1 decided deal had a band before its outcome;" in page
