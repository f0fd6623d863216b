"""Every file layout the import promises to read, imported end to end (create_job +
run_import) into the real embedded Postgres: delimiters, quoting, line ends, header
aliases, combined descriptions, extra columns and label columns."""

from __future__ import annotations

import pytest

from leads.models import Label
from tests.csv_helpers import (
    LATIN_COUNTS,
    assert_rejected,
    co,
    companies,
    counts,
    csv_text,
    expect,
    import_bytes,
    rejected,
)

pytestmark = pytest.mark.django_db


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
