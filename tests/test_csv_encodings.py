"""Every text encoding the import promises to read, imported end to end (create_job +
run_import) into the real embedded Postgres: UTF-8 with and without a BOM, UTF-16 either
way round, Windows-1252 and Latin-1; a stray byte, a broken character or a NUL costs
its row and not the file; and choosing a wrong encoding in the preview."""

from __future__ import annotations

import codecs

import pytest

from leads.imports import csvfiles
from leads.imports import services as imports
from leads.models import Company
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
    rejected,
    rejected_file_rows,
    write_file,
)

pytestmark = pytest.mark.django_db


# --- encodings -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "encode, detected",
    [
        pytest.param(lambda text: text.encode("utf-8"), "utf-8", id="utf-8"),
        pytest.param(lambda text: text.encode("utf-8-sig"), "utf-8-sig", id="utf-8-bom"),
        pytest.param(lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "utf-16", id="utf-16-le-bom"),
        pytest.param(lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "utf-16", id="utf-16-be-bom"),
        pytest.param(lambda text: text.encode("utf-16-le"), "utf-16-le", id="utf-16-le-no-bom"),
        pytest.param(lambda text: text.encode("utf-16-be"), "utf-16-be", id="utf-16-be-no-bom"),
        pytest.param(lambda text: text.encode("cp1252"), "cp1252", id="windows-1252"),
    ],
)
def test_each_encoding_is_detected_and_read_exactly(tmp_path, encode, detected):
    job = import_bytes(tmp_path, encode(csv_text(LATIN_ROWS)))
    assert job.encoding == detected
    assert companies() == LATIN_COMPANIES
    assert counts(job) == LATIN_COUNTS
    assert rejected(job) == []


def test_windows_1252_characters_that_latin_1_lacks_are_read_as_windows_writes_them(tmp_path):
    # 0x80 0x92 0x93 0x94 0x96 0x9c: control characters in Latin-1, € ’ “ ” – œ in Windows-1252.
    data = b"name,description\nEuro Shop,\x80 5 \x92n \x93quotes\x94 \x96 \x9cuvre\n"
    job = import_bytes(tmp_path, data)
    assert job.encoding == "cp1252"
    assert companies() == [co("Euro Shop", "", "€ 5 ’n “quotes” – œuvre")]


def test_a_latin_1_file_is_read_exactly(tmp_path):
    text = "name,description,country\nSmørrebrød ÅB,Dänisch; très «bon» ½ ¿sí? ÿ,DK\nÇa Va,Garçon,FR\n"
    job = import_bytes(tmp_path, text.encode("latin-1"))
    assert job.encoding == "cp1252"  # the same as Latin-1 for every byte Latin-1 files use
    assert companies() == expect(
        co("Smørrebrød ÅB", "", "Dänisch; très «bon» ½ ¿sí? ÿ", country="DK"),
        co("Ça Va", "", "Garçon", country="FR"),
    )
    assert counts(job)["created"] == 2


def test_the_five_bytes_windows_1252_leaves_undefined_do_not_lose_the_row(tmp_path):
    data = b"name,description\nCaf\xe9 \x81,Odd \x8d\x8f\x90\x9d bytes\n"
    job = import_bytes(tmp_path, data)
    assert job.encoding == "cp1252"
    assert companies() == [co("Café \x81", "", "Odd \x8d\x8f\x90\x9d bytes")]
    assert rejected(job) == []


def test_excel_unicode_text_utf_16_le_tab_crlf_is_read(tmp_path):
    text = 'Company\tWebsite\tAbout\r\n東京 Robotics\ttokyo-robotics.jp\t産業用ロボット, "arms"\r\nZürich AG\tzuerich.ch\t🚀 Raketen\r\n'
    job = import_bytes(tmp_path, codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert (job.encoding, job.delimiter) == ("utf-16", "\t")
    assert companies() == expect(
        co("東京 Robotics", "tokyo-robotics.jp", '産業用ロボット, "arms"'),
        co("Zürich AG", "zuerich.ch", "🚀 Raketen"),
    )


def test_a_stray_invalid_byte_in_a_utf_8_file_rejects_only_its_row(tmp_path):
    data = (
        "name,description,country\nCafé Müller,Crème brûlée,DE\n".encode()
        + b"Bad \xff Byte,Caf\xe9 from a Windows paste,FR\n"
        + "Señor Niño,Tacos y más,ES\nØrsted,Vindmøller,DK\n".encode()
    )
    job = import_bytes(tmp_path, data)
    assert job.encoding == "utf-8"
    assert companies() == expect(
        co("Café Müller", "", "Crème brûlée", country="DE"),
        co("Señor Niño", "", "Tacos y más", country="ES"),
        co("Ørsted", "", "Vindmøller", country="DK"),
    )
    assert_rejected(job, [(3, ["column 'name'", "not valid text", "re-save the file as UTF-8"])])
    assert counts(job) == {**LATIN_COUNTS, "created": 3, "rejected": 1}


def test_a_broken_character_in_a_utf_16_file_rejects_only_its_row(tmp_path):
    good = "name\tdescription\nAlpha\tFirst\n".encode("utf-16-le")
    broken = "Beta\tbad ".encode("utf-16-le") + b"\x00\xd8" + " surrogate\n".encode("utf-16-le")  # a lone surrogate
    rest = "Gamma\tThird\n".encode("utf-16-le")
    job = import_bytes(tmp_path, codecs.BOM_UTF16_LE + good + broken + rest)
    assert companies() == expect(co("Alpha", "", "First"), co("Gamma", "", "Third"))
    assert_rejected(job, [(3, ["column 'description'", "not valid text"])])


def test_a_nul_character_rejects_its_row_and_not_the_file(tmp_path):
    data = b"name,description,country\nAlpha,First,US\nBeta,has a \x00 zero byte,DE\nGamma,Third,FR\n"
    job = import_bytes(tmp_path, data)
    assert companies() == expect(co("Alpha", "", "First", country="US"), co("Gamma", "", "Third", country="FR"))
    assert_rejected(job, [(3, ["column 'description'", "NUL character", "re-save the file as CSV"])])
    # The rejected row is stored (jsonb) and written out without the NUL, which neither can hold.
    assert job.rejected_rows[0]["values"] == ["Beta", "has a  zero byte", "DE"]
    written = rejected_file_rows(job)
    assert written[1][0] == "3" and written[1][2:] == ["Beta", "has a  zero byte", "DE"]


def test_a_nul_character_far_beyond_the_sniffed_sample_rejects_its_row(tmp_path):
    """It used to reach COPY, which refused it, and the whole import failed."""
    rows = [f"Company {i:05},company{i:05}.example,{'Long description of what it does. ' * 3}\n" for i in range(4000)]
    bad = 3500
    rows[bad] = f"Company {bad:05},company{bad:05}.example,nul \x00 here\n"
    data = ("name,website,description\n" + "".join(rows)).encode()
    assert data.index(b"\x00") > 256 * 1024
    job = import_bytes(tmp_path, data)
    assert_rejected(job, [(bad + 2, ["column 'description'", "NUL character"])])
    assert counts(job) == {**LATIN_COUNTS, "rows_read": 4000, "created": 3999, "rejected": 1}
    assert set(Company.objects.values_list("domain", flat=True)) == {
        f"company{i:05}.example" for i in range(4000) if i != bad
    }


# --- choosing another encoding in the preview ----------------------------------------


def test_choosing_a_wrong_encoding_in_the_preview_is_not_a_database_error(tmp_path):
    data = codecs.BOM_UTF16_LE + "name\tdescription\nAcme\tAnvils\n".encode("utf-16-le")
    job = imports.create_job(path=write_file(tmp_path, data, "unicode.txt"))
    assert (job.encoding, job.headers) == ("utf-16", ["name", "description"])
    try:
        imports.change_dialect(job, encoding="utf-8", delimiter="\t")
    except csvfiles.UnreadableFile:
        return  # refusing the choice in one sentence would do as well
    job.refresh_from_db()
    assert job.encoding == "utf-8" and all("\x00" not in header for header in job.headers)
