"""Helpers shared by the CSV import tests (test_csv_encodings, test_csv_layout and
test_import_upsert): write a file, import it end to end (create_job + run_import) into
the real embedded Postgres, and compare what was stored with what was expected."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from leads.imports import csvfiles
from leads.imports import services as imports
from leads.models import FIRST_PROFILE_ID, Company, ImportJob

FIELDS = ("name", "domain", "description", "industry", "country", "extra", "verdict")


def co(name, domain="", description="", *, industry="", country="", extra=None, verdict="") -> dict:
    """One expected company."""
    return {
        "name": name,
        "domain": domain,
        "description": description,
        "industry": industry,
        "country": country,
        "extra": extra or {},
        "verdict": verdict,
    }


def companies() -> list[dict]:
    return sorted(Company.objects.in_profile(FIRST_PROFILE_ID).values(*FIELDS), key=lambda c: (c["name"], c["domain"]))


def expect(*expected: dict) -> list[dict]:
    return sorted(expected, key=lambda c: (c["name"], c["domain"]))


def counts(job: ImportJob) -> dict:
    fields = ("rows_read", "created", "updated", "unchanged", "duplicates", "rejected", "labels")
    return {f: getattr(job, f) for f in fields}


def rejected(job: ImportJob) -> list[tuple[int, str]]:
    return [(row["line"], row["reason"]) for row in job.rejected_rows]


def assert_rejected(job: ImportJob, expected: list[tuple[int, list[str]]]) -> None:
    """Exactly these lines are rejected, each with a reason holding all the given words."""
    assert [line for line, _ in rejected(job)] == [line for line, _ in expected]
    for (line, reason), (_, words) in zip(rejected(job), expected):
        for word in words:
            assert word in reason, f"line {line}: {word!r} not in {reason!r}"


def rejected_file_rows(job: ImportJob) -> list[list[str]]:
    """The rows of the rejected-rows CSV the import wrote, header first."""
    return list(csv.reader(io.StringIO(job.rejected_file.read().decode("utf-8-sig"))))


def write_file(tmp_path: Path, data: bytes, name: str = "companies.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def import_bytes(tmp_path, data: bytes, name: str = "companies.csv", user=None) -> ImportJob:
    job = imports.run_import(imports.create_job(path=write_file(tmp_path, data, name), user=user))
    assert job.state == ImportJob.State.DONE
    job.refresh_from_db()  # what was saved, not only what the object holds
    return job


def import_error(tmp_path, data: bytes) -> str:
    """The UnreadableFile message of a file refused as a whole; nothing is imported."""
    with pytest.raises(csvfiles.UnreadableFile) as refused:
        imports.run_import(imports.create_job(path=write_file(tmp_path, data, "refused.csv")))
    assert not Company.objects.exists()
    message = str(refused.value)
    # One sentence: one full stop, at the end.
    assert message.endswith(".") and message.count(". ") == 0, message
    return message


def csv_text(rows: list[list[str]], delimiter: str = ",", newline: str = "\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue()


# --- a table every encoding can hold ------------------------------------------------

# Text every encoding under test can hold, with the characters where Windows-1252
# differs from Latin-1 (€ ’ “ ” – œ) and the usual accents.
LATIN_ROWS = [
    ["name", "website", "description", "industry", "country"],
    ["Café Müller", "https://www.cafe-mueller.de/menu", "Kaffee, Kuchen & Crème brûlée – 5 € pro Stück", "Café", "DE"],
    ["O’Brien’s Pub", "http://obriens.ie", "The “best” pint in town; œuvre d’art", "Hospitality", "IE"],
    ["Señor Niño", "", "Tacos y más", "Food", "ES"],
    ["Straße Œuvre", "strasse.fr", "", "Art", "FR"],
]
LATIN_COMPANIES = expect(
    co(
        "Café Müller",
        "cafe-mueller.de",
        "Kaffee, Kuchen & Crème brûlée – 5 € pro Stück",
        industry="Café",
        country="DE",
    ),
    co("O’Brien’s Pub", "obriens.ie", "The “best” pint in town; œuvre d’art", industry="Hospitality", country="IE"),
    co("Señor Niño", "", "Tacos y más", industry="Food", country="ES"),
    co("Straße Œuvre", "strasse.fr", "", industry="Art", country="FR"),
)
# Also the base the other tests' expected counts are written against.
LATIN_COUNTS = {"rows_read": 4, "created": 4, "updated": 0, "unchanged": 0, "duplicates": 0, "rejected": 0, "labels": 0}


# --- Excel workbooks ------------------------------------------------------------------


def xlsx_bytes(sheets: dict[str, list[list]], *, merged: dict[str, list[str]] | None = None, formulas=None) -> bytes:
    """A workbook with these sheets (name -> rows, values as Excel holds them: numbers, dates, text).

    `formulas` maps "Sheet!B2" to (formula, value): openpyxl writes a formula without the value
    Excel would have saved with it, so the value is written into the file here, as Excel does."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for cells in (merged or {}).get(name, []):
            sheet.merge_cells(cells)
        for ref, (formula, _) in (formulas or {}).items():
            if ref.split("!")[0] == name:
                sheet[ref.split("!")[1]] = formula
    out = io.BytesIO()
    workbook.save(out)
    return _with_formula_values(out.getvalue(), list(sheets), formulas or {})


def _with_formula_values(data: bytes, names: list[str], formulas: dict) -> bytes:
    import re
    import zipfile
    from xml.sax.saxutils import escape

    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            for ref, (_, value) in formulas.items():
                sheet, cell = ref.split("!")
                if item.filename == f"xl/worksheets/sheet{names.index(sheet) + 1}.xml":
                    kind = "" if isinstance(value, int | float) else ' t="str"'
                    pattern = rf'<c r="{cell}"( s="\d+")?><f>(.*?)</f><v ?/>'.encode()
                    replacement = rf'<c r="{cell}"\1{kind}><f>\2</f><v>{escape(str(value))}</v>'.encode()
                    content, found = re.subn(pattern, replacement, content)
                    assert found == 1, ref
            target.writestr(item, content)
    return out.getvalue()
