"""Numbers as company files write them: head counts, founding years, revenues. Pure: no Django.

Lenient on purpose: '1,200', '1 200', '51-200', '10,001+', '1k' employees; '2015-03-01' or
'03/2015' founded; '$10M', '€2.5m', '1.2B', '$1.5 million' revenue. A range ('51-200', '10-50M')
is read as its lower bound: what a filter "at least 50 employees" can promise. A value that cannot
be read is None: the import keeps its text (Company.extra) and counts it (ImportJob.unreadable).
Currencies are not converted: '$10M' and '€10M' are both 10,000,000.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

# The typed columns, by the name their text is kept under in Company.extra.
COLUMNS = ("employees", "founded", "revenue")
FIRST_YEAR = 1700
MAX_EMPLOYEES = 2**31 - 1  # Postgres integer
MAX_REVENUE = 2**63 - 1  # Postgres bigint

# What files write for "no value": not a number, but nothing to count as unreadable either.
_BLANK = {"", "-", "–", "—", "n/a", "na", "n.a.", "none", "null", "unknown", "?", "tbd", "nan"}
_MULTIPLIERS = {
    "k": 10**3, "thousand": 10**3, "thousands": 10**3, "tsd": 10**3,
    "m": 10**6, "mm": 10**6, "mn": 10**6, "mio": 10**6, "million": 10**6, "millions": 10**6,
    "b": 10**9, "bn": 10**9, "bil": 10**9, "billion": 10**9, "billions": 10**9, "mrd": 10**9,
    "t": 10**12, "tn": 10**12, "trillion": 10**12,
}  # fmt: skip
_CURRENCY = re.compile(r"(us\$|usd|eur|gbp|chf|cad|aud|jpy|sek|nok|dkk|[$€£¥])", re.IGNORECASE)
_SPACES = re.compile(r"(?<=\d)[\s\u00a0\u202f\u2009']+(?=\d)")  # '1 200', Swiss "1'200"
_RANGE = re.compile(r"\s*(?:-|–|—|\bto\b|\.\.)\s*")
_AMOUNT = re.compile(r"^(?P<number>\d[\d.,]*(?:e[+-]?\d+)?)\s*(?P<unit>[a-z]*)$")
_EMPLOYEE_WORDS = re.compile(r"\b(employees?|staff|people|persons|fte|mitarbeiter|approx|about|ca|over)\b\.?")
_REVENUE_WORDS = re.compile(r"\b(approx|about|ca|over|per year|a year|annual|p\.a)\b\.?")


def is_blank(text: str) -> bool:
    """Empty, or a placeholder for nothing ('n/a', '-', 'unknown')."""
    return text.strip().casefold() in _BLANK


def _number(text: str, *, scaled: bool) -> float | None:
    """'1,200' -> 1200, '2.5' -> 2.5, '1.200.000' -> 1200000, '2,5' -> 2.5. Without a unit after
    it (`scaled` False), one separator before exactly three digits groups thousands ('1.200',
    '1,200'); with one ('1.200M'), it is a decimal point."""
    if "e" in text:
        return float(text) if re.fullmatch(r"\d+(\.\d+)?e[+-]?\d+", text) else None
    if "," in text and "." in text:  # the last one is the decimal point: '1,200.50', '1.200,50'
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        whole, _, fraction = text.rpartition(decimal)
        whole = whole.replace("," if decimal == "." else ".", "")
        return float(f"{whole}.{fraction}") if whole.isdigit() and fraction.isdigit() else None
    for separator in ",.":
        if separator in text:
            if re.fullmatch(rf"\d{{1,3}}(\{separator}\d{{3}})+", text) and (text.count(separator) > 1 or not scaled):
                return float(text.replace(separator, ""))
            whole, _, fraction = text.partition(separator)
            return float(f"{whole}.{fraction}") if whole.isdigit() and fraction.isdigit() else None
    return float(text) if text.isdigit() else None


def _amount(text: str, *, units: set[str], unit: str = "") -> float | None:
    """One amount with an optional unit after it ('2.5m', '10 million'); `unit` is the range's
    unit when this amount has none of its own ('10' of '10-50M')."""
    found = _AMOUNT.match(text.strip())
    if not found:
        return None
    own = found["unit"]
    if own and own not in units:
        return None
    chosen = own or unit
    number = _number(found["number"], scaled=bool(chosen))
    return None if number is None else number * _MULTIPLIERS.get(chosen, 1)


def _lower_bound(text: str, *, units: set[str]) -> float | None:
    """The amount, or a range's lower bound ('51-200', '10-50M', '10,001+', '> 500')."""
    text = text.strip().removesuffix("+").strip()
    text = re.sub(r"^(>=?|≥|more than|at least|from)\s*", "", text)
    parts = _RANGE.split(text)
    if len(parts) > 2 or not parts[0]:
        return None  # '-5', '1-2-3'
    if len(parts) == 2:
        upper_unit = _AMOUNT.match(parts[1].strip())
        if not upper_unit or _amount(parts[1], units=units) is None:
            return None
        low = _amount(parts[0], units=units, unit=upper_unit["unit"])
        high = _amount(parts[1], units=units)
        return low if low is not None and high is not None and low <= high else None
    return _amount(parts[0], units=units)


def _clean(text: str, words: re.Pattern) -> str:
    text = _SPACES.sub("", text.strip().casefold())
    text = words.sub(" ", _CURRENCY.sub(" ", text))
    return " ".join(text.replace("~", " ").split())


def read_employees(text: str) -> int | None:
    """A head count, or a band's lower bound: '1,200', '1 200', '51-200', '10,001+', '1k', '~50'."""
    if is_blank(text):
        return None
    value = _lower_bound(_clean(text, _EMPLOYEE_WORDS), units={"k", "thousand", "thousands", "tsd"})
    if value is None or value < 0 or value > MAX_EMPLOYEES:
        return None
    return round(value)


def read_revenue(text: str) -> int | None:
    """An amount in whole currency units, or a band's lower bound: '$10M', '€2.5m', '10,000,000',
    '1.2B', '10-50M', '$1.5 million'. The currency is dropped, not converted."""
    if is_blank(text):
        return None
    value = _lower_bound(_clean(text, _REVENUE_WORDS), units=set(_MULTIPLIERS))
    if value is None or value < 0 or value > MAX_REVENUE:
        return None
    return round(value)


_DATES = [
    re.compile(r"(?P<year>\d{4})(\.0+)?"),  # 1999, or a workbook's 1999.0
    re.compile(r"(?P<year>\d{4})[-/.]\d{1,2}([-/.]\d{1,2})?([ t].*)?"),  # 2015-03-01, 2015-03-01 00:00:00
    re.compile(r"\d{1,2}[-/.](\d{1,2}[-/.])?(?P<year>\d{4})"),  # 03/2015, 01.03.2015
    re.compile(r"([a-zé]+\.?,?\s+)+(\d{1,2},?\s+)?(?P<year>\d{4})"),  # March 2015, est. 1850, founded in 1999
]


def read_founded(text: str, *, this_year: int | None = None) -> int | None:
    """A founding year from FIRST_YEAR to next year, or a date's year: '1999', '2015-03-01', '03/2015'."""
    if is_blank(text):
        return None
    folded = " ".join(text.strip().casefold().split())
    last = (this_year or date.today().year) + 1
    for pattern in _DATES:
        if found := pattern.fullmatch(folded):
            year = int(found["year"])
            return year if FIRST_YEAR <= year <= last else None
    return None


READERS = {"employees": read_employees, "founded": read_founded, "revenue": read_revenue}


@dataclass(frozen=True)
class Numbers:
    """A row's typed columns (None: not given, or unreadable) and the columns it gave unreadably."""

    employees: int | None = None
    founded: int | None = None
    revenue: int | None = None
    unreadable: tuple[str, ...] = ()
    formulas: int = 0  # of the unreadable, the formulas without a value ('=1000*5')


def read_numbers(extra: Mapping[str, str]) -> Numbers:
    """The typed columns of a row's kept columns (Company.extra: 'employees', 'founded', 'revenue')."""
    values, unreadable = {}, []
    for column, read in READERS.items():
        given = extra.get(column)
        text = "" if given is None else str(given)  # an edit may have stored a JSON number
        values[column] = read(text)
        if values[column] is None and not is_blank(text):
            unreadable.append(column)
    formulas = sum(1 for column in unreadable if str(extra[column]).startswith("="))
    return Numbers(**values, unreadable=tuple(unreadable), formulas=formulas)


# The key of ImportJob.unreadable (beside COLUMNS' counts) that counts the formulas among them.
FORMULAS = "formulas"
FORMULA_ADVICE = (
    "the file was saved without the values of its formulas (a workbook written by a program rather than "
    "Excel, or a CSV of formulas): open it in Excel and save it again, or export the values, then import it again."
)


def count_unreadable(counts: dict[str, int], read: Numbers) -> None:
    """Add a row's unreadable values (and formulas among them) to `counts`, by column."""
    for column in read.unreadable:
        counts[column] = counts.get(column, 0) + 1
    if read.formulas:
        counts[FORMULAS] = counts.get(FORMULAS, 0) + read.formulas


def unreadable_sentence(counts: Mapping[str, int], *, within: str = "") -> str:
    """'3 employees values and 1 revenue value could not be read as numbers: ...'; '' for none.
    `within` says where they were counted ('in the first 10 rows')."""
    found = {column: counts.get(column, 0) for column in COLUMNS}  # in one order (jsonb keeps none)
    parts = [f"{n:,} {column} value{'' if n == 1 else 's'}" for column, n in found.items() if n]
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" and {parts[-1]}"
    where = f" {within}" if within else ""
    said = (
        f"{listed}{where} could not be read as numbers: their text is kept with the company, "
        "the number left empty (no filter or ordering finds it)."
    )
    if formulas := counts.get(FORMULAS, 0):
        some = "One of them is a formula" if formulas == 1 else f"{formulas:,} of them are formulas"
        said += f" {some} without a value: {FORMULA_ADVICE}"
    return said


def shown(text: str, value: int | None) -> str:
    """What a page shows of a kept value: the text, and the number stored when it is not what the
    text says ('51–200 (stored as 51)', '$10M (stored as 10,000,000)'; '1,200' stays '1,200')."""
    if value is None or re.sub(r"[^\d]", "", text) == str(value):
        return text
    return f"{text} (stored as {value:,})" if value >= 10_000 else f"{text} (stored as {value})"
