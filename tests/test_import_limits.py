"""Hostile and oversized files at the import pages: a workbook that unpacks too big (a shared-strings
bomb), holds too many texts, has malformed XML, entities, an external reference or no sheet, and a
CSV with too many columns. Each is refused with one sentence and a 400, never a 500; a job already
made keeps its file; the preview reads a workbook once a request and stays bounded in size.

The hostile workbooks are built here: a small real workbook with one part swapped."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

import pytest
from openpyxl.utils import get_column_letter

from leads.imports import csvdialect, xlsxfiles
from leads.models import ImportJob
from tests.import_helpers import confirm, text, upload, uploaded_job

pytestmark = pytest.mark.django_db

ROWS = [["Name", "Description"], ["Acme", "Anvils."], ["Beta", "Bolts."]]
STRINGS_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
REAL_STRINGS = b"".join(b"<si><t>%s</t></si>" % s.encode() for row in ROWS for s in row)
CANNOT_READ = "This Excel workbook cannot be read ({}): open it in Excel and save it again."


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SPREADSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def workbook(rows=ROWS, parts: dict[str, bytes] | None = None) -> bytes:
    """A minimal workbook of `rows`, every text in its shared-string table as Excel writes it, with
    parts replaced: {"xl/sharedStrings.xml": ...}."""
    index = {text: i for i, text in enumerate(dict.fromkeys(str(v) for row in rows for v in row if v is not None))}
    cells = [
        "".join(
            f'<c r="{get_column_letter(c)}{r}" t="s"><v>{index[str(v)]}</v></c>'
            for c, v in enumerate(row, start=1)
            if v is not None
        )
        for r, row in enumerate(rows, start=1)
    ]
    package = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{SPREADSHEET}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{SPREADSHEET}.worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SPREADSHEET}.sharedStrings+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" Target="xl/workbook.xml" '
        f'Type="{DOC_RELS}/officeDocument"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{DOC_RELS}"><sheets>'
        '<sheet name="Companies" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="{DOC_RELS}/worksheet"/>'
        f'<Relationship Id="rId2" Target="sharedStrings.xml" Type="{DOC_RELS}/sharedStrings"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{MAIN}"><sheetData>'
        + "".join(f'<row r="{r}">{row}</row>' for r, row in enumerate(cells, start=1))
        + "</sheetData></worksheet>",
        "xl/sharedStrings.xml": f'<sst xmlns="{MAIN}">'
        + "".join(f"<si><t>{escape(t)}</t></si>" for t in index)
        + "</sst>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in package.items():
            archive.writestr(name, (parts or {}).get(name, data.encode() if isinstance(data, str) else data))
    return out.getvalue()


def strings(body: bytes, doctype: bytes = b"") -> bytes:
    return STRINGS_HEAD + doctype + SST + body + b"</sst>"


def refused(client, data: bytes, message: str) -> None:
    response = upload(client, data, "companies.xlsx")
    assert response.status_code == 400, text(response)
    assert f'<p class="error" role="alert">{message}</p>' in text(response)
    assert not ImportJob.objects.exists()


def test_a_good_workbook_built_here_is_accepted(as_staff):
    job = uploaded_job(as_staff, workbook(parts={"xl/sharedStrings.xml": strings(REAL_STRINGS)}), "companies.xlsx")
    assert job.headers == ["Name", "Description"]


def test_a_shared_strings_bomb_is_refused_before_it_is_unpacked(as_staff):
    # 4.8 MB of strings packed into a few kB: the bomb (120 MB from 354 kB), smaller.
    bomb = workbook(parts={"xl/sharedStrings.xml": strings(REAL_STRINGS + b"<si><t>x</t></si>" * 300_000)})
    assert len(bomb) < 50_000
    refused(
        as_staff,
        bomb,
        "This Excel workbook's xl/sharedStrings.xml unpacks more than 100-fold, as no real workbook does: "
        "open it in Excel and save it again, or save it as CSV and upload that.",
    )


def test_a_workbook_unpacking_past_the_limit_is_refused(as_staff, monkeypatch):
    # A real 1 GB workbook would make the suite slow: the bound is lowered instead.
    monkeypatch.setattr(xlsxfiles, "MAX_UNPACKED_BYTES", 2 * 2**20)
    data = workbook([["Name", "Description"], *[[f"Company {i}", f"Makes thing {i}."] for i in range(40_000)]])
    refused(
        as_staff,
        data,
        "This Excel workbook unpacks to 6 MB; the limit is 2 MB: split it into smaller workbooks, "
        "or save it as CSV and upload that.",
    )


def test_a_workbook_with_too_many_texts_is_refused(as_staff, monkeypatch):
    monkeypatch.setattr(xlsxfiles, "MAX_SHARED_STRINGS", 10)
    many = REAL_STRINGS + b"".join(b"<si><t>Text %d</t></si>" % i for i in range(5))
    refused(
        as_staff,
        workbook(parts={"xl/sharedStrings.xml": strings(many)}),
        "This Excel workbook holds more than 10 different texts (the limit): split it into smaller workbooks, "
        "or save it as CSV and upload that.",
    )


LAUGHS = (
    b'<!DOCTYPE sst [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
)
EXTERNAL = b'<!DOCTYPE sst [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize(
    "part, error",
    [
        (strings(REAL_STRINGS[:-10]), "ParseError"),  # cut short: malformed
        (strings(REAL_STRINGS + b"<si><t>&c;</t></si>", LAUGHS), "EntitiesForbidden"),
        (strings(REAL_STRINGS + b"<si><t>&secret;</t></si>", EXTERNAL), "EntitiesForbidden"),
    ],
    ids=["malformed", "billion-laughs", "external-entity"],
)
def test_hostile_or_broken_xml_is_refused_in_one_sentence(as_staff, part, error):
    refused(as_staff, workbook(parts={"xl/sharedStrings.xml": part}), CANNOT_READ.format(error))


def test_a_broken_sheet_is_refused_in_one_sentence(as_staff):
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
    refused(as_staff, workbook(parts={"xl/worksheets/sheet1.xml": sheet}), CANNOT_READ.format("ParseError"))


def test_a_workbook_without_sheets_is_refused_in_one_sentence(as_staff):
    book = (
        b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets/></workbook>'
    )
    refused(
        as_staff,
        workbook(parts={"xl/workbook.xml": book}),
        "The workbook has no sheets: open it in Excel, put the companies on a sheet and save it.",
    )


def test_a_kept_workbook_that_turns_out_unreadable_is_said_so_and_kept(as_staff, monkeypatch):
    job = uploaded_job(as_staff, workbook(), "companies.xlsx")
    monkeypatch.setattr(xlsxfiles, "MAX_SHARED_STRINGS", 2)  # a bound lowered after the upload
    response = as_staff.get(f"/imports/{job.pk}/")
    assert response.status_code == 400
    assert "This Excel workbook holds more than 2 different texts (the limit)" in text(response)
    job.refresh_from_db()
    assert job.file and job.state == ImportJob.State.PENDING


def test_the_preview_reads_a_workbook_once_a_request(as_staff, monkeypatch):
    # No column is the description, so the page says which could be: from the same reading.
    rows = [["Name", "About", "Pitch"], ["Acme", "Anvils for all.", "Cheap anvils."]]
    job = uploaded_job(as_staff, workbook(rows), "companies.xlsx")
    opened = []
    real_open = xlsxfiles.open_workbook
    monkeypatch.setattr(xlsxfiles, "open_workbook", lambda stream: opened.append(1) or real_open(stream))
    page = as_staff.get(f"/imports/{job.pk}/")
    assert page.status_code == 200 and "<td>Acme</td>" in text(page)
    assert len(opened) == 1
    response = confirm(as_staff, job, **{"column-1": "ignore", "column-2": "ignore"})
    assert response.status_code == 400
    assert "No column is the description" in text(response)
    assert len(opened) == 2


def csv_of_width(columns: int) -> str:
    return ",".join(["name", "description", *[f"c{i}" for i in range(columns - 2)]]) + "\nAcme,Anvils.\n"


def test_a_csv_with_too_many_columns_is_refused_in_one_sentence(as_staff):
    response = upload(as_staff, csv_of_width(csvdialect.MAX_COLUMNS + 1))
    assert response.status_code == 400
    assert (
        '<p class="error" role="alert">The header row has more than 500 columns (the limit): '
        "delete the columns you do not need, or split them into several files.</p>"
    ) in text(response)
    assert not ImportJob.objects.exists()
    assert upload(as_staff, csv_of_width(csvdialect.MAX_COLUMNS)).status_code == 302


def test_a_header_cut_short_by_the_sample_is_refused_too(as_staff):
    # 100,000 columns: the header row alone is longer than the bytes sniffed.
    response = upload(as_staff, csv_of_width(100_000))
    assert response.status_code == 400
    assert "The header row has more than 500 columns (the limit)" in text(response)


def test_a_workbook_with_too_many_columns_is_refused_and_blank_cells_right_of_it_are_not_columns(as_staff):
    wide = [[f"c{i}" for i in range(501)], ["x"] * 501]
    response = upload(as_staff, workbook(wide), "wide.xlsx")
    assert response.status_code == 400
    assert "The header row has more than 500 columns (the limit)" in text(response)
    padded = [[*row, *[None] * 600, ""] for row in ROWS]  # a formatted empty cell far right
    job = uploaded_job(as_staff, workbook(padded), "padded.xlsx")
    assert job.headers == ["Name", "Description"]


def test_the_preview_shows_no_more_cells_than_the_header_has(as_staff):
    content = "name,description\n" + "Acme,Anvils," + ",".join(["extra"] * 20_000) + "\n"
    job = uploaded_job(as_staff, content)
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert page.count("<td>extra</td>") == 0 and "<td>Anvils</td>" in page
