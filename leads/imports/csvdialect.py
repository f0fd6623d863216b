"""The encoding and the dialect (delimiter, header row) of a real-world CSV file: sniffed from
its first bytes, or as the user chose them and checked. Pure: bytes in, no Django."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
DELIMITERS = list(DELIMITER_NAMES)
SAMPLE_BYTES = 256 * 1024
# The most columns a file may have (CSV or workbook). Vendor exports run to ~100; each column is a
# row of the preview's mapping form and a header the import checks every row against.
MAX_COLUMNS = 500
STRAY_BYTES = 1  # invalid UTF-8 sequences in an otherwise ASCII sample that still make it UTF-8


class UnreadableFile(ValueError):
    """The file as a whole cannot be imported; the message says what is wrong in one sentence."""


class BinaryFile(UnreadableFile):
    """The file is not text (tabular says more where its name says it should be a workbook)."""


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
        raise BinaryFile(_BINARY_MESSAGE)
    text = sample.decode("utf-8", errors="replace")
    # A truncated multi-byte character at the end of the sample is not an error.
    invalid = text.count("\ufffd") - (1 if text.endswith("\ufffd") else 0)
    valid_multibyte = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    # Windows-1252 text hardly ever holds a valid UTF-8 sequence (an accented capital followed by a
    # symbol), so a few of them outweigh many bad bytes: a UTF-8 file with a stray byte pasted from
    # Windows. So does a file that is all ASCII but for one bad byte: read as Windows-1252 it would
    # hide that byte as a letter. Guessing UTF-8 wrongly rejects rows, loudly (and the preview
    # offers Windows-1252); guessing Windows-1252 wrongly garbles every accent, silently.
    return "utf-8" if invalid <= STRAY_BYTES or valid_multibyte * 4 >= invalid else "cp1252"


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
    """How to read a file's rows: a CSV's encoding and delimiter, or (encoding 'xlsx') a workbook's sheet."""

    encoding: str
    delimiter: str
    headers: list[str]
    sheet: int = 0  # index of the workbook's sheet; 0 for a CSV


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


@dataclass(frozen=True)
class Rows:
    """What a file's rows are, for the sentences that say a file lacks them: companies for an
    import, deals for a deals file."""

    one: str
    many: str


COMPANIES = Rows("company", "companies")


def header_only_message(rows: Rows = COMPANIES) -> str:
    return f"The file has a header row but no {rows.many} under it: add one row per {rows.one} below the header."


def _empty_message(rows: Rows) -> str:
    return f"The file is empty: it needs a header row and at least one {rows.one}."


def sniff(stream: BinaryIO, *, encoding: str = "", delimiter: str = "", rows: Rows = COMPANIES) -> Dialect:
    """Detect encoding, delimiter and headers, then rewind the stream. A given encoding or
    delimiter (the user's choice on the preview page) is used instead of detecting it.

    A file that fits in the sample is checked for at least one row under the header."""
    sample = stream.read(SAMPLE_BYTES)
    whole_file = len(sample) < SAMPLE_BYTES or not stream.read(1)
    stream.seek(0)
    if not sample.strip():
        raise UnreadableFile(_empty_message(rows))
    chosen = bool(encoding)
    if chosen:
        _check_chosen_encoding(sample, encoding)
    encoding = encoding or detect_encoding(sample)
    text = sample.decode(encoding, errors="replace" if encoding != "cp1252" else "cp1252-latin1")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise UnreadableFile(_empty_message(rows))  # a BOM, or UTF-16 spaces and newlines
    if _looks_binary(text):
        raise BinaryFile(_BINARY_MESSAGE)
    delimiter = delimiter or detect_delimiter(text)
    # newline="": a file with old Mac line ends (\r alone) would otherwise be one long unreadable line.
    lines = _Lines(io.StringIO(text, newline=""))
    try:
        headers = next(csv.reader(lines, delimiter=delimiter, skipinitialspace=True), [])
    except UnclosedQuote:
        raise UnreadableFile(
            'The header row opens a quote (") that never closes, so the whole file reads as one header: '
            "close the quote on line 1, or remove it."
        ) from None
    check_width(headers)
    # A NUL cannot be stored in Postgres text (the headers become keys of Company.extra).
    dialect = Dialect(encoding=encoding, delimiter=delimiter, headers=[h.replace("\x00", "").strip() for h in headers])
    if whole_file and next(read_rows(io.BytesIO(sample), dialect), None) is None:
        raise UnreadableFile(header_only_message(rows))
    return dialect


def check_width(headers: list[str]) -> None:
    """Refuse a header row wider than MAX_COLUMNS (a CSV's may be cut short by the sample: 'more than')."""
    if len(headers) > MAX_COLUMNS:
        raise UnreadableFile(
            f"The header row has more than {MAX_COLUMNS} columns (the limit): delete the columns you do not"
            " need, or split them into several files."
        )


class UnclosedQuote(Exception):
    """A quoted field that is still open at the end of the file."""


class BrokenRow(list):
    """The cells of a row that could not be read as its writer meant; `reason` says what to fix."""

    def __init__(self, cells: list[str], reason: str):
        super().__init__(cells)
        self.reason = reason


class _Lines:
    """The lines a csv reader reads, counted per row. The reader asks for another line within a row
    only while a quoted field is open, so running out of lines then means the quote never closes."""

    def __init__(self, text: Iterator[str]):
        self.text = iter(text)
        self.in_row = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        try:
            line = next(self.text)
        except StopIteration:
            if self.in_row:
                raise UnclosedQuote from None
            raise
        self.in_row += 1
        return line


def read_rows(stream: BinaryIO, dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    """(first line number of the row, cells) for each non-blank row after the header.

    A quote that never closes would swallow the rest of the file into one field: its row comes
    out as a BrokenRow saying so, and reading starts again on the line after it."""
    offset, header = 0, True  # lines before the reader starts: after a broken row, up to and including it
    while True:
        text = open_text(stream, dialect.encoding)
        lines = _Lines(text)
        skipped = [next(lines.text, "") for _ in range(offset)]
        if skipped:  # the broken row's first line, split as well as it can be, so its values are kept
            cells = next(csv.reader(skipped[-1:], delimiter=dialect.delimiter, skipinitialspace=True), [])
            yield offset, BrokenRow(cells, UNCLOSED_QUOTE)
        # skipinitialspace: `Acme, "Anvils, rockets"` is two fields, as its writer meant (values are stripped anyway).
        reader = csv.reader(lines, delimiter=dialect.delimiter, skipinitialspace=True)
        broken = 0
        try:
            if header:
                next(reader, None)
            line = offset + reader.line_num + 1
            while not broken:
                lines.in_row = 0
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except (UnclosedQuote, csv.Error):  # csv.Error: a field over csv.field_size_limit
                    broken = line
                    continue
                if any(cell.strip() for cell in cells):
                    yield line, cells
                line = offset + reader.line_num + 1
        finally:
            text.detach()  # leave the stream open: it is read again after a broken row, and closed by its owner
        stream.seek(0)
        offset, header = broken, False


UNCLOSED_QUOTE = (
    'a quote (") opened in this row never closes, so it would swallow the rest of the file: close it '
    '(a quote inside a quoted value is written twice, ""); the rows after it were read on their own'
)
