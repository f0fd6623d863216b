"""Property tests: any company table, written the way real tools write CSV (Python's
csv.writer, any of our delimiters, line ends and encodings), imports back exactly.

Restrictions on generated values, each because the importer legitimately changes or
refuses such a value (tests/test_import_upsert.py covers what happens to them):
- values are compared after .strip(): the importer strips every cell;
- no control characters except tab, CR and LF: NUL rows are rejected, others are
  not what a spreadsheet writes;
- no U+FFFD (the importer reads it as an undecodable byte and rejects the row) and
  no U+FEFF (a byte order mark, stripped from the start of a cell);
- names are not blank: a row without a name is rejected; and names are compared after
  identity.clean_name (tests/test_identity.py): bidirectional controls and invisible
  characters at either end are dropped;
- with the LF line end, values hold no CR: Python 3.11's csv.writer only quotes a
  field holding CR when CR is part of its line terminator, so it would write a file
  no reader can split into the rows that were meant;
- Windows-1252 files hold only Windows-1252 text, and none of it may happen to be
  valid UTF-8 too (e.g. 'Ã©'): such a file is ambiguous, and the importer reads it
  as UTF-8 (a wrong UTF-8 guess rejects rows loudly, a wrong Windows-1252 guess would
  garble every accent silently); and a file that is ASCII but for one byte is read as
  UTF-8 with a stray byte (its row rejected), not as Windows-1252.
"""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from django.db import transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from leads.companies.countries import normalise_country
from leads.companies.identity import clean_name, text_hash
from leads.imports import csvdialect, csvfiles, headers
from leads.imports import services as imports
from leads.models import FIRST_PROFILE_ID, Company, ImportJob

HEADERS = {
    "name": ["name", "Company Name", "company_name", "ORGANISATION"],
    "website": ["website", "Domain", "HOMEPAGE", "url"],
    "description": ["description", "About Us", "overview", "Summary"],
    "industry": ["industry", "Sector", "category"],
    "country": ["country", "Country Code", "HQ Country"],
    "label": ["label", "Verdict", "Liked?"],
    "notes": ["Notes (internal)"],  # unknown: kept in extra as notes_internal
}
DELIMITERS = [",", ";", "\t", "|"]
NEWLINES = ["\r\n", "\n"]
ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8-sig": lambda text: text.encode("utf-8-sig"),
    "utf-16": lambda text: text.encode("utf-16"),  # with a BOM, in this machine's byte order
    "utf-16-le-bom": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16-be-bom": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "cp1252": lambda text: text.encode("cp1252"),
}
LABELS = {
    "": "",
    "like": "like",
    "Liked": "like",
    "YES": "like",
    "1": "like",
    "+1": "like",
    "true": "like",
    "dislike": "dislike",
    "Disliked": "dislike",
    "no": "dislike",
    "-1": "dislike",
    "FALSE": "dislike",
}
UNICODE_LABELS = {"✓": "like", "👍": "like", "✗": "dislike", "👎": "dislike"}
# Characters that make CSV hard, all of them Windows-1252 too.
SPECIALS = ['"', "'", ",", ";", "\t", "|", "\n", "\r\n", "\r", " ", "  ", "é", "ü", "€", "’", "“", "”", "—", "ß"]
WEBSITES = ["{h}", "www.{h}", "https://{h}", "HTTP://WWW.{H}/about?x=1", "  https://{h}/  ", "http://{h}:8080/path"]


def texts(codec: str, *, max_size: int) -> st.SearchStrategy[str]:
    chars = st.characters(codec=codec, exclude_categories=("Cs", "Cc"), exclude_characters="\ufeff\ufffd")
    return st.lists(st.one_of(chars, st.sampled_from(SPECIALS)), max_size=max_size).map("".join)


def visible_characters(codec: str) -> st.SearchStrategy[str]:
    """One character that clean_name keeps: every name has one."""
    categories = ("Cs", "Cc", "Zs", "Zl", "Zp")
    chars = st.characters(codec=codec, exclude_categories=categories, exclude_characters="\ufeff\ufffd")
    return chars.filter(clean_name)


@st.composite
def tables(draw):
    """(file bytes, encoding, delimiter, expected companies as comparable tuples)."""
    encoding = draw(st.sampled_from(sorted(ENCODINGS)))
    delimiter = draw(st.sampled_from(DELIMITERS))
    newline = draw(st.sampled_from(NEWLINES))
    codec = "cp1252" if encoding == "cp1252" else "utf-8"
    labels = LABELS if encoding == "cp1252" else LABELS | UNICODE_LABELS
    fields = list(HEADERS)
    header = [draw(st.sampled_from(HEADERS[f])) for f in fields]

    def text(max_size):
        value = draw(texts(codec, max_size=max_size))
        return value.replace("\r", "") if newline == "\n" else value

    rows, expected = [], []
    for i in range(draw(st.integers(1, 8))):
        host = f"{draw(st.from_regex(r'[a-z0-9]{1,10}', fullmatch=True))}-{i}.example"
        website = draw(st.sampled_from(WEBSITES)).format(h=host, H=host.upper())
        name = text(15) + draw(visible_characters(codec)) + text(15)
        description, industry, country, notes = text(60), text(25), text(20), text(20)
        label = draw(st.sampled_from(sorted(labels)))
        rows.append([name, website, description, industry, country, label, notes])
        extra = {"notes_internal": notes.strip()} if notes.strip() else {}
        expected.append(
            (
                clean_name(name),
                website.strip(),
                host,
                description.strip(),
                industry.strip(),
                normalise_country(country),  # 'DE' for 'de'; anything else as given
                labels[label],
                extra,
            )
        )
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    data = ENCODINGS[encoding](out.getvalue())
    if encoding == "cp1252":
        decoded = data.decode("utf-8", errors="replace")
        assume(all(ord(ch) < 128 or ch == "\ufffd" for ch in decoded))  # nothing that is valid UTF-8 too
        assume(sum(1 for byte in data if byte > 127) != 1)  # read as a UTF-8 file with one stray byte
    return data, encoding, delimiter, sorted(expected, key=repr)


def ambiguous(data: bytes, written: str) -> bool:
    """A Windows-1252 file whose only non-ASCII text is one character: the same bytes as an ASCII
    file with one stray byte, which csvdialect reads as UTF-8 (rejecting that row, loudly, with the
    preview offering Windows-1252) rather than risk garbling a UTF-8 file silently."""
    bad = data.decode("utf-8", errors="replace").count("\ufffd")
    return written == "cp1252" and 0 < bad <= csvdialect.STRAY_BYTES


def detected_encoding(data: bytes, written: str) -> str:
    if written.startswith("utf-16"):
        return "utf-16"  # every UTF-16 file here has a BOM
    if written == "cp1252" and data.isascii():
        return "utf-8"  # the same bytes
    return written


def stored() -> list[tuple]:
    fields = ("name", "website", "domain", "description", "industry", "country", "verdict", "extra")
    return sorted(Company.objects.in_profile(FIRST_PROFILE_ID).values_list(*fields), key=repr)


@pytest.mark.django_db
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables())
def test_any_company_table_imports_back_exactly(tmp_path, table):
    data, encoding, delimiter, expected = table
    assume(not ambiguous(data, encoding))
    path = tmp_path / "table.csv"
    path.write_bytes(data)
    # pytest-django's transaction is shared by every example: each one rolls its own back.
    with transaction.atomic():
        job = imports.run_import(imports.create_job(path=path))
        assert job.state == ImportJob.State.DONE
        assert job.delimiter == delimiter
        assert job.encoding == detected_encoding(data, encoding)
        assert (job.rows_read, job.created, job.rejected, job.duplicates) == (len(expected), len(expected), 0, 0)
        assert stored() == expected
        assert job.labels == sum(1 for row in expected if row[6])
        for company in Company.objects.all():
            assert company.text_hash == text_hash(company.text)
        transaction.set_rollback(True)


# --- csvfiles alone, without the database: more examples ------------------------------


def read_records(data: bytes, max_field_chars: int = 20_000) -> tuple[csvfiles.Dialect, list]:
    stream = io.BytesIO(data)
    dialect = csvfiles.sniff(stream)
    mapping = headers.suggest_mapping(dialect.headers).mapping
    records = [
        csvfiles.to_record(line, cells, dialect.headers, mapping, max_field_chars)
        for line, cells in csvfiles.read_rows(stream, dialect)
    ]
    return dialect, records


@settings(max_examples=300, deadline=None)
@given(table=tables())
def test_csvfiles_reads_back_any_company_table(table):
    data, encoding, delimiter, expected = table
    assume(not ambiguous(data, encoding))
    dialect, records = read_records(data)
    assert dialect.delimiter == delimiter
    assert dialect.encoding == detected_encoding(data, encoding)
    assert all(isinstance(r, csvfiles.Record) for r in records), records
    got = [
        (r.name, r.website, r.domain, r.description, r.industry, r.country_code, r.verdict, r.extra) for r in records
    ]
    assert sorted(got, key=repr) == expected
    assert len({r.key for r in records}) == len(records)


@st.composite
def damaged_files(draw):
    """A good file with random bytes written over, inserted into or cut from it; or any bytes at all."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=3000))
    data = bytearray(draw(tables())[0])
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "overwrite", "cut"]))
        junk = draw(st.one_of(st.binary(min_size=1, max_size=4), st.sampled_from([b"\x00", b"\xff", b'"', b"\r"])))
        if action == "insert":
            data[at:at] = junk
        elif action == "overwrite":
            data[at : at + len(junk)] = junk
        else:
            del data[at : at + len(junk)]
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(data=damaged_files())
def test_no_bytes_crash_the_reader_and_whatever_it_accepts_can_be_stored(data):
    """A whole-file refusal is an UnreadableFile; anything else comes out row by row, and
    what reaches COPY fits the columns and holds no NUL (Postgres text cannot)."""
    try:
        dialect, records = read_records(data)
    except csvfiles.UnreadableFile as refused:
        assert str(refused).endswith(".")
        return
    assert all("\x00" not in header for header in dialect.headers)
    for record in records:
        if isinstance(record, csvfiles.Rejected):
            assert record.line >= 2 and record.reason
            assert all("\x00" not in value for value in record.values)
            continue
        values = [record.name, record.website, record.description, record.industry, record.country]
        values += [*record.extra, *record.extra.values()]
        assert all("\x00" not in value and "\ufffd" not in value for value in values)
        assert record.name.strip() and record.line >= 2
        for field, limit in csvfiles.FIELD_LIMITS.items():
            assert len(getattr(record, field)) <= limit
        assert len(record.domain) <= 255 and len(record.key) <= 500
        assert record.verdict in ("", "like", "dislike")
