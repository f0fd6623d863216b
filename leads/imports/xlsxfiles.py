"""Reading an Excel workbook (.xlsx) as rows of text, the values a user sees. Pure: no Django.

openpyxl in read-only mode streams the sheet: memory holds one row at a time (and the workbook's
shared-string table, which Excel writes once per distinct text). `data_only` gives a formula's
value as Excel last saved it, not the formula.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import BinaryIO
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from openpyxl.cell.text import Text
from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser
from openpyxl.xml import DEFUSEDXML
from openpyxl.xml.constants import SHEET_MAIN_NS

from leads.core.params import whole_number
from leads.imports.csvdialect import UnreadableFile

if not DEFUSEDXML:  # openpyxl parses with defusedxml only when it is installed and not switched off
    raise ImportError("openpyxl must parse workbooks with defusedxml: install it and unset OPENPYXL_DEFUSEDXML.")

ZIP_MAGIC = b"PK\x03\x04"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
NOT_A_WORKBOOK = (
    "This file is not a readable Excel workbook (it is damaged, or not really an .xlsx): open it in Excel and "
    "save it again as .xlsx, or export it as CSV, and upload that."
)
HEADER_SEARCH_ROWS = 10  # a title or a group row above the header row is skipped

# What a workbook may expand to. A real 1M-row vendor workbook (1,048,576 rows, Excel's most, of
# name, website, LinkedIn URL, a ~250-character description and a few short columns) holds ~4.2M
# different texts, ~0.4 GB of shared strings and ~0.3 GB of sheet XML, packed to ~150 MB (under
# IMPORT_MAX_UPLOAD_MB's 200): it passes all three bounds. A shared-strings bomb does not: real
# parts pack text and tags 3- to 20-fold, a bomb's part hundreds-fold.
MAX_UNPACKED_BYTES = 1 << 30  # all parts together, as the zip's central directory states them
MAX_PACKING_RATIO = 100  # Apache POI's bound too (ZipSecureFile's minimum inflate ratio, 0.01)
RATIO_FROM_BYTES = 1 << 20  # a small part may pack better (a few repeated tags), and costs nothing
MAX_SHARED_STRINGS = 5_000_000  # openpyxl holds them all in memory, ~100 bytes each beyond the text
_STRING_TAG = f"{{{SHEET_MAIN_NS}}}si"
# What a broken or hostile workbook raises while it is read: a part's XML malformed (ParseError) or
# declaring entities or a DTD (defusedxml's refusals), its zip damaged (CRC, deflate stream).
_BROKEN = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    InvalidFileException,
    ParseError,
    DefusedXmlException,
    KeyError,
    ValueError,
    TypeError,
    OSError,
)
_MERGE = re.compile(rb'<mergeCell ref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def is_workbook(stream: BinaryIO) -> bool:
    """A zip holding xl/workbook.xml; rewinds the stream."""
    start = stream.read(4)
    stream.seek(0)
    if start != ZIP_MAGIC:
        return False
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise UnreadableFile(NOT_A_WORKBOOK) from None  # a zip's start, and no zip: a damaged or cut-off workbook
    finally:
        stream.seek(0)
    if any(name.startswith("xl/") for name in names):
        return True  # a workbook, even one missing its parts: openpyxl says so
    if "content.xml" in names and "mimetype" in names:
        raise UnreadableFile("This is an OpenDocument spreadsheet (.ods): save it as .xlsx or CSV and upload that.")
    raise UnreadableFile("This is a zip archive, not a CSV or an Excel workbook: unpack it and upload the file inside.")


def open_workbook(stream: BinaryIO):
    """The workbook, read only, once its parts are known to unpack within bounds; rewinds the stream.
    Read its rows inside `reading()`: the sheets are parsed as they are read."""
    with reading():
        check_archive(stream)
        reader = _Reader(stream, read_only=True, data_only=True)
        reader.read()
        return reader.wb


@contextmanager
def reading():
    """Whatever a broken or hostile workbook raises while it is read, as one sentence saying what to do."""
    try:
        yield
    except _BROKEN as error:
        # openpyxl says which part it could not read in a ValueError raised from the real cause.
        while isinstance(error.__cause__, _BROKEN):
            error = error.__cause__
        if isinstance(error, UnreadableFile):
            raise error from None
        raise UnreadableFile(
            f"This Excel workbook cannot be read ({type(error).__name__}): open it in Excel and save it again."
        ) from None


def check_archive(stream: BinaryIO) -> None:
    """Refuse a workbook whose parts would unpack too big, from the sizes the zip's central directory
    states (zipfile reads no further than them), before anything is unpacked; rewinds the stream."""
    with zipfile.ZipFile(stream) as archive:
        parts = archive.infolist()
    stream.seek(0)
    unpacked = sum(part.file_size for part in parts)
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnreadableFile(
            f"This Excel workbook unpacks to {unpacked / 2**20:,.0f} MB; the limit is {MAX_UNPACKED_BYTES / 2**20:,.0f} MB:"
            " split it into smaller workbooks, or save it as CSV and upload that."
        )
    for part in parts:
        if part.file_size > RATIO_FROM_BYTES and part.file_size > MAX_PACKING_RATIO * part.compress_size:
            raise UnreadableFile(
                f"This Excel workbook's {part.filename} unpacks more than {MAX_PACKING_RATIO}-fold, as no real"
                " workbook does: open it in Excel and save it again, or save it as CSV and upload that."
            )


class _Reader(ExcelReader):
    """openpyxl's reader, its shared-string table read with a bound on how many strings it holds."""

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        if part is not None:
            with self.archive.open(part.PartName[1:]) as source:
                self.shared_strings = _string_table(source)


def _string_table(source: BinaryIO) -> list[str]:
    """openpyxl's read_string_table (plain text, as data_only reads it), stopping at MAX_SHARED_STRINGS."""
    strings: list[str] = []
    for _, node in iterparse(source):
        if node.tag == _STRING_TAG:
            if len(strings) == MAX_SHARED_STRINGS:
                raise UnreadableFile(
                    f"This Excel workbook holds more than {MAX_SHARED_STRINGS:,} different texts (the limit):"
                    " split it into smaller workbooks, or save it as CSV and upload that."
                )
            strings.append(Text.from_tree(node).content.replace("x005F_", ""))
            node.clear()
    return strings


def sheet_names(workbook) -> list[str]:
    return list(workbook.sheetnames)


def choose_sheet(workbook, sheet: str | int | None) -> int:
    """The index of a sheet given by name (case and surrounding spaces ignored) or by index; the first by default."""
    names = sheet_names(workbook)
    if sheet is None or sheet == "":
        return 0
    folded = [n.strip().casefold() for n in names]
    if isinstance(sheet, str) and sheet.strip().casefold() in folded:
        return folded.index(sheet.strip().casefold())
    number = sheet if isinstance(sheet, int) else whole_number(sheet)
    if number is not None and 0 <= number < len(names):
        return number
    listed = ", ".join(repr(n) for n in names)
    raise UnreadableFile(f"The workbook has no sheet {str(sheet)!r}: choose one of {listed}.")


def cell_text(value) -> str:
    """A cell as Excel shows it by default: 1850 not 1850.0, a date as 2024-03-01, TRUE/FALSE."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.15g}"
    return str(value)


def _merged_ranges(worksheet) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of every merged range. Read-only worksheets do not parse
    them (they come after the rows), so the sheet's XML is scanned for them: a fast byte search."""
    found, tail = [], b""
    with worksheet._get_source() as source:  # the sheet's XML inside the zip, decompressed as read
        while chunk := source.read(1 << 20):
            block = tail + chunk
            found += [range_boundaries(m.decode()) for m in _MERGE.findall(block)]
            tail = block[-200:]
            found = list(dict.fromkeys(found))  # a match inside the overlap is found twice
    return found


class _Formula(str):
    """A formula cell the workbook holds without its value (openpyxl, pandas and other programs
    save formulas uncomputed; Excel computes them on opening): its text, '=1000*5'."""


class _Parser(WorkSheetParser):
    """openpyxl's sheet parser, as data_only reads values, but a formula without a saved value is
    its formula (a _Formula), not an empty cell: nothing the user gave is lost, and the import
    says what to do (numbers.FORMULA_ADVICE)."""

    def parse_cell(self, element):
        cell = super().parse_cell(element)
        if cell["value"] is None and element.find(FORMULA_TAG) is not None:
            formula = self.parse_formula(element)
            cell["value"] = _Formula(formula if isinstance(formula, str) and formula != "=" else "=…")
        return cell


def _sheet_values(worksheet) -> Iterator[tuple[int, list]]:
    """(row number, values) of every row from the first, as openpyxl's iter_rows(values_only=True)
    gives them in read-only mode (missing rows empty), formulas without values as _Formula."""
    workbook = worksheet.parent
    with worksheet._get_source() as source:  # the sheet's XML inside the zip, decompressed as read
        parser = _Parser(
            source,
            worksheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        expected = 1
        for number, row in parser.parse():
            for missing in range(expected, number):
                yield missing, []
            values = [None] * max((cell["column"] for cell in row), default=0)
            for cell in row:
                values[cell["column"] - 1] = cell["value"]
            yield number, values
            expected = number + 1


def read_sheet(workbook, sheet: int) -> Iterator[tuple[int, list[str]]]:
    """(row number on the sheet, cells as text) for every row, merged cells filled with their value."""
    worksheet = workbook.worksheets[sheet]
    merges = _merged_ranges(worksheet)
    values: dict[tuple[int, int], str] = {}
    for number, row in _sheet_values(worksheet):
        cells = [cell_text(v) for v in row]
        for min_col, min_row, max_col, max_row in merges:
            if min_row <= number <= max_row:
                if number == min_row and min_col <= len(cells):
                    values[(min_row, min_col)] = cells[min_col - 1]
                cells += [""] * (max_col - len(cells))
                for col in range(min_col, max_col + 1):
                    cells[col - 1] = values.get((min_row, min_col), "")
        yield number, cells


def find_header(rows: list[tuple[int, list[str]]]) -> int:
    """The index in `rows` of the header row: the first row holding at least two different values
    and three quarters as many as the fullest of the first rows (a title or a merged group row has
    fewer: merged, a title is one value repeated)."""
    counts = [len({c.strip() for c in cells if c.strip()}) for _, cells in rows[:HEADER_SEARCH_ROWS]]
    fullest = max(counts, default=0)
    for index, count in enumerate(counts):
        if count >= 2 and count >= 0.75 * fullest:
            return index
    return 0
