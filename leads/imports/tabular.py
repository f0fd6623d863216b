"""Any table a user brings: a CSV file (any encoding and delimiter) or an Excel workbook (.xlsx).
Pure: a seekable binary stream in, a Dialect and (line, cells) rows out, no Django.

The import, the web preview and the command line's dry run all read files through here, so a
workbook gets the same limits, mapping, dedupe and rejects as a CSV; its "lines" are the sheet's
row numbers.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, islice
from typing import BinaryIO

from defusedxml import ElementTree

from leads.imports import csvdialect, xlsxfiles
from leads.imports.csvdialect import Dialect, UnreadableFile

XLSX = "xlsx"  # Dialect.encoding of a workbook
SAMPLE_ROWS = 200  # rows whose values help say which column is which
# A CSV up to this size has its rows counted on upload, not estimated from its start: reading it
# through once costs little next to the upload itself.
EXACT_COUNT_BYTES = 8 * 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def is_workbook(dialect: Dialect) -> bool:
    return dialect.encoding == XLSX


@dataclass
class Table:
    """What the preview needs from a file, read in one pass over its start."""

    dialect: Dialect
    rows: list[list[str]]  # the first SAMPLE_ROWS rows' cells
    rows_estimate: int


def describe(
    stream: BinaryIO,
    *,
    size: int,
    encoding: str = "",
    delimiter: str = "",
    sheet: str | None = None,
    name: str = "",
    rows: csvdialect.Rows = csvdialect.COMPANIES,
) -> Table:
    """The file's format and headers, the first rows and about how many rows it holds. For a CSV
    its encoding and delimiter (detected, or as chosen); for a workbook the sheet (the first, or
    the one named), opened once: a workbook's string table is read on every opening. `name`: the
    file's, where known: bytes that are not text, named .xlsx, are a workbook that cannot be read.
    `rows`: what the rows are (companies, deals), for the sentences that say a file has none."""
    try:
        return _describe(stream, size=size, encoding=encoding, delimiter=delimiter, sheet=sheet, rows=rows)
    except csvdialect.BinaryFile:
        if name.lower().endswith(xlsxfiles.WORKBOOK_SUFFIXES):
            raise UnreadableFile(xlsxfiles.NOT_A_WORKBOOK) from None
        raise


def _describe(
    stream: BinaryIO, *, size: int, encoding: str, delimiter: str, sheet: str | None, rows: csvdialect.Rows
) -> Table:
    if xlsxfiles.is_workbook(stream):
        with _workbook(stream) as workbook:
            # The sizes the sheets declare, read before reading rows forgets them.
            declared = [worksheet.max_row or 1 for worksheet in workbook.worksheets]
            dialect = _sniff_workbook(workbook, sheet, rows)
            sample = [cells for _, cells in islice(_sheet_rows(workbook, dialect), SAMPLE_ROWS)]
            return Table(dialect, sample, max(0, declared[dialect.sheet] - 1))
    if stream.read(8) == _OLE_MAGIC:
        raise UnreadableFile(
            "This is an old Excel .xls workbook (or a password-protected one): save it as .xlsx or CSV and upload that."
        )
    stream.seek(0)
    if sheet:
        raise UnreadableFile("Only an Excel workbook has sheets, and this file is a CSV: leave out the sheet.")
    if encoding == XLSX:
        raise UnreadableFile("This file is not an Excel workbook: choose the encoding of its text.")
    dialect = csvdialect.sniff(stream, encoding=encoding, delimiter=delimiter, rows=rows)
    return Table(dialect, sample_rows(stream, dialect), _count_rows(stream, dialect, size))


def rows_counted(size: int) -> bool:
    """Whether a CSV of `size` bytes has its rows counted, not estimated (describe)."""
    return size <= EXACT_COUNT_BYTES


def _count_rows(stream: BinaryIO, dialect: Dialect, size: int) -> int:
    """The rows of a small CSV, counted; of a large one, the rows in its first 256 kB scaled to its
    size (a sample that ends inside one long value says little: a few rows of 2 MB read as eight)."""
    if rows_counted(size):
        try:
            return sum(1 for _ in csvdialect.read_rows(stream, dialect))
        finally:
            stream.seek(0)
    sample = stream.read(csvdialect.SAMPLE_BYTES)
    stream.seek(0)
    estimate = sum(1 for _ in csvdialect.read_rows(io.BytesIO(sample), dialect))
    if len(sample) == csvdialect.SAMPLE_BYTES:
        estimate = max(estimate, round(estimate * size / len(sample)))
    return estimate


@contextmanager
def _workbook(stream: BinaryIO):
    """The workbook, open while its rows are read: a sheet's XML is parsed as it is read."""
    workbook = xlsxfiles.open_workbook(stream)
    try:
        with xlsxfiles.reading():
            yield workbook
    finally:
        workbook.close()
        stream.seek(0)


def _sniff_workbook(workbook, sheet: str | None, rows: csvdialect.Rows) -> Dialect:
    """The sheet asked for; else the first sheet with rows on it (a workbook often opens on a
    cover or notes sheet), the preview saying which one it read."""
    if sheet not in (None, ""):
        return _sniff_sheet(workbook, xlsxfiles.choose_sheet(workbook, sheet), rows)
    if not workbook.sheetnames:
        raise UnreadableFile(
            f"The workbook has no sheets: open it in Excel, put the {rows.many} on a sheet and save it."
        )
    problems = []
    for index in range(len(workbook.sheetnames)):
        try:
            return _sniff_sheet(workbook, index, rows)
        except UnreadableFile as problem:
            problems.append(problem)
    if len(problems) == 1:
        raise problems[0]
    sheets = ", ".join(map(repr, workbook.sheetnames))
    raise UnreadableFile(f"No sheet has {rows.many} on it ({sheets}): {problems[0]}")


def _sniff_sheet(workbook, index: int, rows: csvdialect.Rows) -> Dialect:
    name = workbook.sheetnames[index]
    top = list(islice(xlsxfiles.read_sheet(workbook, index), xlsxfiles.HEADER_SEARCH_ROWS))
    if not any(any(c.strip() for c in cells) for _, cells in top):
        raise UnreadableFile(f"The sheet {name!r} is empty: it needs a header row and at least one {rows.one}.")
    headers = [h.replace("\x00", "").strip() for h in top[xlsxfiles.find_header(top)][1]]
    while headers and not headers[-1]:
        headers.pop()  # formatted empty cells right of the table, often up to Excel's last column
    csvdialect.check_width(headers)
    dialect = Dialect(encoding=XLSX, delimiter="", headers=headers, sheet=index)
    if next(_sheet_rows(workbook, dialect), None) is None:
        raise UnreadableFile(
            f"The sheet {name!r} has a header row but no {rows.many} under it: add one row per {rows.one}."
        )
    return dialect


def _sheet_rows(workbook, dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    """The sheet's non-blank rows under its header row (found again the same way)."""
    rows = xlsxfiles.read_sheet(workbook, dialect.sheet)
    top = list(islice(rows, xlsxfiles.HEADER_SEARCH_ROWS))
    for number, cells in chain(top[xlsxfiles.find_header(top) + 1 :], rows):
        if any(c.strip() for c in cells):
            yield number, cells


def read_rows(stream: BinaryIO, dialect: Dialect) -> Iterator[tuple[int, list[str]]]:
    """(line or sheet row number, cells) for each non-blank row under the header."""
    if not is_workbook(dialect):
        yield from csvdialect.read_rows(stream, dialect)
        return
    with _workbook(stream) as workbook:
        yield from _sheet_rows(workbook, dialect)


def sample_rows(stream: BinaryIO, dialect: Dialect, limit: int = SAMPLE_ROWS) -> list[list[str]]:
    """The cells of the first rows: for the preview and for telling columns apart by their values."""
    rows = read_rows(stream, dialect)
    width = len(dialect.headers)  # cells past the header are the import's to reject; a preview stays bounded
    try:
        return [cells[:width] for _, cells in islice(rows, limit)]
    finally:
        rows.close()
        stream.seek(0)


def sheet_names(stream: BinaryIO) -> list[str]:
    """The workbook's sheets in order, from its workbook.xml (without reading its string table)."""
    with xlsxfiles.reading():
        xlsxfiles.check_archive(stream)
        with zipfile.ZipFile(stream) as archive:
            root = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    stream.seek(0)
    return [sheet.get("name", "") for sheet in root.iter() if sheet.tag.endswith("}sheet")]
