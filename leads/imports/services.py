"""Import of a CSV file or an Excel workbook: the job (the file kept, its format, encoding,
delimiter or sheet and its column mapping, as detected and as the user chose), confirmed once and
run by a worker. The run (imports.loading) stages the rows and upserts the companies in one
transaction: an import lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from django.core.files import File
from django.db import transaction

from leads.core import locks
from leads.core.queue import enqueue_on_commit
from leads.crm import names as crm_names
from leads.embedding import active
from leads.embedding.services import queue_embedding
from leads.imports import csvfiles, headers, jobs, loading, tabular
from leads.models import Company, ImportJob
from leads.webhooks import events as webhooks

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1"]


def create_job(*, path: Path | str, original_name: str = "", user=None, sheet: str | None = None) -> ImportJob:
    """Keep a copy of the file, detect its format (CSV or workbook), encoding, delimiter and columns."""
    path = Path(path)
    with path.open("rb") as stream:
        return create_job_from_stream(
            stream, name=original_name or path.name, size=path.stat().st_size, user=user, sheet=sheet
        )


def create_job_from_stream(stream: BinaryIO, *, name: str, size: int, user=None, sheet: str | None = None) -> ImportJob:
    """The same for an uploaded file: a seekable binary stream."""
    jobs.check_size(size)
    table = tabular.describe(stream, size=size, sheet=sheet, name=name)
    job = ImportJob(user=user, original_name=name, size_bytes=size)
    job.file.save(Path(name).name or "import.csv", File(stream), save=False)
    _describe(job, table)
    job.save()
    return job


def _describe(job: ImportJob, table: tabular.Table) -> None:
    """Keep the dialect (or the sheet) on the job and suggest a mapping from the headers and the
    first rows' values."""
    dialect = table.dialect
    job.encoding, job.headers, job.rows_estimate = dialect.encoding, dialect.headers, table.rows_estimate
    workbook = tabular.is_workbook(dialect)
    job.delimiter, job.sheet = ("", dialect.sheet) if workbook else (dialect.delimiter, None)
    suggested = headers.suggest_mapping(dialect.headers, table.rows)
    job.mapping = {str(i): target for i, target in suggested.mapping.items()}
    job.crm = suggested.crm or job.crm  # a CRM's own export says which; else the manager names it


def suggestion(job: ImportJob) -> headers.Suggestion:
    """What each column is, from its header and the values of the first rows."""
    with job.file.open("rb") as stream:
        rows = tabular.sample_rows(stream, job.dialect())
    return headers.suggest_mapping(job.headers, rows)


def change_dialect(job: ImportJob, *, encoding: str, delimiter: str, mapping: dict[int, str] | None = None) -> None:
    """The user overrides what we detected: read the header row again and suggest a new mapping,
    keeping the user's choices (`mapping`, the one on the page; else the job's) for the columns
    whose headers are unchanged."""
    chosen = _choices(job.headers, job.column_mapping() if mapping is None else mapping)
    if tabular.is_workbook(job.dialect()):
        raise csvfiles.UnreadableFile("This file is an Excel workbook: it has sheets, not an encoding or a delimiter.")
    if encoding not in ENCODINGS:
        raise csvfiles.UnreadableFile(f"Unknown encoding {encoding!r}: pick one of {', '.join(ENCODINGS)}.")
    if delimiter not in csvfiles.DELIMITER_NAMES:
        names = list(csvfiles.DELIMITER_NAMES.values())
        raise csvfiles.UnreadableFile(f"The delimiter must be a {', '.join(names[:-1])} or {names[-1]}.")
    with job.file.open("rb") as stream:
        table = tabular.describe(stream, size=job.size_bytes, encoding=encoding, delimiter=delimiter)
    _describe(job, table)
    kept = [(target, header) for target, header in chosen if _alone(job.headers, header)]
    if kept:
        suggested = job.column_mapping()
        job.mapping = {str(i): t for i, t in headers.choose_columns(suggested, job.headers, kept).items()}
    job.save()


def _choices(names: Sequence[str], mapping: dict[int, str]) -> list[tuple[str, str]]:
    """(target, header) for each column of a mapping whose header names it alone (a column without a
    header, or one of two alike, cannot be found again after another reading)."""
    targets = list(mapping.values())
    return [
        (target, names[i])
        for i, target in sorted(mapping.items())
        if i < len(names)
        and _alone(names, names[i])
        and headers.valid_target(target)
        and not (target in csvfiles.SINGLE_FIELDS and targets.count(target) > 1)  # the preview refuses those
    ]


def _alone(names: Sequence[str], header: str) -> bool:
    """The header names one column (headers.find_column finds columns this way)."""
    folded = header.strip().casefold()
    return bool(folded) and [n.strip().casefold() for n in names].count(folded) == 1


def change_sheet(job: ImportJob, *, sheet: str) -> None:
    """Read another sheet of the workbook: its headers, and a new suggested mapping."""
    if not tabular.is_workbook(job.dialect()):
        raise csvfiles.UnreadableFile("Only an Excel workbook has sheets, and this file is a CSV.")
    with job.file.open("rb") as stream:
        table = tabular.describe(stream, size=job.size_bytes, sheet=sheet)
    _describe(job, table)
    job.save()


def sheet_names(job: ImportJob) -> list[str]:
    """The workbook's sheets, in order; [] for a CSV."""
    if not tabular.is_workbook(job.dialect()):
        return []
    with job.file.open("rb") as stream:
        return tabular.sheet_names(stream)


def change_mapping(job: ImportJob, mapping: dict[int, str]) -> None:
    """Save the column mapping the user chose; it must name the name and description columns."""
    for index, target in mapping.items():
        if not 0 <= index < len(job.headers):
            raise csvfiles.UnreadableFile(f"Column {index + 1} does not exist: the file has {len(job.headers)}.")
        if not headers.valid_target(target):
            raise csvfiles.UnreadableFile(f"Column '{job.headers[index]}' cannot go to {target!r}.")
    check_mapping(job, mapping)
    job.mapping = {str(i): target for i, target in sorted(mapping.items())}
    job.save(update_fields=["mapping"])


def choose_columns(job: ImportJob, choices: Sequence[tuple[str, str]]) -> None:
    """The command line's `--column FIELD=HEADER`: the suggested mapping with these columns chosen."""
    try:
        mapping = headers.choose_columns(job.column_mapping(), job.headers, choices)
    except ValueError as error:
        raise csvfiles.UnreadableFile(str(error)) from None
    change_mapping(job, mapping)


def choose_crm(job: ImportJob, name: str) -> None:
    """The CRM the file's record ids belong to, as a person names it ('HubSpot', 'Zoho CRM')."""
    try:
        job.crm = crm_names.crm_choice(name)
    except ValueError as error:
        raise csvfiles.UnreadableFile(str(error)) from None
    job.save(update_fields=["crm"])


CRM_NOT_NAMED = (
    "A column is the CRM id: name the CRM its record ids come from (HubSpot, Salesforce, Pipedrive "
    "or another name), on the preview page or with --crm NAME on the command line."
)


def check_mapping(job: ImportJob, mapping: dict[int, str]) -> None:
    """The mapping names a name and a description column; where several columns could be the
    description and none is chosen, say which. A CRM id column needs the CRM's name."""
    if "crm_id" in mapping.values() and not job.crm:
        raise csvfiles.UnreadableFile(CRM_NOT_NAMED)
    workbook = tabular.is_workbook(job.dialect())
    if "description" in mapping.values():
        csvfiles.check_mapping(mapping, job.headers, workbook=workbook)
    else:
        csvfiles.check_columns(mapping, job.headers, suggestion(job).description_ties, workbook=workbook)


def mapping_problem(job: ImportJob) -> str:
    """What the preview should say before the user confirms: the mapping's problem, or ''."""
    try:
        check_mapping(job, job.column_mapping())
    except csvfiles.UnreadableFile as problem:
        return str(problem)
    return ""


def start_import(job: ImportJob) -> bool:
    """Queue the import for a worker, once: a second click on Confirm does nothing."""
    check_mapping(job, job.column_mapping())
    return jobs.confirm(job, task="leads.run_import")


def queue_waiting_imports() -> int:
    """Re-send confirmed imports whose task a Redis outage may have lost; a duplicate run is a no-op."""
    return jobs.queue_waiting(ImportJob, task="leads.run_import")


def preview_rows(job: ImportJob, limit: int = 10) -> list[list[str]]:
    with job.file.open("rb") as stream:
        return tabular.sample_rows(stream, job.dialect(), limit)


def run_import(job: ImportJob, *, progress: loading.Progress | None = None) -> ImportJob:
    """Import the job's file in one transaction (imports.jobs.run). Counts, rejected rows and
    state end up on the job; an import that ended says so to webhooks."""
    mapping = job.column_mapping()
    check_mapping(job, mapping)

    def work(job: ImportJob) -> None:
        loading.load(job, mapping, progress)
        enqueue_on_commit("leads.queue_import_embeddings", job.pk)

    return jobs.run(job, lock=locks.IMPORT, work=work, ended=webhooks.import_finished)


def queue_import_embeddings(job_id: int) -> int:
    """Queue the companies this import created or changed whose text needs a (new) vector."""
    ids = list(
        Company.objects.of_import(job_id)
        .needing_embedding(active.model_name())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return queue_embedding(ids)


def cancel_job(job: ImportJob) -> bool:
    """Remove an import still waiting for confirmation, and its file, once the removal is committed.
    False when it was confirmed meanwhile (jobs.confirm claims it the same way): it runs, and stays."""
    deleted, _ = ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.PENDING).delete()
    if deleted and job.file:
        storage, name = job.file.storage, job.file.name
        transaction.on_commit(lambda: storage.delete(name))
    return bool(deleted)
