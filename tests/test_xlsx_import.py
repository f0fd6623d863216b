"""Excel workbooks (.xlsx), imported end to end into the real embedded Postgres: the values a user
sees (numbers, dates, formulas), several sheets, title rows and merged header cells, rejects with
the sheet's row number, and the same companies and rejects as the equivalent CSV."""

from __future__ import annotations

import datetime

import pytest

from leads.imports import csvfiles, loading, tabular
from leads.imports import services as imports
from leads.models import Company, ImportJob
from tests.csv_helpers import (
    assert_rejected,
    co,
    companies,
    counts,
    csv_text,
    expect,
    import_bytes,
    rejected,
    write_file,
    xlsx_bytes,
)
from tests.import_helpers import text, upload

pytestmark = pytest.mark.django_db

HEADER = ["Company Name", "Website", "Description", "Sector", "Country", "Employees", "Founded", "Liked?"]
ROWS = [
    ["Acme", "https://www.acme.com/about", "Anvils, rockets and skates.", "Tools", "US", 250, 1949, "yes"],
    ["Beta Bolts", "beta.io", "Bolts for bridges.", "Hardware", "DE", 12, 2001, ""],
    ["", "nameless.example", "A row without a name.", "Retail", "FR", 3, 2019, ""],
    ["Gamma", "gamma.dev", "Data pipelines.", "Software", "GB", 40, 2015, "maybe"],
    ["Delta", "delta.io", "Deltas everywhere.", "Software", "NL", 7, 2020, "no"],
]
EXPECTED = expect(
    co(
        "Acme",
        "acme.com",
        "Anvils, rockets and skates.",
        industry="Tools",
        country="US",
        extra={"employees": "250", "founded": "1949"},
        verdict="like",
    ),
    co(
        "Beta Bolts",
        "beta.io",
        "Bolts for bridges.",
        industry="Hardware",
        country="DE",
        extra={"employees": "12", "founded": "2001"},
    ),
    co(
        "Delta",
        "delta.io",
        "Deltas everywhere.",
        industry="Software",
        country="NL",
        extra={"employees": "7", "founded": "2020"},
        verdict="dislike",
    ),
)
REJECTS = [(4, ["company name is empty"]), (5, ["label 'maybe' is not a verdict"])]


def test_a_workbook_imports_the_same_companies_and_rejects_as_the_equivalent_csv(tmp_path, alice):
    as_csv = import_bytes(tmp_path, csv_text([HEADER, *[[str(v) for v in row] for row in ROWS]]).encode(), user=alice)
    from_csv = companies()
    Company.objects.all().delete()
    job = import_bytes(tmp_path, xlsx_bytes({"Prospects": [HEADER, *ROWS]}), "prospects.xlsx", user=alice)
    assert job.encoding == tabular.XLSX
    assert companies() == from_csv == EXPECTED
    assert rejected(job) == rejected(as_csv)
    assert_rejected(job, REJECTS)
    assert counts(job) == {**counts(as_csv), "created": 3}


def test_dates_numbers_booleans_and_formulas_are_read_as_the_user_sees_them(tmp_path):
    rows = [
        ["Name", "Description", "Founded", "Revenue", "Share", "Public", "Employees", "Tagline"],
        ["Acme", "Anvils.", datetime.datetime(1949, 3, 1), 1250000.0, 0.125, True, None, None],
        ["Beta", "Bolts.", datetime.date(2001, 12, 24), 3.0, 1 / 3, False, None, None],
    ]
    formulas = {"Companies!G2": ("=10*25", 250), "Companies!H2": ('="Anvils "&"since 1949"', "Anvils since 1949")}
    import_bytes(tmp_path, xlsx_bytes({"Companies": rows}, formulas=formulas), "formulas.xlsx")
    acme = Company.objects.get(name="Acme")
    assert acme.description == "Anvils.\n\nAnvils since 1949"  # the tagline is a second description
    assert acme.extra == {
        "founded": "1949-03-01",
        "revenue": "1250000",
        "share": "0.125",
        "public": "TRUE",
        "employees": "250",
    }
    assert Company.objects.get(name="Beta").extra == {
        "founded": "2001-12-24",
        "revenue": "3",
        "share": "0.333333333333333",
        "public": "FALSE",
    }


def test_the_first_sheet_is_read_unless_another_is_chosen(tmp_path):
    sheets = {
        "Notes": [["Read me", "first"], ["This sheet", "explains the others"]],
        "Prospects": [["Name", "About"], ["Acme", "Anvils."]],
    }
    path = write_file(tmp_path, xlsx_bytes(sheets), "book.xlsx")
    with pytest.raises(csvfiles.UnreadableFile, match="No column is the description"):
        imports.run_import(imports.create_job(path=path))
    job = imports.create_job(path=path, sheet="prospects")  # case does not matter
    assert imports.sheet_names(job) == ["Notes", "Prospects"]
    assert (job.headers, job.sheet, job.delimiter) == (["Name", "About"], 1, "")
    imports.run_import(job)
    assert companies() == [co("Acme", "", "Anvils.")]


def test_choosing_another_sheet_in_the_preview_reads_its_headers_and_mapping(tmp_path):
    sheets = {
        "People": [["First Name", "Email"], ["Ann", "ann@example.com"]],
        "Companies": [["Firma", "Beschreibung"], ["Acme", "Ambosse."]],
    }
    job = imports.create_job(path=write_file(tmp_path, xlsx_bytes(sheets), "book.xlsx"))
    imports.change_sheet(job, sheet="Companies")
    job.refresh_from_db()
    assert job.column_mapping() == {0: "name", 1: "description"}
    assert imports.preview_rows(job) == [["Acme", "Ambosse."]]


def test_an_unknown_sheet_is_refused_with_the_sheets_there_are(tmp_path):
    path = write_file(tmp_path, xlsx_bytes({"A": [["name", "description"], ["x", "y"]], "B": [["x"]]}), "book.xlsx")
    with pytest.raises(csvfiles.UnreadableFile, match=r"The workbook has no sheet 'C': choose one of 'A', 'B'\."):
        imports.create_job(path=path, sheet="C")
    assert not ImportJob.objects.exists()


def test_a_title_row_and_merged_header_cells_are_read_as_a_user_sees_them(tmp_path):
    rows = [
        ["Prospects from the fair, exported 2026-11-01", None, None, None],  # merged A1:D1
        [None, None, None, None],
        ["Company", "Description", None, "Country"],  # 'Description' merged over C3:D3... over B3:C3
        ["Acme", "Anvils.", "Forged in Sheffield since 1850.", "GB"],
        ["Beta", "Bolts.", None, "DE"],
        [None, None, None, None],
        ["", "No name here.", None, "FR"],
    ]
    data = xlsx_bytes({"Fair": rows}, merged={"Fair": ["A1:D1", "B3:C3"]})
    job = import_bytes(tmp_path, data, "fair.xlsx")
    assert job.headers == ["Company", "Description", "Description", "Country"]
    assert companies() == expect(
        co("Acme", "", "Anvils.\n\nForged in Sheffield since 1850.", country="GB"),
        co("Beta", "", "Bolts.", country="DE"),
    )
    assert_rejected(job, [(7, ["company name is empty"])])  # the sheet's row number


def test_an_empty_sheet_and_a_header_without_rows_are_refused_in_one_sentence(tmp_path):
    for sheets, message in [
        ({"Empty": [[]]}, "The sheet 'Empty' is empty: it needs a header row and at least one company."),
        ({"Only": [["name", "description"]]}, "The sheet 'Only' has a header row but no companies under it"),
    ]:
        with pytest.raises(csvfiles.UnreadableFile, match=message):
            imports.create_job(path=write_file(tmp_path, xlsx_bytes(sheets), "book.xlsx"))


def test_a_first_sheet_without_companies_is_skipped_unless_it_was_chosen(tmp_path):
    sheets = {
        "Cover": [["Prospects, November"]],  # a header row and nothing under it
        "Prospects": [["Firmenname", "Unternehmensbeschreibung"], ["Acme", "Ambosse."]],
    }
    path = write_file(tmp_path, xlsx_bytes(sheets), "book.xlsx")
    job = imports.create_job(path=path)
    assert (job.sheet, job.headers) == (1, ["Firmenname", "Unternehmensbeschreibung"])  # the preview shows which
    assert job.rows_estimate == 1  # that sheet's rows, not the cover's
    imports.run_import(job)
    assert companies() == [co("Acme", "", "Ambosse.")]
    with pytest.raises(csvfiles.UnreadableFile, match="The sheet 'Cover' has a header row but no companies"):
        imports.create_job(path=path, sheet="Cover")
    nothing = write_file(tmp_path, xlsx_bytes({"A": [["x"]], "B": [[]]}), "none.xlsx")
    with pytest.raises(csvfiles.UnreadableFile, match=r"No sheet has companies on it \('A', 'B'\): The sheet 'A'"):
        imports.create_job(path=nothing)


def test_a_workbook_is_streamed_and_reports_its_rows_in_the_progress(tmp_path):
    rows = [["Name", "Website", "Description"]] + [
        [f"Company {i}", f"c{i}.example", f"Makes thing {i}."] for i in range(3000)
    ]
    job = imports.create_job(path=write_file(tmp_path, xlsx_bytes({"Big": rows}), "big.xlsx"))
    assert job.rows_estimate == 3000
    seen = []
    loading._PROGRESS_EVERY, saved = 1000, loading._PROGRESS_EVERY
    try:
        imports.run_import(job, progress=lambda j: seen.append(j.rows_read))
    finally:
        loading._PROGRESS_EVERY = saved
    assert seen == [1000, 2000, 3000]
    assert Company.objects.count() == 3000


def test_the_preview_page_offers_the_sheets_and_no_encoding(as_staff, tmp_path):
    sheets = {"Summary": [["Total", "3"], ["of", "them"]], "Leads": [["Name", "Description"], ["Acme", "Anvils."]]}
    response = upload(as_staff, xlsx_bytes(sheets), "leads.xlsx")
    job = ImportJob.objects.get()
    assert response.status_code == 302
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert '<option value="Summary" selected>Summary</option><option value="Leads">Leads</option>' in page
    assert 'name="encoding"' not in page
    as_staff.post(f"/imports/{job.pk}/", {"action": "sheet", "sheet": "Leads"})
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert '<option value="Leads" selected>Leads</option>' in page and "<td>Acme</td>" in page


def test_formulas_saved_without_their_values_are_kept_and_counted_as_unreadable(tmp_path):
    # openpyxl (and pandas through it) saves a formula without the value Excel would compute.
    rows = [
        ["Company", "Description", "Founded", "Revenue", "Employees"],
        ["Formula Co", "Makes spreadsheets", datetime.datetime(2015, 3, 1), "=1000*5", "=2+3"],
        ["Date Co", "Makes calendars", 2019, 12000000.5, 1200],
    ]
    job = import_bytes(tmp_path, xlsx_bytes({"Companies": rows}), "formulas.xlsx")
    formula_co = Company.objects.get(name="Formula Co")
    assert formula_co.extra == {"founded": "2015-03-01", "revenue": "=1000*5", "employees": "=2+3"}
    assert (formula_co.revenue, formula_co.employees, formula_co.founded) == (None, None, 2015)
    assert job.unreadable == {"employees": 1, "revenue": 1, "formulas": 2}
    assert job.unreadable_sentence.startswith("1 employees value and 1 revenue value could not be read as numbers")
    assert "2 of them are formulas without a value: the file was saved without the values of its formulas" in (
        job.unreadable_sentence
    )
    assert "open it in Excel and save it again, or export the values" in job.unreadable_sentence


def test_the_preview_counts_formulas_without_values_as_unreadable(as_staff, tmp_path):
    rows = [["Company", "Description", "Revenue"], ["Formula Co", "Makes spreadsheets", "=1000*5"]]
    job = imports.create_job(path=write_file(tmp_path, xlsx_bytes({"Companies": rows}), "f.xlsx"))
    page = as_staff.get(f"/imports/{job.pk}/").content.decode()
    assert "1 revenue value in the first 1 rows could not be read as numbers" in page
    assert "One of them is a formula without a value" in page
    assert "<td>=1000*5</td>" in page


@pytest.mark.parametrize(
    "content",
    [b"PK\x03\x04garbage", bytes(range(256)) * 8],
    ids=["a zip's start without a zip", "random bytes"],
)
def test_a_damaged_workbook_is_said_to_be_no_readable_workbook(as_staff, content):
    response = upload(as_staff, content, "broken.xlsx")
    assert response.status_code == 400
    assert "This file is not a readable Excel workbook" in text(response)
    assert "binary file" not in text(response)
    assert not ImportJob.objects.exists()
