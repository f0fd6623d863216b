"""Reading real-world company CSV files. Pure: bytes in, records out, no Django.

Handles UTF-8 (with or without BOM), UTF-16 (either byte order), Windows-1252 /
Latin-1; comma, semicolon, tab or pipe delimiters; quoted fields with embedded
delimiters, quotes and newlines; CRLF or LF. Streams: memory does not grow with
the file.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from leads.companies.countries import normalise_country
from leads.companies.identity import Website, clean_name, dedupe_key, read_website
from leads.crm.names import MAX_RECORD_ID
from leads.imports import headers, numbers
from leads.imports.csvdialect import (  # noqa: F401 - part of this module's interface
    COMPANIES,
    DELIMITER_NAMES,
    DELIMITERS,
    SAMPLE_BYTES,
    BrokenRow,
    Dialect,
    UnreadableFile,
    detect_delimiter,
    detect_encoding,
    open_text,
    read_rows,
    sniff,
)

csv.field_size_limit(64 * 1024 * 1024)  # our own limit is checked per field, with a clear message

FIELD_LIMITS = {"name": 300, "website": 500, "industry": 200, "country": 100}
MAX_KEY_CHARS = 500  # Company.dedupe_key

LIKE_WORDS = {"like", "liked", "yes", "y", "1", "+1", "true", "t", "✓", "✔", "👍", "good", "fit"}
DISLIKE_WORDS = {"dislike", "disliked", "no", "n", "-1", "false", "f", "✗", "✘", "x", "👎", "bad"}


# --- Rows to records ----------------------------------------------------------------


@dataclass
class Record:
    """One company as read from one row, normalised and ready to upsert."""

    line: int
    name: str
    website: str = ""
    description: str = ""
    industry: str = ""
    country: str = ""
    verdict: str = ""  # "like", "dislike" or ""
    extra: dict[str, str] = field(default_factory=dict)
    crm_id: str = ""  # the company's record id in the CRM the import names (ImportJob.crm)

    # Cached: the import asks for each once per row, and the key needs the domain.
    @cached_property
    def checked_website(self) -> Website:
        return read_website(self.website)

    @property
    def domain(self) -> str:
        return self.checked_website.domain

    @cached_property
    def country_code(self) -> str:
        """What Company.country stores: 'DE' for 'Germany' (the value as given when it names no country we know)."""
        return normalise_country(self.country)

    @cached_property
    def numbers(self) -> numbers.Numbers:
        """extra's employees, founded and revenue read as numbers (the text stays in extra)."""
        return numbers.read_numbers(self.extra)

    @cached_property
    def key(self) -> str:
        return dedupe_key(name=self.name, domain=self.domain, country=self.country_code)


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str
    values: list[str]


def parse_verdict(value: str) -> str | None:
    """'like', 'dislike', '' for no verdict, or None when the value means nothing to us."""
    word = value.strip().lower()
    if not word:
        return ""
    if word in LIKE_WORDS:
        return "like"
    if word in DISLIKE_WORDS:
        return "dislike"
    return None


def to_record(
    line: int, cells: list[str], headers: list[str], mapping: dict[int, str], max_field_chars: int
) -> Record | Rejected:
    """Validate one row; a Rejected says what to fix."""
    if isinstance(cells, BrokenRow):
        return _rejected(line, cells.reason, cells)
    if len(cells) > len(headers) and any(c.strip() for c in cells[len(headers) :]):
        return _rejected(
            line,
            f"the row has {len(cells)} fields but the header has {len(headers)}: "
            "quote any value that contains the delimiter",
            cells,
        )
    values: dict[str, str] = {}
    descriptions: list[str] = []
    extra: dict[str, str] = {}
    for index, raw in enumerate(cells[: len(headers)]):
        target = mapping.get(index, "ignore")
        value = raw.strip().lstrip("\ufeff")
        if "\x00" in value:
            return _rejected(
                line,
                f"column '{headers[index]}' contains a NUL character (a zero byte), which is not text: "
                "re-save the file as CSV from your spreadsheet, or delete that character",
                cells,
            )
        if "\ufffd" in value:
            return _rejected(
                line,
                f"column '{headers[index]}' has bytes that are not valid text in this file's "
                "encoding: re-save the file as UTF-8",
                cells,
            )
        if len(value) > max_field_chars:
            hint = (
                " (it spans several lines: check for a quote that is opened and never closed)" if "\n" in value else ""
            )
            return _rejected(
                line,
                f"column '{headers[index]}' is {len(value):,} characters long; the limit is {max_field_chars:,}: "
                f"shorten it{hint}",
                cells,
            )
        if target == "name":
            value = clean_name(value)
        if target == "ignore" or not value:
            continue
        if target == "description":
            if value not in descriptions:
                descriptions.append(value)
        elif target.startswith("extra:"):
            extra.setdefault(target[6:], value)
        else:
            values.setdefault(target, value)
    if not values.get("name"):
        # A name of zero-width spaces or control characters is no name either (see clean_name).
        return _rejected(line, "the company name is empty: every row needs a name", cells)
    for name, limit in FIELD_LIMITS.items():
        if len(values.get(name, "")) > limit:
            return _rejected(
                line, f"the {name} is {len(values[name])} characters long; the limit is {limit}: shorten it", cells
            )
    if len(values.get("crm_id", "")) > MAX_RECORD_ID:
        return _rejected(
            line,
            f"the CRM record id is {len(values['crm_id'])} characters long; the limit is {MAX_RECORD_ID}: "
            "check that the column mapped to CRM id holds the CRM's record ids",
            cells,
        )
    verdict = parse_verdict(values.pop("label", ""))
    if verdict is None:
        return _rejected(
            line,
            f"label {cells_value(cells, mapping, 'label')!r} is not a verdict: use like or dislike "
            "(or yes/no, 1/-1, true/false), or leave it empty",
            cells,
        )
    record = Record(line=line, description="\n\n".join(descriptions), verdict=verdict, extra=extra, **values)
    if record.checked_website.problem:
        return _rejected(line, record.checked_website.problem, cells)
    if len(record.key) > MAX_KEY_CHARS:
        return _rejected(
            line,
            f"the name and country make a {len(record.key)}-character key (the limit is {MAX_KEY_CHARS}): "
            "shorten the name or give the company's website",
            cells,
        )
    return record


def _rejected(line: int, reason: str, cells: list[str]) -> Rejected:
    """Rejected values are stored (job.rejected_rows is jsonb) and written out: no NULs in them."""
    return Rejected(line, reason, [cell.replace("\x00", "") for cell in cells])


def cells_value(cells: list[str], mapping: dict[int, str], target: str) -> str:
    return next((cells[i].strip() for i, t in mapping.items() if t == target and i < len(cells)), "")


# A CRM export without a description (HubSpot's default companies export has none) updates the
# companies its record ids name: they keep their descriptions (an empty cell never overwrites).
NO_DESCRIPTION_NOTE = (
    "No column is the description: the companies already here keep theirs, and new ones are scored from "
    "their name and industry alone until a description comes (weak evidence). Map a column to description "
    "if the file has one."
)


# The fields one column holds: a second column mapped to one would be dropped row by row (to_record
# keeps the first value). Several description columns are combined instead.
SINGLE_FIELDS = tuple(f for f in headers.FIELDS if f != "description")
_FIELD_WORDS = {"crm_id": "CRM record id"}


def check_mapping(mapping: dict[int, str], names: Sequence[str] = (), *, workbook: bool = False) -> None:
    """A file must say which column is the name and which the description (scores are made of it),
    except a CRM export (a crm_id column): see NO_DESCRIPTION_NOTE; and no two columns may go to a
    field that holds one value. `names`: the headers, to say which columns; `workbook`: the fix may
    be another sheet. Each message says how to choose, on the preview and on the command line."""
    _check_single(mapping, names)
    targets = set(mapping.values())
    if "crm_id" in targets and "name" in targets:
        return
    if "name" not in targets and "description" not in targets:
        raise UnreadableFile(
            "No column is the company name or the description: choose the columns that hold them in the "
            'dropdowns (on the command line: --column name="HEADER" --column description="HEADER"), or, where none '
            + (
                "does, read the sheet that lists the companies (--sheet NAME)."
                if workbook
                else "does, upload the file that lists the companies."
            )
        )
    if "name" not in targets:
        raise UnreadableFile(
            "No column is the company name: choose the column that holds it in the dropdowns "
            f'(on the command line: --column name="HEADER"){_or_sheet(workbook)}.'
        )
    if "description" not in targets:
        raise UnreadableFile(
            "No column is the description, which scores are made of: choose the column that holds it in the "
            f'dropdowns (on the command line: --column description="HEADER"){_or_sheet(workbook)}.'
        )


def _or_sheet(workbook: bool) -> str:
    return ", or read another sheet if this one is not the companies (--sheet NAME)" if workbook else ""


def _check_single(mapping: dict[int, str], names: Sequence[str]) -> None:
    """Refuse two columns mapped to one single-valued field, naming them."""
    for target in SINGLE_FIELDS:
        columns = sorted(i for i, t in mapping.items() if t == target)
        if len(columns) > 1:
            listed = ", ".join(f"“{_column_name(names, i)}”" for i in columns)
            count = "Two" if len(columns) == 2 else f"{len(columns)}"
            raise UnreadableFile(
                f"{count} columns are mapped to {_FIELD_WORDS.get(target, target)} ({listed}): choose one, "
                "and map the other" + ("s" if len(columns) > 2 else "") + " to another field or ignore it."
            )


def _column_name(names: Sequence[str], index: int) -> str:
    return (names[index] if index < len(names) else "") or f"column {index + 1}"


def check_columns(
    mapping: dict[int, str], names: Sequence[str], ties: Sequence[int], *, workbook: bool = False
) -> None:
    """Refuse a mapping that leaves a tie for the description unsettled, or that csvfiles refuses."""
    _check_single(mapping, names)
    ties = [i for i in ties if mapping.get(i) not in ("name", "description")]
    if "name" in mapping.values() and "description" not in mapping.values() and ties:
        raise UnreadableFile(headers.tie_message(names, ties))
    check_mapping(mapping, names, workbook=workbook)
