"""Careless or hostile input to the import: an encoding chosen on the preview page that cannot
read the file, formula cells in the rejected-rows CSV, control characters echoed to the
terminal, and websites and names that are not what they claim to be.

Real database throughout, as in test_import_upload and test_csv_*."""

from __future__ import annotations

import html
import re
import unicodedata

import pytest
from django.core.management import CommandError, call_command

from leads.imports import services as imports
from leads.models import Company, ImportJob
from tests.csv_helpers import assert_rejected, co, companies, csv_text, expect, import_bytes, rejected_file_rows
from tests.import_helpers import text, uploaded_job

pytestmark = pytest.mark.django_db

ROWS = "name,description\nAcme,Anvils\nBeta,Bolts and nuts\n"
FILES = {
    "utf-8 with an odd number of bytes": ROWS.encode(),
    "utf-8 with an even number of bytes": (ROWS + "Gamma,Gears\n").encode(),
    "cp1252": "name,description\nCafé Crème,Coffee à la française\n".encode("cp1252"),
    "utf-16 with a byte order mark": ROWS.encode("utf-16"),
    "utf-16-le without a byte order mark": ROWS.encode("utf-16-le"),
    "utf-8 larger than the sniffed sample": ("name,description\n" + "Acme,Anvils\n" * 30_000).encode(),
}


def reread(client, job: ImportJob, encoding: str, delimiter: str = ","):
    return client.post(f"/imports/{job.pk}/", {"action": "reread", "encoding": encoding, "delimiter": delimiter})


def alert(response) -> str:
    """The page's one error message."""
    (message,) = re.findall(r'<p class="error" role="alert">([^<]*)</p>', response.content.decode())
    return html.unescape(message)


# --- reading again with an encoding that cannot read the file ----------------------------


@pytest.mark.parametrize(
    "content, encoding, words",
    [
        # Python's utf-16 stream reader raised 'UTF-16 stream does not start with BOM': HTTP 500.
        (FILES["utf-8 with an odd number of bytes"], "utf-16", ["no byte order mark", "it looks like utf-8"]),
        (FILES["utf-8 with an even number of bytes"], "utf-16", ["no byte order mark", "it looks like utf-8"]),
        (FILES["utf-16-le without a byte order mark"], "utf-16", ["no byte order mark", "it looks like utf-16-le"]),
        (FILES["cp1252"], "utf-16", ["no byte order mark", "it looks like cp1252"]),
        # Decodable, but each line break byte pairs with its neighbour: the whole file became one header.
        (FILES["utf-8 with an odd number of bytes"], "utf-16-le", ["Read as utf-16-le", "no line breaks"]),
        (FILES["utf-8 larger than the sniffed sample"], "utf-16-be", ["Read as utf-16-be", "no line breaks"]),
        (FILES["utf-16 with a byte order mark"], "utf-16-be", ["Read as utf-16-be", "no line breaks"]),
        (FILES["utf-16 with a byte order mark"], "utf-8", ["Read as utf-8", "not text", "it looks like utf-16"]),
    ],
)
def test_it_refuses_an_encoding_that_cannot_read_the_file_and_keeps_the_upload(as_staff, content, encoding, words):
    job = uploaded_job(as_staff, content)
    before = (job.encoding, job.delimiter, job.headers, job.mapping, job.rows_estimate)
    response = reread(as_staff, job, encoding)
    assert response.status_code == 400
    message = alert(response)
    for word in words:
        assert word in message, message
    assert "choose another encoding" in message
    assert message.endswith(".") and message.count(". ") == 0, message  # one sentence
    job.refresh_from_db()
    assert (job.encoding, job.delimiter, job.headers, job.mapping, job.rows_estimate) == before
    assert job.state == ImportJob.State.PENDING
    preview = as_staff.get(f"/imports/{job.pk}/")
    assert preview.status_code == 200
    assert "<td>Acme</td>" in text(preview) or "<td>Café Crème</td>" in text(preview)


@pytest.mark.parametrize("name", sorted(FILES))
def test_it_never_fails_to_show_the_preview_whatever_encoding_is_chosen(as_staff, name):
    job = uploaded_job(as_staff, FILES[name])
    detected = job.encoding
    for encoding in imports.ENCODINGS:
        response = reread(as_staff, job, encoding)
        assert response.status_code in (302, 400), (encoding, response.status_code)
        if response.status_code == 400:
            assert "choose another encoding" in alert(response), encoding
        assert as_staff.get(f"/imports/{job.pk}/").status_code == 200, encoding
    assert reread(as_staff, job, detected).status_code == 302  # and back to what was detected
    job.refresh_from_db()
    assert job.headers == ["name", "description"]


def test_it_still_reads_a_utf_16_file_again_with_its_own_encoding(as_staff):
    job = uploaded_job(as_staff, FILES["utf-16-le without a byte order mark"])
    assert job.encoding == "utf-16-le"
    assert reread(as_staff, job, "utf-16-le", ";").status_code == 302
    assert reread(as_staff, job, "utf-16-le", ",").status_code == 302
    job.refresh_from_db()
    assert (job.encoding, job.headers) == ("utf-16-le", ["name", "description"])


# --- the rejected-rows CSV ---------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"]


def test_it_neutralises_formula_cells_in_the_rejected_rows_csv_as_the_export_does(tmp_path):
    rows = [
        ["name", "description", "=cmd|' /C calc'!A0", "notes"],
        ["Acme", "Anvils", "fine", "fine"],  # 2
        ["", *FORMULAS[:3]],  # 3: no name
        ["", *FORMULAS[3:]],  # 4: no name
    ]
    job = import_bytes(tmp_path, csv_text(rows, newline="\r\n").encode())  # CRLF: the writer quotes a CR
    assert_rejected(job, [(3, ["name is empty"]), (4, ["name is empty"])])
    assert rejected_file_rows(job) == [
        ["line", "reason", "name", "description", "'=cmd|' /C calc'!A0", "notes"],
        ["3", "the company name is empty: every row needs a name", "", *("'" + f for f in FORMULAS[:3])],
        ["4", "the company name is empty: every row needs a name", "", *("'" + f for f in FORMULAS[3:])],
    ]
    assert job.rejected_rows[1]["values"] == ["", *FORMULAS[3:]]  # the page shows them as they were


# --- the import_companies command ----------------------------------------------------------

HOSTILE_HEADER = "notes\x1b]0;pwned\x07"


def _is_raw_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" and ch != "\n" or ch in "\u202e\u2066\u2028"


def test_it_never_prints_control_characters_from_the_file_on_the_terminal(tmp_path, capsys):
    path = tmp_path / "evil\x1b[2J\u202e.csv"
    rows = [
        ["name", "description", "label", HOSTILE_HEADER],
        ["Acme", "Anvils " * 100, "like", "fine"],  # long enough for a few control characters to be stray ones
        ["Beta\r", "Bolts", "\x1b[31mmaybe", "x"],  # label echoed in the reason
        ["Gamma", "Gears", "", "bad\x00"],  # line 5 (the CR in line 3 counts): header echoed in the reason
    ]
    path.write_bytes(csv_text(rows, newline="\r\n").encode())
    call_command("import_companies", str(path), "--no-progress")
    out, err = capsys.readouterr()
    assert not [ch for ch in out + err if _is_raw_control(ch)], out + err
    assert "Import #" in out and "evil\\x1b[2J\\u202e.csv (utf-8, comma)" in out
    assert "3 rows: 1 created" in out
    assert "line 3: label '\\x1b[31mmaybe' is not a verdict" in err
    assert "line 5: column 'notes\\x1b]0;pwned\\x07' contains a NUL character" in err


def test_it_escapes_control_characters_in_the_commands_errors(tmp_path):
    with pytest.raises(CommandError) as missing:
        call_command("import_companies", str(tmp_path / "gone\x1b[2J.csv"), "--no-progress")
    assert "gone\\x1b[2J.csv: no such file" in str(missing.value)
    assert not [ch for ch in str(missing.value) if _is_raw_control(ch)]


# --- websites and names --------------------------------------------------------------------

BAD_WEBSITES = [
    ("not a website", "is not a web address"),
    ("javascript:alert(1)", "is not a web address"),
    ("foo bar.com", "is not a web address"),
    ("bob@acme.com", "is an email address"),
    ("mailto:bob@acme.com", "is not a web address"),
    ("ftp://files.acme.com", "is not a web address"),
    ("https://acme.com:evil/", "is not a web address"),
]


def test_it_rejects_a_website_that_is_not_a_host_name_with_its_line_and_what_to_fix(tmp_path):
    rows = [["name", "website", "description"], ["Good", "https://www.good.example/about", "fine"]]
    rows += [[f"Bad {i}", website, "x"] for i, (website, _) in enumerate(BAD_WEBSITES)]
    rows += [["No Site", "n/a", "a placeholder means no website"], ["Empty Site", "", "y"]]
    rows += [["Bare Site", "http://", "a bare scheme is no website either"]]
    job = import_bytes(tmp_path, csv_text(rows).encode())
    assert_rejected(
        job,
        [
            (3 + i, [f"the website {website!r} {why}", "such as example.com"])
            for i, (website, why) in enumerate(BAD_WEBSITES)
        ],
    )
    for row in job.rejected_rows:
        assert row["reason"].count(". ") == 0 and not row["reason"].endswith(".")  # one sentence, like the others
    assert companies() == expect(
        co("Good", "good.example", "fine"),
        co("No Site", "", "a placeholder means no website"),
        co("Empty Site", "", "y"),
        co("Bare Site", "", "a bare scheme is no website either"),
    )


INVISIBLE_NAMES = ["\u200b", "\ufeff\u200b\u200c", "\x1b\x07", " \u00a0\u3000 ", "\u202e\u2066", "\u3164", "\t\u2028"]


def test_it_rejects_a_name_made_only_of_invisible_characters_like_an_empty_name(tmp_path):
    rows = [["name", "description"], ["Acme", "Anvils " * 100]] + [[name, "ghost"] for name in INVISIBLE_NAMES]
    job = import_bytes(tmp_path, csv_text(rows).encode())
    assert_rejected(job, [(3 + i, ["the company name is empty"]) for i in range(len(INVISIBLE_NAMES))])
    assert list(Company.objects.values_list("name", flat=True)) == ["Acme"]


def test_it_strips_bidirectional_controls_from_names(tmp_path):
    rows = [
        ["name", "description"],
        ["Acme\u202e gnp.exe", "reversed"],
        ["\u2066Beta\u2069 \u200fBolts\u200e", "isolated"],
        ["👩\u200d💻 Coders", "a joiner inside an emoji stays"],
    ]
    import_bytes(tmp_path, csv_text(rows).encode())
    assert sorted(Company.objects.values_list("name", flat=True)) == [
        "Acme gnp.exe",
        "Beta Bolts",
        "👩\u200d💻 Coders",
    ]


def test_it_treats_names_that_differ_only_by_bidirectional_controls_as_one_company(tmp_path):
    rows = [["name", "description", "country"], ["Acme", "Anvils", "US"], ["\u202aAcme\u202c", "Rockets", "US"]]
    job = import_bytes(tmp_path, csv_text(rows).encode())
    assert (job.created, job.duplicates) == (1, 1)
    assert list(Company.objects.values_list("name", "description")) == [("Acme", "Rockets")]
