"""Reading real-world company CSV files. Pure: bytes in, records out, no Django.

Handles UTF-8 (with or without BOM), UTF-16 (either byte order), Windows-1252 /
Latin-1; comma, semicolon, tab or pipe delimiters; quoted fields with embedded
delimiters, quotes and newlines; CRLF or LF. Streams: memory does not grow with
the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import BinaryIO

from leads.identity import Website, clean_name, dedupe_key, read_website

DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
DELIMITERS = list(DELIMITER_NAMES)
SAMPLE_BYTES = 256 * 1024
csv.field_size_limit(64 * 1024 * 1024)  # our own limit is checked per field, with a clear message

# Canonical field -> header aliases, compared after lowercasing and dropping punctuation.
ALIASES: dict[str, list[str]] = {
    "name": [
        "name",
        "company",
        "company name",
        "companyname",
        "organisation",
        "organization",
        "organisation name",
        "organization name",
        "account",
        "account name",
        "business",
        "business name",
        "firm",
        "brand",
    ],
    "website": [
        "website",
        "domain",
        "url",
        "homepage",
        "home page",
        "web",
        "site",
        "website url",
        "company website",
        "company domain",
        "company url",
        "web address",
    ],
    "description": [
        "description",
        "overview",
        "about",
        "summary",
        "short description",
        "long description",
        "company description",
        "bio",
        "tagline",
        "one liner",
        "details",
        "profile",
        "about us",
    ],
    "industry": ["industry", "sector", "category", "vertical", "industries", "business type"],
    "country": ["country", "country code", "hq country", "headquarters country", "country name"],
    "label": ["label", "verdict", "liked", "like", "fit", "qualified"],
}
# Usual company-data columns, kept in `extra` under these names.
EXTRA_ALIASES: dict[str, list[str]] = {
    "employees": [
        "employees",
        "size",
        "employee count",
        "company size",
        "headcount",
        "team size",
        "number of employees",
        "num employees",
        "staff",
    ],
    "founded": ["founded", "year founded", "founded year", "founding year", "established"],
    "city": ["city", "hq city", "town", "location"],
    "specialties": ["specialties", "specialities", "specialty"],
    "technologies": ["technologies", "tech stack", "technology", "tech"],
    "linkedin_url": ["linkedin", "linkedin url", "linkedin profile", "company linkedin url"],
}
FIELD_LIMITS = {"name": 300, "website": 500, "industry": 200, "country": 100}
MAX_KEY_CHARS = 500  # Company.dedupe_key

LIKE_WORDS = {"like", "liked", "yes", "y", "1", "+1", "true", "t", "✓", "✔", "👍", "good", "fit"}
DISLIKE_WORDS = {"dislike", "disliked", "no", "n", "-1", "false", "f", "✗", "✘", "x", "👎", "bad"}


class UnreadableFile(ValueError):
    """The file as a whole cannot be imported; the message says what is wrong in one sentence."""


def header_key(header: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", header.strip().lower())


_CANONICAL = {header_key(a): f for f, aliases in ALIASES.items() for a in aliases}
_EXTRA = {header_key(a): f for f, aliases in EXTRA_ALIASES.items() for a in aliases}


def suggest_mapping(headers: list[str]) -> dict[int, str]:
    """Column index -> field: a canonical field, 'extra:<name>', or 'ignore'.

    Several description-like columns all map to 'description' and are combined."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        key = header_key(header)
        target = _CANONICAL.get(key)
        if target and (target not in taken or target == "description"):
            mapping[index] = target
            taken.add(target)
        elif key in _EXTRA and f"extra:{_EXTRA[key]}" not in taken:
            mapping[index] = f"extra:{_EXTRA[key]}"
            taken.add(mapping[index])
        elif snake := snake_case(header):
            mapping[index] = f"extra:{snake}"
        else:
            mapping[index] = "ignore"
    return mapping


def snake_case(header: str) -> str:
    """'Funding (USD)' -> 'funding_usd', 'Größe' -> 'größe': letters of any script are kept."""
    return re.sub(r"[\W_]+", "_", header.strip().lower()).strip("_")


# --- Encoding and dialect -----------------------------------------------------------


def _cp1252_fallback(error: UnicodeDecodeError):
    """The five bytes cp1252 leaves undefined decode as Latin-1 would: nothing is lost."""
    bad = error.object[error.start : error.end]
    return bad.decode("latin-1"), error.end


codecs.register_error("cp1252-latin1", _cp1252_fallback)


_BINARY_MESSAGE = "This looks like a binary file, not a CSV: export it from your spreadsheet as CSV."
# Control characters text files do not contain; tab, newlines, form feed and vertical tab excepted.
_CONTROL_BYTES = bytes(sorted(set(range(32)) - set(b"\t\n\r\f\v") | {0x7F}))
_DROP_CONTROLS = dict.fromkeys(_CONTROL_BYTES)


def _looks_binary(sample: bytes | str) -> bool:
    """More than the odd stray control character (a stray one is reported with its row)."""
    if isinstance(sample, bytes):
        controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    else:
        controls = len(sample) - len(sample.translate(_DROP_CONTROLS))
    return controls > max(1, len(sample) // 100)


def _utf16_without_bom(sample: bytes) -> str | None:
    """Mostly-Latin UTF-16 has a zero byte in every other position, and only there."""
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    if len(sample) < 4 or max(even_nuls, odd_nuls) <= len(sample) // 4:
        return None
    if min(even_nuls, odd_nuls) > max(even_nuls, odd_nuls) // 10:
        return None  # zero bytes on both sides: binary, not text
    encoding = "utf-16-be" if even_nuls > odd_nuls else "utf-16-le"
    text = sample[: len(sample) - len(sample) % 2].decode(encoding, errors="replace")
    return None if _looks_binary(text) else encoding


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if utf16 := _utf16_without_bom(sample):
        return utf16
    if _looks_binary(sample):
        raise UnreadableFile(_BINARY_MESSAGE)
    text = sample.decode("utf-8", errors="replace")
    # A truncated multi-byte character at the end of the sample is not an error.
    invalid = text.count("\ufffd") - (1 if text.endswith("\ufffd") else 0)
    valid_multibyte = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    # Windows-1252 text hardly ever holds a valid UTF-8 sequence (an accented capital followed by a
    # symbol), so a few of them outweigh many bad bytes: a UTF-8 file with a stray byte pasted from
    # Windows. Guessing UTF-8 wrongly rejects rows, loudly; guessing Windows-1252 wrongly garbles
    # every accent, silently.
    return "utf-8" if invalid == 0 or valid_multibyte * 4 >= invalid else "cp1252"


def detect_delimiter(text_sample: str) -> str:
    """The delimiter that splits the first lines into the most consistent number (>1) of fields."""
    # newline="": the lines a csv reader sees (\r, \n or \r\n), not str.splitlines()'s many more.
    lines = io.StringIO(text_sample, newline="").readlines()
    if len(lines) > 1 and not text_sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end mid-row
    sample = "".join(lines[:200])
    best, best_rank = ",", (0, 0.0, 0)
    for delimiter in DELIMITERS:
        rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, skipinitialspace=True))[:50]
        widths = [len(r) for r in rows if any(cell.strip() for cell in r)]
        if not widths:
            continue
        header_width = widths[0]
        consistent = sum(1 for w in widths if w == header_width) / len(widths)
        rank = (int(header_width > 1), consistent, header_width)
        if rank > best_rank:
            best, best_rank = delimiter, rank
    return best


@dataclass(frozen=True)
class Dialect:
    encoding: str
    delimiter: str
    headers: list[str]


def _check_chosen_encoding(sample: bytes, encoding: str) -> None:
    """Refuse an encoding the user chose that cannot read the file at all (detection never picks
    one): reading on would fail, or make one endless header of the whole file."""
    if encoding == "utf-16" and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Python's streaming utf-16 reader needs the byte order mark that says which byte comes first.
        raise _wrong_encoding(sample, encoding, "this file has no byte order mark")
    text = sample.decode(encoding, errors="replace")
    if re.search(b"[\r\n]", sample) and not re.search("[\r\n]", text):
        # UTF-8 read as UTF-16 pairs each line break byte with its neighbour into another character.
        raise _wrong_encoding(sample, encoding, "this file has no line breaks")
    if _looks_binary(text):
        raise _wrong_encoding(sample, encoding, "this file is not text")


def _wrong_encoding(sample: bytes, encoding: str, why: str) -> UnreadableFile:
    try:
        likely = f" (it looks like {detect_encoding(sample)})"
    except UnreadableFile:
        likely = ""
    return UnreadableFile(f"Read as {encoding}, {why}: choose another encoding{likely}.")


def open_text(stream: BinaryIO, encoding: str) -> io.TextIOWrapper:
    errors = "cp1252-latin1" if encoding == "cp1252" else "replace"
    return io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline="")


HEADER_ONLY_MESSAGE = "The file has a header row but no companies under it: add one row per company below the header."
_EMPTY_MESSAGE = "The file is empty: it needs a header row and at least one company."


def sniff(stream: BinaryIO, *, encoding: str = "", delimiter: str = "") -> Dialect:
    """Detect encoding, delimiter and headers, then rewind the stream. A given encoding or
    delimiter (the user's choice on the preview page) is used instead of detecting it.

    A file that fits in the sample is checked for at least one row under the header."""
    sample = stream.read(SAMPLE_BYTES)
    whole_file = len(sample) < SAMPLE_BYTES or not stream.read(1)
    stream.seek(0)
    if not sample.strip():
        raise UnreadableFile(_EMPTY_MESSAGE)
    chosen = bool(encoding)
    if chosen:
        _check_chosen_encoding(sample, encoding)
    encoding = encoding or detect_encoding(sample)
    text = sample.decode(encoding, errors="replace" if encoding != "cp1252" else "cp1252-latin1")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise UnreadableFile(_EMPTY_MESSAGE)  # a BOM, or UTF-16 spaces and newlines
    if _looks_binary(text):
        raise UnreadableFile(_BINARY_MESSAGE)
    delimiter = delimiter or detect_delimiter(text)
    # newline="": a file with old Mac line ends (\r alone) would otherwise be one long unreadable line.
    headers = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True), [])
    # A NUL cannot be stored in Postgres text (the headers become keys of Company.extra).
    dialect = Dialect(encoding=encoding, delimiter=delimiter, headers=[h.replace("\x00", "").strip() for h in headers])
    if whole_file and next(read_rows(io.BytesIO(sample), dialect), None) is None:
        raise UnreadableFile(HEADER_ONLY_MESSAGE)
    return dialect


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

    # Cached: the import asks for each once per row, and the key needs the domain.
    @cached_property
    def checked_website(self) -> Website:
        return read_website(self.website)

    @property
    def domain(self) -> str:
        return self.checked_website.domain

    @cached_property
    def key(self) -> str:
        return dedupe_key(name=self.name, domain=self.domain, country=self.country)


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


def read_rows(stream: BinaryIO, dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    """(first line number of the row, cells) for each non-blank row after the header."""
    # skipinitialspace: `Acme, "Anvils, rockets"` is two fields, as its writer meant (values are stripped anyway).
    reader = csv.reader(open_text(stream, dialect.encoding), delimiter=dialect.delimiter, skipinitialspace=True)
    next(reader, None)
    line = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            yield line, cells
        line = reader.line_num + 1


def to_record(
    line: int, cells: list[str], headers: list[str], mapping: dict[int, str], max_field_chars: int
) -> Record | Rejected:
    """Validate one row; a Rejected says what to fix."""
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


def check_mapping(mapping: dict[int, str]) -> None:
    """A file must say which column is the name and which the description (scores are made of it)."""
    targets = set(mapping.values())
    if "name" not in targets and "description" not in targets:
        raise UnreadableFile(
            "No column is the company name or description: the header row needs a 'name' column "
            "and a 'description' column."
        )
    if "name" not in targets:
        raise UnreadableFile("No column is the company name: call one column 'name' or 'company'.")
    if "description" not in targets:
        raise UnreadableFile(
            "No column is the description, which scores are made of: call one column "
            "'description' (or 'about', 'overview', 'summary')."
        )
