"""`import_companies` told which column is which (`--column`), reading a workbook's sheet
(`--sheet`), and `--dry-run`, which prints what it would do and writes nothing; the web upload
refusing an oversized file before reading its body; a stray byte in an ASCII file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from leads.models import Company, ImportJob
from tests.csv_helpers import assert_rejected, co, companies, csv_text, expect, import_bytes, write_file, xlsx_bytes

pytestmark = pytest.mark.django_db

ROWS = [
    ["Company", "Column A", "Column B", "Homepage URL", "Internal"],
    [
        "Acme",
        "Anvils and hammers for smiths and farriers.",
        "Forged in Sheffield since 1850, shipped worldwide.",
        "acme.com",
        "A-1",
    ],
    ["", "A row without a name, but with words.", "Still none, and no name either.", "nameless.example", "X-2"],
    [
        "Beta",
        "Bolts and screws for bridges and towers.",
        "Made in Hamburg by a family firm since 1921.",
        "beta.io",
        "B-3",
    ],
]


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_companies", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def media_files() -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def test_columns_named_on_the_command_line_are_used_and_several_descriptions_combined(tmp_path):
    path = write_file(tmp_path, csv_text(ROWS).encode())
    out, err = command(str(path), "--column", "description=Column A", "--column", "description=column b")
    assert companies() == expect(
        co(
            "Acme",
            "acme.com",
            "Anvils and hammers for smiths and farriers.\n\nForged in Sheffield since 1850, shipped worldwide.",
            extra={"internal": "A-1"},
        ),
        co(
            "Beta",
            "beta.io",
            "Bolts and screws for bridges and towers.\n\nMade in Hamburg by a family firm since 1921.",
            extra={"internal": "B-3"},
        ),
    )
    assert "3 rows: 2 created" in out and "line 3: the company name is empty" in err


def test_a_column_given_for_a_field_takes_it_from_the_suggested_one(tmp_path):
    rows = [["Name", "Legal name", "Description"], ["Acme", "Acme Anvils Ltd", "Anvils."]]
    command(str(write_file(tmp_path, csv_text(rows).encode())), "--column", "name=Legal name")
    assert companies() == [co("Acme Anvils Ltd", "", "Anvils.", extra={"name": "Acme"})]


@pytest.mark.parametrize(
    "column, message",
    [
        ("description=Column C", "The file has no column 'Column C': its columns are 'Company', 'Column A'"),
        ("summary=Column A", "'summary' is not a field: use one of name, website, description"),
        ("Column A", 'write it as FIELD="HEADER"'),
    ],
)
def test_a_wrong_column_choice_says_what_to_write(tmp_path, column, message):
    with pytest.raises(CommandError, match=message):
        command(str(write_file(tmp_path, csv_text(ROWS).encode())), "--column", column)
    assert not Company.objects.exists()


def test_without_a_choice_a_tie_is_refused_with_the_columns_and_how_to_choose(tmp_path):
    with pytest.raises(CommandError) as refused:
        command(str(write_file(tmp_path, csv_text(ROWS).encode())))
    assert str(refused.value) == (
        "No column is clearly the description: 'Column A' and 'Column B' could each be it; choose it on the "
        'preview page, or with --column description="Column A" on the command line.'
    )
    assert not Company.objects.exists()


def test_a_dry_run_prints_the_mapping_the_first_rows_and_the_rejects_and_writes_nothing(tmp_path):
    path = write_file(tmp_path, csv_text(ROWS).encode())
    before = media_files()
    out, err = command(str(path), "--dry-run", "--column", "description=Column B")
    assert "nothing is written" in out
    assert "  Column A -> extra:column_a\n  Column B -> description\n  Homepage URL -> website\n" in out
    assert "  line 2: Acme\n    website: acme.com\n    description: Forged in Sheffield" in out
    assert "3 rows read, 1 would be rejected." in out
    assert "line 3: the company name is empty" in err
    assert not ImportJob.objects.exists() and not Company.objects.exists()
    assert media_files() == before


def test_a_dry_run_takes_the_crm_as_the_import_does(tmp_path):
    path = write_file(tmp_path, csv_text(ROWS).encode())
    mapped = ("--column", "description=Column B", "--column", "crm_id=Internal")
    out, _ = command(str(path), "--dry-run", *mapped, "--crm", "Zoho CRM")
    assert "  Internal -> crm_id\n" in out and "CRM record ids from: Zoho crm\n" in out
    assert "    crm_id: A-1\n" in out
    with pytest.raises(CommandError, match=r"name the CRM its record ids come from .* --crm NAME"):
        command(str(path), "--dry-run", *mapped)
    hubspot = [["Record ID", "Company name", "Company Domain Name", "About"], ["4711", "Acme", "acme.com", "Anvils."]]
    out, _ = command(str(write_file(tmp_path, csv_text(hubspot).encode(), "hubspot.csv")), "--dry-run")
    assert "  Record ID -> crm_id\n" in out and "CRM record ids from: HubSpot\n" in out
    assert not ImportJob.objects.exists() and not Company.objects.exists()


def test_a_workbooks_sheet_is_chosen_with_sheet_and_a_dry_run_names_it(tmp_path):
    sheets = {"Read me": [["About", "this file"], ["x", "y"]], "Leads": ROWS}
    path = write_file(tmp_path, xlsx_bytes(sheets), "leads.xlsx")
    out, _ = command(str(path), "--dry-run", "--sheet", "Leads", "--column", "description=Column A")
    assert "(Excel workbook, sheet 'Leads')" in out and "3 rows read, 1 would be rejected." in out
    out, _ = command(str(path), "--sheet", "Leads", "--column", "description=Column A")
    job = ImportJob.objects.get()
    assert (job.created, job.rejected, job.rejected_rows[0]["line"]) == (2, 1, 3)
    with pytest.raises(CommandError, match=r"The workbook has no sheet 'Nope': choose one of 'Read me', 'Leads'\."):
        command(str(path), "--sheet", "Nope")


def test_a_sheet_given_for_a_csv_is_refused(tmp_path):
    with pytest.raises(CommandError, match="Only an Excel workbook has sheets"):
        command(str(write_file(tmp_path, csv_text(ROWS).encode())), "--sheet", "Leads")


# --- the web upload's size limit ---------------------------------------------------


class UnreadBody(io.BytesIO):
    """A request body that fails the test if anyone reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def test_an_oversized_upload_is_refused_from_its_declared_size_before_its_body_is_read(as_staff, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    size = 3 * 1024 * 1024
    response = as_staff.generic(
        "POST",
        "/imports/",
        b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(size),
        **{"wsgi.input": UnreadBody()},
    )
    assert response.status_code == 400
    assert "The file is 3.0 MB; the limit is 1 MB (IMPORT_MAX_UPLOAD_MB): split it into smaller files." in (
        response.content.decode()
    )
    assert not ImportJob.objects.exists()


# --- a stray byte -------------------------------------------------------------------


def test_an_ascii_file_with_one_stray_byte_is_read_as_utf_8_and_only_that_row_is_rejected(tmp_path):
    rows = "".join(f"Company {i},c{i}.example,Plain description {i}\n" for i in range(50))
    data = b"name,website,description\n" + rows.encode() + b"Caf\xe9 Noir,cafe.example,Coffee\n"
    job = import_bytes(tmp_path, data)
    assert job.encoding == "utf-8"
    assert_rejected(job, [(52, ["column 'name'", "not valid text"])])
    assert Company.objects.count() == 50


def test_an_upload_within_the_limit_still_needs_its_csrf_token(staff):
    from django.test import Client

    from tests.import_helpers import PROSPECTS, upload

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert upload(client, PROSPECTS).status_code == 403
    assert not ImportJob.objects.exists()
