"""An import's dry run (`import_companies --dry-run`): the whole file read as an import reads it,
with the same mapping code and row checks, and nothing written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from leads.crm import names as crm_names
from leads.imports import csvdialect, csvfiles, headers, jobs, loading, tabular
from leads.imports import services as imports


@dataclass
class DryRun:
    """What importing a file would do: its dialect and mapping, the first records as they would be
    stored, and every reject (the first loading.REJECTED_SHOWN of them kept)."""

    dialect: csvfiles.Dialect
    mapping: dict[int, str]
    sheets: list[str] = field(default_factory=list)
    records: list[csvfiles.Record] = field(default_factory=list)
    rejected: list[csvfiles.Rejected] = field(default_factory=list)
    rows_read: int = 0
    rejected_count: int = 0
    crm: str = ""  # the CRM the crm_id column's record ids come from ('' without one)


def dry_run(
    *,
    path: Path | str,
    sheet: str | None = None,
    choices: Sequence[tuple[str, str]] = (),
    crm: str | None = None,
    shown: int = 5,
) -> DryRun:
    """Read the whole file as an import would, with the same mapping code, and write nothing.
    `crm`: the CRM a crm_id column's ids come from, as a person names it (a CRM's own export says
    which); a crm_id column without one is refused, as the import refuses it."""
    path = Path(path)
    jobs.check_size(path.stat().st_size)
    with path.open("rb") as stream:
        table = tabular.describe(stream, size=path.stat().st_size, sheet=sheet, name=path.name)
        dialect = table.dialect
        suggested = headers.suggest_mapping(dialect.headers, table.rows)
        try:
            mapping = headers.choose_columns(suggested.mapping, dialect.headers, choices)
        except ValueError as error:
            raise csvfiles.UnreadableFile(str(error)) from None
        csvfiles.check_columns(
            mapping, dialect.headers, suggested.description_ties, workbook=tabular.is_workbook(dialect)
        )
        result = DryRun(dialect, mapping, crm=_crm_of(crm, suggested.crm) if "crm_id" in mapping.values() else "")
        if tabular.is_workbook(dialect):
            result.sheets = tabular.sheet_names(stream)
        for line, cells in tabular.read_rows(stream, dialect):
            result.rows_read += 1
            record = csvfiles.to_record(line, cells, dialect.headers, mapping, settings.IMPORT_MAX_FIELD_CHARS)
            if isinstance(record, csvfiles.Rejected):
                result.rejected_count += 1
                if len(result.rejected) < loading.REJECTED_SHOWN:
                    result.rejected.append(record)
            elif len(result.records) < shown:
                result.records.append(record)
    if result.rows_read == 0:
        raise csvfiles.UnreadableFile(csvdialect.header_only_message())
    return result


def _crm_of(given: str | None, detected: str) -> str:
    if given is None and not detected:
        raise csvfiles.UnreadableFile(imports.CRM_NOT_NAMED)
    try:
        return crm_names.crm_choice(given) if given is not None else detected
    except ValueError as error:
        raise csvfiles.UnreadableFile(str(error)) from None
