"""What an import does with what it reads, end to end (create_job + run_import) into the
real embedded Postgres: rejected rows listed by line, duplicates merged, re-imports that
update or leave alone, whole files refused in one sentence, and an import that fails
half-way keeping all or nothing."""

from __future__ import annotations

import codecs
import io
import random
import struct
import zipfile
import zlib

import pytest

from leads.companies.identity import text_hash
from leads.imports import csvfiles, jobs, loading
from leads.imports import services as imports
from leads.models import FIRST_PROFILE_ID, Company, ImportJob, Label
from tests.csv_helpers import (
    LATIN_COMPANIES,
    LATIN_COUNTS,
    LATIN_ROWS,
    assert_rejected,
    co,
    companies,
    counts,
    csv_text,
    expect,
    import_bytes,
    import_error,
    rejected_file_rows,
    write_file,
)

pytestmark = pytest.mark.django_db

LONG_HOST = ".".join(["a" * 63] * 4) + ".example"  # 263 characters, within the 500 a website may have


# --- rejected rows ---------------------------------------------------------------------


def test_bad_rows_are_listed_by_line_with_what_to_fix_and_good_rows_go_in(tmp_path, settings):
    settings.IMPORT_MAX_FIELD_CHARS = 400
    rows = [
        ["name", "website", "description", "industry", "country", "label"],
        ["Acme", "acme.com", "Anvils à la carte", "Tools", "US", "like"],  # 2
        ["", "noname.com", "no name", "", "", ""],  # 3
        ["Long Desc", "long.io", "x" * 401, "", "", ""],  # 4
        ["N" * 301, "longname.io", "name too long", "", "", ""],  # 5
        ["Bad Label", "bad.io", "", "", "", "maybe"],  # 6
        ["Too Many", "many.io", "desc", "", "US", "", "surplus"],  # 7
        ["No Description", "nodesc.io", "", "", "", ""],  # 8
        ["Long Host", f"https://{LONG_HOST}/", "host too long", "", "", ""],  # 9
        ["Short Row", "short.io"],  # 10: fewer fields than the header is fine
        ["Trailing Empties", "trail.io", "ok", "", "", "", "", ""],  # 11: empty surplus cells are fine
        ["Ind", "ind.io", "", "I" * 201, "", ""],  # 12
    ]
    data = csv_text(rows).encode()
    data = data.replace(b"no name", b"no n\xe4me")  # a stray byte in a row that is rejected anyway
    job = import_bytes(tmp_path, data)
    assert companies() == expect(
        co("Acme", "acme.com", "Anvils à la carte", industry="Tools", country="US", verdict="like"),
        co("No Description", "nodesc.io"),
        co("Short Row", "short.io"),
        co("Trailing Empties", "trail.io", "ok"),
    )
    assert_rejected(
        job,
        [
            (3, ["not valid text"]),
            (4, ["column 'description' is 401 characters long; the limit is 400", "shorten it"]),
            (5, ["the name is 301 characters long; the limit is 300"]),
            (6, ["label 'maybe' is not a verdict"]),
            (7, ["7 fields but the header has 6"]),
            (9, ["host name is 263 characters long; a domain has at most 253"]),
            (12, ["the industry is 201 characters long; the limit is 200"]),
        ],
    )
    assert counts(job) == {**LATIN_COUNTS, "rows_read": 11, "created": 4, "rejected": 7, "labels": 1}
    written = rejected_file_rows(job)
    assert written[0] == ["line", "reason", *rows[0]]
    assert [row[0] for row in written[1:]] == ["3", "4", "5", "6", "7", "9", "12"]


@pytest.mark.parametrize(
    "text, fine, words",
    [
        # Company.domain holds 255 characters: a longer host made the whole import fail.
        pytest.param(
            f"name,website,description\nLong Host,https://{LONG_HOST}/about,x\nFine,fine.io,y\n",
            co("Fine", "fine.io", "y"),
            ["host name is 263 characters long", "at most 253", "correct the website"],
            id="website-host-longer-than-a-domain-can-be",
        ),
        # '㎒' normalises to 'mhz': 300 of them made a 906-character dedupe key for a 500-character column.
        pytest.param(
            f"name,description\n{'㎒' * 300},x\nFine,y\n",
            co("Fine", "", "y"),
            ["key (the limit is 500)", "give the company's website"],
            id="name-that-normalises-past-the-key-limit",
        ),
    ],
)
def test_a_value_too_long_for_its_column_is_rejected_not_fatal(tmp_path, text, fine, words):
    job = import_bytes(tmp_path, text.encode())
    assert companies() == [fine]
    assert_rejected(job, [(2, words)])


def test_a_quote_never_closed_rejects_its_row_and_the_rows_after_it_are_read_on_their_own(tmp_path):
    rows = "".join(f"Company {i},c{i}.io,Plain description number {i}\n" for i in range(20))
    text = f'name,website,description\nAlpha,alpha.io,Fine\nBeta,beta.io,"Unclosed quote\n{rows}'
    job = import_bytes(tmp_path, text.encode())
    assert companies() == expect(
        co("Alpha", "alpha.io", "Fine"),
        *[co(f"Company {i}", f"c{i}.io", f"Plain description number {i}") for i in range(20)],
    )
    assert_rejected(job, [(3, ['a quote (") opened in this row never closes', "close it"])])
    assert job.rejected_rows[0]["values"] == ["Beta", "beta.io", "Unclosed quote\n"]
    assert counts(job)["rows_read"] == 22


def test_a_quote_never_closed_in_the_header_refuses_the_file_in_one_sentence(tmp_path):
    message = import_error(tmp_path, b'name,"description\nAlpha,Fine\nBeta,Also fine\n')
    assert "The header row opens a quote" in message and "close the quote on line 1" in message


# --- duplicates and re-imports -----------------------------------------------------


def test_duplicates_in_a_file_merge_with_the_last_non_empty_value_winning(tmp_path):
    rows = [
        ["name", "website", "description", "industry", "country", "employees", "label"],
        ["Acme", "HTTPS://WWW.Acme.com/about?x=1", "First", "Tools", "US", "10", ""],  # 2
        ["ACME Inc", "acme.com", "", "", "", "", "like"],  # 3
        ["Acme Corp", "www.acme.com/", "Last description", "", "", "20", ""],  # 4
        ["Solo GmbH", "", "Only", "", "DE", "", ""],  # 5
        ["SOLO", "", "", "Retail", "de", "5", "dislike"],  # 6: same name key as line 5
        ["Solo", "", "In France", "", "FR", "", ""],  # 7: another country, another company
        ["Acme", "http://acme.com:8080/", "", "", "CA", "", ""],  # 8
    ]
    job = import_bytes(tmp_path, csv_text(rows).encode())
    assert companies() == expect(
        co(
            "Acme",
            "acme.com",
            "Last description",
            industry="Tools",
            country="CA",
            extra={"employees": "20"},
            verdict="like",
        ),
        co("SOLO", "", "Only", industry="Retail", country="DE", extra={"employees": "5"}, verdict="dislike"),
        co("Solo", "", "In France", country="FR"),
    )
    assert counts(job) == {**LATIN_COUNTS, "rows_read": 7, "created": 3, "duplicates": 4, "labels": 2}
    assert Company.objects.get(domain="acme.com").website == "http://acme.com:8080/"


def test_reimporting_the_same_companies_in_another_encoding_and_dialect_touches_nothing(tmp_path):
    import_bytes(tmp_path, csv_text(LATIN_ROWS).encode(), name="first.csv")
    before = dict(Company.objects.values_list("pk", "updated_at"))
    again = codecs.BOM_UTF16_LE + csv_text(LATIN_ROWS, "\t", "\r\n").encode("utf-16-le")
    job = import_bytes(tmp_path, again, name="again.txt")
    assert counts(job) == {**LATIN_COUNTS, "created": 0, "unchanged": 4}
    assert dict(Company.objects.values_list("pk", "updated_at")) == before
    assert companies() == LATIN_COMPANIES


def test_reimporting_updates_changed_fields_and_empty_cells_keep_what_was_there(tmp_path):
    first = [
        ["name", "website", "description", "industry", "country", "employees", "label"],
        ["Acme", "acme.com", "Anvils", "Tools", "US", "10", "like"],
        ["Beta", "beta.io", "Bolts", "Hardware", "DE", "5", "dislike"],
        ["Gamma", "gamma.io", "Gears", "Machines", "FR", "", ""],
    ]
    import_bytes(tmp_path, csv_text(first).encode(), name="first.csv")
    beta_before = Company.objects.get(domain="beta.io").updated_at
    second = [
        ["Company", "Domain", "About", "Sector", "Country", "Employees", "Founded", "Liked"],
        ["Acme", "acme.com", "Anvils and rockets", "", "", "", "", ""],  # description changed
        ["Beta", "beta.io", "", "", "", "", "", ""],  # nothing said: nothing changes
        ["Gamma", "https://www.gamma.io", "", "", "", "50", "1999", "yes"],  # extra added, label given
        ["Delta", "delta.io", "New", "", "NL", "", "", ""],
    ]
    job = import_bytes(tmp_path, csv_text(second).encode(), name="second.csv")
    assert counts(job) == {**LATIN_COUNTS, "rows_read": 4, "created": 1, "updated": 2, "unchanged": 1, "labels": 1}
    assert companies() == expect(
        co(
            "Acme",
            "acme.com",
            "Anvils and rockets",
            industry="Tools",
            country="US",
            extra={"employees": "10"},
            verdict="like",
        ),
        co("Beta", "beta.io", "Bolts", industry="Hardware", country="DE", extra={"employees": "5"}, verdict="dislike"),
        co(
            "Gamma",
            "gamma.io",
            "Gears",
            industry="Machines",
            country="FR",
            extra={"employees": "50", "founded": "1999"},
            verdict="like",
        ),
        co("Delta", "delta.io", "New", country="NL"),
    )
    assert Company.objects.get(domain="beta.io").updated_at == beta_before
    assert Company.objects.get(domain="gamma.io").website == "https://www.gamma.io"
    for company in Company.objects.all():
        assert company.text_hash == text_hash(company.text), company.name


# --- whole-file errors -------------------------------------------------------------


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 5)) + chunk(b"IEND", b"")
    )


def _xlsx_like_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<sheetData>" + "<row><c>Acme</c></row>" * 50 + "</sheetData>")
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b" \r\n\t\n  \n", id="whitespace"),
        pytest.param(codecs.BOM_UTF8, id="utf-8-bom-only"),
        pytest.param(" \r\n\n".encode("utf-16"), id="utf-16-whitespace"),
    ],
)
def test_an_empty_file_is_refused_in_one_sentence(tmp_path, data):
    message = import_error(tmp_path, data)
    assert "empty" in message and "header row" in message


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"name,website,description\n", id="utf-8"),
        pytest.param(b"name,website,description", id="no-line-end"),
        pytest.param(b"name;description\r\n\r\n;\r\n  \r\n", id="blank-rows-only"),
        pytest.param("name\tdescription\r\n".encode("utf-16"), id="utf-16"),
    ],
)
def test_a_header_only_file_is_refused_when_it_is_read(tmp_path, data):
    path = write_file(tmp_path, data, "header.csv")
    with pytest.raises(csvfiles.UnreadableFile, match="header row but no companies under it") as refused:
        imports.create_job(path=path)
    assert "add one row per company" in str(refused.value)
    assert not ImportJob.objects.exists() and not Company.objects.exists()


def test_a_big_file_with_only_blank_rows_is_still_refused_by_the_import(tmp_path):
    """Beyond the sniffed sample only the import can tell: the fallback check."""
    job = imports.create_job(path=write_file(tmp_path, b"name,description\n" + b",\n" * 150_000, "blank.csv"))
    with pytest.raises(csvfiles.UnreadableFile, match="header row but no companies under it"):
        imports.run_import(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and "no companies" in job.error
    assert not Company.objects.exists()


@pytest.mark.parametrize(
    "data, words",
    [
        pytest.param(_png(), ["binary file", "export it from your spreadsheet as CSV"], id="png"),
        pytest.param(_xlsx_like_zip(), ["This Excel workbook cannot be read", "save it again"], id="zip-xlsx"),
        pytest.param(
            random.Random(7).randbytes(4096),
            ["binary file", "export it from your spreadsheet as CSV"],
            id="random-bytes",
        ),
        pytest.param(
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 24 + b"\xff" * 480,
            ["old Excel .xls workbook", "save it as .xlsx or CSV"],
            id="old-xls",
        ),
    ],
)
def test_a_binary_file_is_refused_in_one_sentence(tmp_path, data, words):
    message = import_error(tmp_path, data)
    assert all(word in message for word in words), message


@pytest.mark.parametrize(
    "header, words",
    [
        ("website,about\n", ["No column is the company name", '--column name="HEADER"']),
        ("company,website\n", ["No column is the description", '--column description="HEADER"']),
        (
            "website,employees\n",
            ["No column is the company name or the description", "upload the file that lists the companies"],
        ),
    ],
)
def test_a_file_without_a_name_or_description_column_is_refused_in_one_sentence(tmp_path, header, words):
    message = import_error(tmp_path, (header + "Acme,acme.com\n").encode())
    for word in words:
        assert word in message


# --- an import that fails half-way -------------------------------------------------


def _fail_in_the_labels_step(monkeypatch):
    # After the upsert wrote every company: a real database error from the last statement.
    monkeypatch.setattr(loading, "_INCOMING_VERDICTS", "update leads_company set name = null")


def _fail_after_the_upsert(monkeypatch):
    original = loading._upsert

    def upsert_then_die(job):
        original(job)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(loading, "_upsert", upsert_then_die)


def _fail_on_a_row_in_the_middle(monkeypatch):
    # The database refuses one staged row half-way through COPY.
    original = loading._staging_row

    def bad_row(record):
        row = original(record)
        return ("not a line number", *row[1:]) if record.name == "Beta" else row

    monkeypatch.setattr(loading, "_staging_row", bad_row)


@pytest.mark.parametrize(
    "break_import, error",
    [
        pytest.param(_fail_in_the_labels_step, "IntegrityError", id="database-error-in-labels-step"),
        pytest.param(_fail_after_the_upsert, "worker killed", id="error-after-upsert"),
        pytest.param(_fail_on_a_row_in_the_middle, "COPY import_rows", id="copy-refuses-a-middle-row"),
    ],
)
def test_an_import_that_fails_half_way_leaves_all_or_nothing(tmp_path, monkeypatch, alice, break_import, error):
    first = "name,website,description,industry,employees,label\nAcme,acme.com,Anvils,Tools,10,like\n"
    import_bytes(tmp_path, first.encode(), name="first.csv", user=alice)
    before = list(Company.objects.in_profile(FIRST_PROFILE_ID).values())
    labels_before = list(Label.objects.values())
    second = (
        "name,website,description,industry,employees,label\n"
        "Acme Renamed,acme.com,Rockets,Space,99,dislike\n"
        + "".join(f"Filler {i},filler{i}.io,x,,,\n" for i in range(50))
        + "Beta,beta.io,Bolts,,,like\n"
        + "".join(f"More {i},more{i}.io,y,,,\n" for i in range(50))
    )
    job = imports.create_job(path=write_file(tmp_path, second.encode(), "second.csv"), user=alice)
    break_import(monkeypatch)
    with pytest.raises(jobs.ImportFailed, match="nothing of it was kept"):
        imports.run_import(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and job.finished_at is not None
    assert "nothing of it was kept" in job.error and error in job.error
    assert (
        list(Company.objects.in_profile(FIRST_PROFILE_ID).values()) == before
    )  # Acme untouched, down to updated_at and verdict
    assert list(Label.objects.values()) == labels_before
    assert not Company.objects.exclude(domain="acme.com").exists()

    monkeypatch.undo()  # the cause is gone: running the job again imports all of it
    job = imports.run_import(job)
    assert job.state == ImportJob.State.DONE
    assert (job.created, job.updated, job.labels) == (101, 1, 2)
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(domain="acme.com").verdict == "dislike"
