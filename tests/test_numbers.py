"""Numbers as company files write them (leads/imports/numbers.py) and the number filters' bounds
(leads/companies/ranges.py): pure, no database."""

from __future__ import annotations

import pytest

from leads.companies import ranges
from leads.imports import headers, numbers


@pytest.mark.parametrize(
    "text, expected",
    [
        ("40", 40), ("1,200", 1200), ("1 200", 1200), ("1\u00a0200", 1200), ("1.200", 1200), ("1'200", 1200),
        ("51-200", 51), ("51–200", 51), ("51 - 200", 51), ("2-10 employees", 2), ("5,000-10,000", 5000),
        ("10,001+", 10001), ("10000+", 10000), ("> 500", 500), ("1k", 1000), ("1.5k", 1500), ("1,5k", 1500),
        ("5K+", 5000), ("~50", 50), ("ca. 50", 50), ("250 employees", 250), ("250.0", 250), ("0", 0),
        (" 12 ", 12),
    ],
)  # fmt: skip
def test_it_reads_head_counts_and_the_lower_bound_of_a_band(text, expected):
    assert numbers.read_employees(text) == expected


@pytest.mark.parametrize(
    "text",
    ["abc", "self-employed", "-5", "1-2-3", "200-51", "lots", "1m", "1,2,3", "3e", "12 apples", "99999999999", "½"],
)
def test_it_reads_no_head_count_from_garbage(text):
    assert numbers.read_employees(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1999", 1999), ("1999.0", 1999), ("2015-03-01", 2015), ("2015-03-01 00:00:00", 2015), ("2015/3", 2015),
        ("03/2015", 2015), ("01.03.2015", 2015), ("1/3/2015", 2015), ("March 2015", 2015), ("March 3, 2015", 2015),
        ("est. 1850", 1850), ("Founded in 1999", 1999), ("1700", 1700), ("2027", 2027),
    ],
)  # fmt: skip
def test_it_reads_a_founding_year_from_a_year_or_a_date(text, expected):
    assert numbers.read_founded(text, this_year=2026) == expected


@pytest.mark.parametrize("text", ["1699", "2028", "99", "03/15", "abc", "1999-2005", "19999", "year one", "-1999"])
def test_it_reads_no_year_outside_1700_to_next_year_or_from_garbage(text):
    assert numbers.read_founded(text, this_year=2026) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("$10M", 10_000_000), ("€2.5m", 2_500_000), ("10,000,000", 10_000_000), ("1.2B", 1_200_000_000),
        ("10-50M", 10_000_000), ("$1M-$5M", 1_000_000), ("$1.5 million", 1_500_000), ("USD 10,000", 10_000),
        ("£500k", 500_000), ("1250000", 1_250_000), ("3", 3), ("1,2M", 1_200_000), ("€1.200.000", 1_200_000),
        ("1.200,50", 1200), ("2 bn", 2_000_000_000), ("1e+15", 10**15), ("10 Mio. EUR".replace(".", ""), 10_000_000),
    ],
)  # fmt: skip
def test_it_reads_revenue_in_whole_units_whatever_the_currency(text, expected):
    assert numbers.read_revenue(text) == expected


@pytest.mark.parametrize("text", ["garbage", "-3", "$", "ten million", "10-5M", "1.2.3", "10 apples", "9" * 25])
def test_it_reads_no_revenue_from_garbage(text):
    assert numbers.read_revenue(text) is None


def test_placeholders_are_no_value_and_not_unreadable():
    read = numbers.read_numbers({"employees": "n/a", "founded": "-", "revenue": "Unknown"})
    assert read == numbers.Numbers()


def test_a_row_says_which_of_its_columns_it_gave_unreadably():
    read = numbers.read_numbers({"employees": "lots", "founded": "2015-03-01", "revenue": "$2M", "city": "Leeds"})
    assert read == numbers.Numbers(employees=None, founded=2015, revenue=2_000_000, unreadable=("employees",))
    assert numbers.read_numbers({"employees": 250}).employees == 250  # a JSON number an edit stored


def test_the_sentence_counts_each_column():
    assert numbers.unreadable_sentence({}) == ""
    assert numbers.unreadable_sentence({"employees": 3, "revenue": 1}).startswith(
        "3 employees values and 1 revenue value could not be read as numbers"
    )


@pytest.mark.parametrize(
    "text, value, expected",
    [
        ("51–200", 51, "51–200 (stored as 51)"), ("1,200", 1200, "1,200"), ("$10M", 10_000_000, "$10M (stored as 10,000,000)"),
        ("2015-03-01", 2015, "2015-03-01 (stored as 2015)"), ("lots", None, "lots"),
    ],
)  # fmt: skip
def test_a_page_shows_the_text_and_what_was_stored_when_they_differ(text, value, expected):
    assert numbers.shown(text, value) == expected


@pytest.mark.parametrize(
    "header, column",
    [
        ("Employees", "employees"), ("Number of Employees", "employees"), ("# Employees", "employees"),
        ("Employee Count", "employees"), ("Headcount", "employees"), ("Company Size", "employees"),
        ("Staff", "employees"), ("Size", "employees"), ("Founded", "founded"), ("Year Founded", "founded"),
        ("Founded Year", "founded"), ("Founding Year", "founded"), ("Established", "founded"),
        ("Year Established", "founded"), ("Inception", "founded"), ("Revenue", "revenue"),
        ("Annual Revenue", "revenue"), ("Turnover", "revenue"), ("Sales", "revenue"),
        ("Estimated Revenue", "revenue"), ("Revenue (USD)", "revenue"), ("Annual Revenue (USD)", "revenue"),
    ],
)  # fmt: skip
def test_the_headers_of_the_typed_columns_are_recognised(header, column):
    assert headers.match_header(header).target == f"extra:{column}"


@pytest.mark.parametrize("header", ["Sales Owner", "Revenue Growth", "Staff Notes"])
def test_headers_that_only_mention_them_are_not_them(header):
    found = headers.match_header(header)
    assert found is None or found.target not in {f"extra:{c}" for c in numbers.COLUMNS}


def test_ranges_read_whole_numbers_with_either_end_open():
    params = {"employees_min": "50", "employees_max": "1,000", "revenue_max": "5 000 000", "founded_min": ""}
    assert ranges.read_ranges(params) == [
        ranges.Range("employees", 50, 1000),
        ranges.Range("revenue", None, 5_000_000),
    ]
    assert ranges.read_ranges({}) == []


@pytest.mark.parametrize(
    "params, message",
    [
        ({"employees_min": "abc"}, "employees_min must be a whole number (got 'abc')"),
        ({"revenue_max": "1.5"}, "revenue_max must be a whole number (got '1.5')"),
        ({"founded_min": "-3"}, "founded_min must be a whole number (got '-3')"),
        ({"employees_min": "500", "employees_max": "50"}, "employees_min (500) is more than employees_max (50)"),
        ({"founded_max": "40000"}, "founded_max must be at most 32,767 (got '40000')"),
    ],
)
def test_ranges_refuse_what_is_no_whole_number_or_upside_down(params, message):
    with pytest.raises(ranges.BadRange, match=message.replace("(", r"\(").replace(")", r"\)")):
        ranges.read_ranges(params)
