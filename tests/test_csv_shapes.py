"""Every file shape the import promises to read, imported end to end (create_job +
run_import) into the real embedded Postgres: encodings, delimiters, quoting, line
ends, header aliases, extra columns, labels, duplicates, re-imports, rejected rows,
whole-file errors and an import that fails half-way."""

from __future__ import annotations

import codecs
import csv
import io
import random
import struct
import zipfile
import zlib

import pytest

from leads import csvfiles
from leads.identity import text_hash
from leads.models import Company, ImportJob, Label
from leads.services import imports

pytestmark = pytest.mark.django_db

FIELDS = ("name", "domain", "description", "industry", "country", "extra", "verdict")


# --- helpers -------------------------------------------------------------------------


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
    return sorted(Company.objects.values(*FIELDS), key=lambda c: (c["name"], c["domain"]))


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


def import_bytes(tmp_path, data: bytes, name: str = "companies.csv", user=None) -> ImportJob:
    path = tmp_path / name
    path.write_bytes(data)
    job = imports.run_import(imports.create_job(path=path, user=user))
    assert job.state == ImportJob.State.DONE
    job.refresh_from_db()  # what was saved, not only what the object holds
    return job


def import_error(tmp_path, data: bytes) -> str:
    """The UnreadableFile message of a file refused as a whole; nothing is imported."""
    path = tmp_path / "refused.csv"
    path.write_bytes(data)
    with pytest.raises(csvfiles.UnreadableFile) as refused:
        imports.run_import(imports.create_job(path=path))
    assert not Company.objects.exists()
    message = str(refused.value)
    # One sentence: one full stop, at the end.
    assert message.endswith(".") and message.count(". ") == 0, message
    return message


def csv_text(rows: list[list[str]], delimiter: str = ",", newline: str = "\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue()


# --- encodings -----------------------------------------------------------------------

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
LATIN_COUNTS = {"rows_read": 4, "created": 4, "updated": 0, "unchanged": 0, "duplicates": 0, "rejected": 0, "labels": 0}


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
    written = list(csv.reader(io.StringIO(job.rejected_file.read().decode("utf-8-sig"))))
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


# --- delimiters, quoting and line ends -----------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_each_delimiter_is_sniffed_and_values_holding_any_delimiter_survive(tmp_path, delimiter):
    rows = [
        ["name", "website", "description", "country"],
        ["Acme, Inc.", "acme.com", "Anvils, rockets; skates | traps\tand more", "US"],
        ["Semi;Colon", "semi.io", "a;b;c", "FR"],
        ["Pipe|Works", "pipe.works", "x|y", "DE"],
        ["Tab\tCo", "tab.co", 'Quote "me"', "GB"],
    ]
    job = import_bytes(tmp_path, csv_text(rows, delimiter).encode())
    assert job.delimiter == delimiter
    assert companies() == expect(
        co("Acme, Inc.", "acme.com", "Anvils, rockets; skates | traps\tand more", country="US"),
        co("Semi;Colon", "semi.io", "a;b;c", country="FR"),
        co("Pipe|Works", "pipe.works", "x|y", country="DE"),
        co("Tab\tCo", "tab.co", 'Quote "me"', country="GB"),
    )
    assert counts(job)["created"] == 4


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_quoted_fields_with_delimiters_doubled_quotes_and_newlines_keep_line_numbers_right(tmp_path, newline):
    text = (
        "name,website,description,country\n"  # line 1
        '"Acme, Inc.",acme.com,"Anvils, ""rocket"" skates\n'  # 2
        'and traps",US\n'  # 3
        'Beta,beta.io,"Line one\n'  # 4
        "\n"  # 5: blank, inside the quotes
        'line three",DE\n'  # 6
        '"Gamma ""G"" Co",,Plain,FR\n'  # 7
        ",noname.com,missing name,FR\n"  # 8
        '"Delta",delta.dev,"ends with a quote """,NL\n'  # 9
        '"Epsilon","eps.io","two\n'  # 10
        'lines",,"too","many"\n'  # 11
        "Zeta,zeta.io,Last,SE\n"  # 12
    ).replace("\n", newline)
    job = import_bytes(tmp_path, text.encode())
    assert companies() == expect(
        co("Acme, Inc.", "acme.com", f'Anvils, "rocket" skates{newline}and traps', country="US"),
        co("Beta", "beta.io", f"Line one{newline}{newline}line three", country="DE"),
        co('Gamma "G" Co', "", "Plain", country="FR"),
        co("Delta", "delta.dev", 'ends with a quote "', country="NL"),
        co("Zeta", "zeta.io", "Last", country="SE"),
    )
    assert_rejected(
        job,
        [
            (8, ["company name is empty"]),
            (10, ["6 fields but the header has 4", "quote any value that contains the delimiter"]),
        ],
    )
    assert counts(job) == {**LATIN_COUNTS, "rows_read": 7, "created": 5, "rejected": 2}


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr-old-mac"])
def test_line_ends_and_blank_lines_do_not_change_what_is_read_or_the_line_numbers(tmp_path, newline):
    lines = ["name;description;country", "Alpha;First;US", "", "Beta;Second;DE", "  ;  ;  ", ";no name;FR", "Gamma;;"]
    job = import_bytes(tmp_path, (newline.join(lines) + newline).encode())
    assert job.delimiter == ";"
    assert companies() == expect(
        co("Alpha", "", "First", country="US"), co("Beta", "", "Second", country="DE"), co("Gamma")
    )
    assert_rejected(job, [(6, ["company name is empty"])])
    assert counts(job) == {**LATIN_COUNTS, "rows_read": 4, "created": 3, "rejected": 1}


def test_a_file_without_a_final_line_end_keeps_its_last_row(tmp_path):
    job = import_bytes(tmp_path, b"name,description\r\nAlpha,First\r\nBeta,Last")
    assert companies() == expect(co("Alpha", "", "First"), co("Beta", "", "Last"))
    assert counts(job)["created"] == 2


def test_a_space_after_the_delimiter_before_a_quoted_field_is_not_part_of_it(tmp_path):
    text = 'name, website, description\nAcme, acme.com, "Anvils, rockets and ""skates"""\nBeta,  beta.io ,  Plain  \n'
    job = import_bytes(tmp_path, text.encode())
    assert companies() == expect(co("Acme", "acme.com", 'Anvils, rockets and "skates"'), co("Beta", "beta.io", "Plain"))
    assert rejected(job) == []


# --- headers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        ["Company Name", "HOMEPAGE", "About Us", "Sector", "Country"],
        ["company_name", "Web-Site", "OVERVIEW", "category", "country code"],
        ["Organisation", "Domain", "Summary", "Industry", "HQ Country"],
        ["Account Name", "URL", "company description", "vertical", "Country Name"],
        ["  Name  ", "Company Website", "Description:", "Industries", "COUNTRY"],
        ["Business-Name", "website_url", "about", "Business Type", "Headquarters Country"],
        ["ORGANIZATION NAME", "Home Page", "Profile", "SECTOR", "country"],
    ],
    ids=lambda headers: headers[0].strip(),
)
def test_header_aliases_are_matched_whatever_their_case_and_punctuation(tmp_path, headers):
    rows = [headers, ["Acme", "https://www.acme.com/", "Anvils", "Tools", "US"], ["Beta", "", "Bolts", "", "FR"]]
    job = import_bytes(tmp_path, csv_text(rows).encode())
    assert sorted(job.mapping.values()) == sorted(["name", "website", "description", "industry", "country"])
    assert companies() == expect(
        co("Acme", "acme.com", "Anvils", industry="Tools", country="US"), co("Beta", "", "Bolts", country="FR")
    )


def test_a_short_and_a_long_description_are_combined(tmp_path):
    rows = [
        ["Name", "Website", "Short Description", "Long Description", "Tagline"],
        ["Both", "both.io", "Anvils.", "Anvils, forged in Sheffield since 1850.", ""],
        ["Long only", "long.io", "", "Only the long one.", ""],
        ["Same twice", "same.io", "Same text.", "Same text.", ""],
        ["Three", "three.io", "Short.", "Long.", "Tag."],
        ["Neither", "neither.io", "", "", ""],
    ]
    job = import_bytes(tmp_path, csv_text(rows).encode())
    assert companies() == expect(
        co("Both", "both.io", "Anvils.\n\nAnvils, forged in Sheffield since 1850."),
        co("Long only", "long.io", "Only the long one."),
        co("Same twice", "same.io", "Same text."),
        co("Three", "three.io", "Short.\n\nLong.\n\nTag."),
        co("Neither", "neither.io", ""),  # a company without a description is kept
    )
    assert counts(job)["created"] == 5


def test_company_data_columns_go_to_extra_under_canonical_names_and_unknown_ones_snake_cased(tmp_path):
    rows = [
        [
            "Name",
            "Description",
            "Number of Employees",
            "Company Size",
            "Year Founded",
            "HQ City",
            "LinkedIn URL",
            "Tech Stack",
            "Specialities",
            "Funding Stage (USD)",
            "Größe",
            "名称",
            "",
            "#",
        ],
        [
            "Acme",
            "Anvils",
            "51-200",
            "Medium",
            "1850",
            "Sheffield",
            "https://linkedin.com/company/acme",
            "Python, Postgres",
            "Forging",
            "Series A",
            "groß",
            "アクメ",
            "ignored",
            "ignored too",
        ],
        ["Beta", "Bolts", "", "", "2001", "", "", "", "", "", "", "", "", ""],
    ]
    job = import_bytes(tmp_path, csv_text(rows).encode())
    assert companies() == expect(
        co(
            "Acme",
            "",
            "Anvils",
            extra={
                "employees": "51-200",
                "company_size": "Medium",
                "founded": "1850",
                "city": "Sheffield",
                "linkedin_url": "https://linkedin.com/company/acme",
                "technologies": "Python, Postgres",
                "specialties": "Forging",
                "funding_stage_usd": "Series A",
                "größe": "groß",
                "名称": "アクメ",
            },
        ),
        co("Beta", "", "Bolts", extra={"founded": "2001"}),  # empty cells are not stored
    )
    assert (job.mapping["12"], job.mapping["13"]) == ("ignore", "ignore")


# --- labels ----------------------------------------------------------------------------

LIKES = ["like", "Like", "LIKED", "yes", "Y", "1", "+1", "true", "TRUE", "t", "✓", "✔", "👍", "good", "fit"]
DISLIKES = ["dislike", "Disliked", "no", "N", "-1", "false", "FALSE", "f", "✗", "✘", "x", "X", "👎", "bad"]


def test_every_label_spelling_becomes_a_verdict_and_unknown_ones_are_rejected(tmp_path, alice):
    rows = [["name", "website", "description", "Verdict"]]
    expected = []
    for i, word in enumerate(LIKES + DISLIKES + [""]):
        verdict = "like" if word in LIKES else "dislike" if word in DISLIKES else ""
        rows.append([f"Company {i}", f"c{i}.example", f"label {word!r}", f"  {word} "])
        expected.append(co(f"Company {i}", f"c{i}.example", f"label {word!r}", verdict=verdict))
    bad = ["maybe", "0", "2", "likes", "👌"]
    rows += [[f"Bad {word}", f"bad{i}.example", "", word] for i, word in enumerate(bad)]
    job = import_bytes(tmp_path, csv_text(rows).encode(), user=alice)
    assert companies() == expect(*expected)
    first_bad = len(LIKES) + len(DISLIKES) + 3
    assert_rejected(
        job,
        [(first_bad + i, [f"label {word!r} is not a verdict", "use like or dislike"]) for i, word in enumerate(bad)],
    )
    assert job.labels == len(LIKES) + len(DISLIKES)
    assert Label.objects.filter(user=alice).count() == len(LIKES) + len(DISLIKES)


@pytest.mark.parametrize("header", ["label", "Liked?", "LIKE", "fit", "Qualified"])
def test_label_column_aliases(tmp_path, header):
    job = import_bytes(tmp_path, f"name,description,{header}\nAcme,Anvils,yes\nBeta,Bolts,no\n".encode())
    assert companies() == expect(co("Acme", "", "Anvils", verdict="like"), co("Beta", "", "Bolts", verdict="dislike"))
    assert job.labels == 2


# --- rejected rows ---------------------------------------------------------------------


def test_bad_rows_are_listed_by_line_with_what_to_fix_and_good_rows_go_in(tmp_path, settings):
    settings.IMPORT_MAX_FIELD_CHARS = 400
    long_host = ".".join(["a" * 63] * 4) + ".example"  # 263 characters
    rows = [
        ["name", "website", "description", "industry", "country", "label"],
        ["Acme", "acme.com", "Anvils à la carte", "Tools", "US", "like"],  # 2
        ["", "noname.com", "no name", "", "", ""],  # 3
        ["Long Desc", "long.io", "x" * 401, "", "", ""],  # 4
        ["N" * 301, "longname.io", "name too long", "", "", ""],  # 5
        ["Bad Label", "bad.io", "", "", "", "maybe"],  # 6
        ["Too Many", "many.io", "desc", "", "US", "", "surplus"],  # 7
        ["No Description", "nodesc.io", "", "", "", ""],  # 8
        ["Long Host", f"https://{long_host}/", "host too long", "", "", ""],  # 9
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
    written = list(csv.reader(io.StringIO(job.rejected_file.read().decode("utf-8-sig"))))
    assert written[0] == ["line", "reason", *rows[0]]
    assert [row[0] for row in written[1:]] == ["3", "4", "5", "6", "7", "9", "12"]


def test_a_website_whose_host_is_longer_than_a_domain_can_be_is_rejected_not_fatal(tmp_path):
    """Company.domain holds 255 characters: a longer host made the whole import fail."""
    host = ".".join(["a" * 63] * 4) + ".example"  # 263 characters, within the 500 a website may have
    text = f"name,website,description\nLong Host,https://{host}/about,x\nFine,fine.io,y\n"
    job = import_bytes(tmp_path, text.encode())
    assert companies() == [co("Fine", "fine.io", "y")]
    assert_rejected(job, [(2, ["host name is 263 characters long", "at most 253", "correct the website"])])


def test_a_name_that_normalises_past_the_key_limit_is_rejected_not_fatal(tmp_path):
    """'㎒' normalises to 'mhz': 300 of them made a 906-character dedupe key for a 500-character column."""
    text = f"name,description\n{'㎒' * 300},x\nFine,y\n"
    job = import_bytes(tmp_path, text.encode())
    assert companies() == [co("Fine", "", "y")]
    assert_rejected(job, [(2, ["key (the limit is 500)", "give the company's website"])])


def test_a_quote_never_closed_swallows_the_rest_and_the_reason_says_so(tmp_path, settings):
    settings.IMPORT_MAX_FIELD_CHARS = 200
    rows = "".join(f"Company {i},c{i}.io,Plain description number {i}\n" for i in range(20))
    text = f'name,website,description\nAlpha,alpha.io,Fine\nBeta,beta.io,"Unclosed quote\n{rows}'
    job = import_bytes(tmp_path, text.encode())
    assert companies() == [co("Alpha", "alpha.io", "Fine")]
    assert_rejected(job, [(3, ["characters long", "a quote that is opened and never closed"])])
    assert counts(job)["rows_read"] == 2


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
        co("SOLO", "", "Only", industry="Retail", country="de", extra={"employees": "5"}, verdict="dislike"),
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
    path = tmp_path / "header.csv"
    path.write_bytes(data)
    with pytest.raises(csvfiles.UnreadableFile, match="header row but no companies under it") as refused:
        imports.create_job(path=path)
    assert "add one row per company" in str(refused.value)
    assert not ImportJob.objects.exists() and not Company.objects.exists()


def test_a_big_file_with_only_blank_rows_is_still_refused_by_the_import(tmp_path):
    """Beyond the sniffed sample only the import can tell: the fallback check."""
    path = tmp_path / "blank.csv"
    path.write_bytes(b"name,description\n" + b",\n" * 150_000)
    job = imports.create_job(path=path)
    with pytest.raises(csvfiles.UnreadableFile, match="header row but no companies under it"):
        imports.run_import(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and "no companies" in job.error
    assert not Company.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_png(), id="png"),
        pytest.param(_xlsx_like_zip(), id="zip-xlsx"),
        pytest.param(random.Random(7).randbytes(4096), id="random-bytes"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 24 + b"\xff" * 480, id="old-xls"),
    ],
)
def test_a_binary_file_is_refused_in_one_sentence(tmp_path, data):
    message = import_error(tmp_path, data)
    assert "binary file" in message and "export it from your spreadsheet as CSV" in message


@pytest.mark.parametrize(
    "header, words",
    [
        ("website,about\n", ["No column is the company name", "'name'"]),
        ("company,website\n", ["No column is the description", "'description'"]),
        ("website,employees\n", ["No column is the company name or description"]),
    ],
)
def test_a_file_without_a_name_or_description_column_is_refused_in_one_sentence(tmp_path, header, words):
    message = import_error(tmp_path, (header + "Acme,acme.com\n").encode())
    for word in words:
        assert word in message


# --- an import that fails half-way -------------------------------------------------


def _fail_in_the_labels_step(monkeypatch):
    # After the upsert wrote every company: a real database error from the last statement.
    monkeypatch.setattr(imports, "_LABELS", "update leads_company set name = null where %(user)s is null or true")


def _fail_after_the_upsert(monkeypatch):
    original = imports._upsert

    def upsert_then_die(job):
        original(job)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(imports, "_upsert", upsert_then_die)


def _fail_on_a_row_in_the_middle(monkeypatch):
    # The database refuses one staged row half-way through COPY.
    original = imports._staging_row

    def bad_row(record):
        row = original(record)
        return ("not a line number", *row[1:]) if record.name == "Beta" else row

    monkeypatch.setattr(imports, "_staging_row", bad_row)


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
    before = list(Company.objects.values())
    labels_before = list(Label.objects.values())
    second = (
        "name,website,description,industry,employees,label\n"
        "Acme Renamed,acme.com,Rockets,Space,99,dislike\n"
        + "".join(f"Filler {i},filler{i}.io,x,,,\n" for i in range(50))
        + "Beta,beta.io,Bolts,,,like\n"
        + "".join(f"More {i},more{i}.io,y,,,\n" for i in range(50))
    )
    path = tmp_path / "second.csv"
    path.write_bytes(second.encode())
    job = imports.create_job(path=path, user=alice)
    break_import(monkeypatch)
    with pytest.raises(imports.ImportFailed, match="nothing of it was kept"):
        imports.run_import(job)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and job.finished_at is not None
    assert "nothing of it was kept" in job.error and error in job.error
    assert list(Company.objects.values()) == before  # Acme untouched, down to updated_at and verdict
    assert list(Label.objects.values()) == labels_before
    assert not Company.objects.exclude(domain="acme.com").exists()

    monkeypatch.undo()  # the cause is gone: running the job again imports all of it
    job = imports.run_import(job)
    assert job.state == ImportJob.State.DONE
    assert (job.created, job.updated, job.labels) == (101, 1, 2)
    assert Company.objects.get(domain="acme.com").verdict == "dislike"


# --- choosing another encoding in the preview ----------------------------------------


def test_choosing_a_wrong_encoding_in_the_preview_is_not_a_database_error(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "name\tdescription\nAcme\tAnvils\n".encode("utf-16-le"))
    job = imports.create_job(path=path)
    assert (job.encoding, job.headers) == ("utf-16", ["name", "description"])
    try:
        imports.change_dialect(job, encoding="utf-8", delimiter="\t")
    except csvfiles.UnreadableFile:
        return  # refusing the choice in one sentence would do as well
    job.refresh_from_db()
    assert job.encoding == "utf-8" and all("\x00" not in header for header in job.headers)
