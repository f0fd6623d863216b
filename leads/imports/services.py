"""Import of a CSV file or an Excel workbook: stream rows into a staging table with COPY, merge
duplicates and upsert companies in SQL, all in one transaction: an import lands whole or not at all.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import psycopg
from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from leads.companies import identity
from leads.companies import services as companies
from leads.companies.exports import neutralise
from leads.core import locks
from leads.core.queue import enqueue_on_commit, send
from leads.crm import names as crm_names
from leads.crm import services as crm
from leads.embedding import active
from leads.embedding.services import queue_embedding
from leads.imports import csvfiles, headers, numbers, tabular
from leads.models import Company, ImportJob, LabelSource
from leads.profiles import selectors as profiles
from leads.scoring import labels
from leads.webhooks import events as webhooks

log = logging.getLogger(__name__)

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1"]
REJECTED_SHOWN = 100  # rows kept on the job for display; all of them go to the rejected CSV
_PROGRESS_EVERY = 20_000
_FIELDS = ["name", "website", "domain", "description", "industry", "country", "country_as_given"]

Progress = Callable[[ImportJob], None]


class ImportFailed(Exception):
    pass


def create_job(*, path: Path | str, original_name: str = "", user=None, sheet: str | None = None) -> ImportJob:
    """Keep a copy of the file, detect its format (CSV or workbook), encoding, delimiter and columns."""
    path = Path(path)
    with path.open("rb") as stream:
        return create_job_from_stream(
            stream, name=original_name or path.name, size=path.stat().st_size, user=user, sheet=sheet
        )


def create_job_from_stream(stream: BinaryIO, *, name: str, size: int, user=None, sheet: str | None = None) -> ImportJob:
    """The same for an uploaded file: a seekable binary stream."""
    check_size(size)
    table = tabular.describe(stream, size=size, sheet=sheet)
    job = ImportJob(user=user, original_name=name, size_bytes=size)
    job.file.save(Path(name).name or "import.csv", File(stream), save=False)
    _describe(job, table)
    job.save()
    return job


def check_size(size: int) -> None:
    size_mb = size / 1024 / 1024
    if size_mb > settings.IMPORT_MAX_UPLOAD_MB:
        raise csvfiles.UnreadableFile(
            f"The file is {size_mb:,.1f} MB; the limit is {settings.IMPORT_MAX_UPLOAD_MB} MB "
            "(IMPORT_MAX_UPLOAD_MB): split it into smaller files."
        )


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


def change_dialect(job: ImportJob, *, encoding: str, delimiter: str) -> None:
    """The user overrides what we detected: read the header row again and suggest a new mapping."""
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
    job.save()


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


def uses_crm(job: ImportJob, mapping: dict[int, str]) -> bool:
    """Whether the import keeps record ids: a column is the CRM id, and the CRM is named."""
    return bool(job.crm) and "crm_id" in mapping.values()


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
    if "description" in mapping.values():
        csvfiles.check_mapping(mapping)
    else:
        csvfiles.check_columns(mapping, job.headers, suggestion(job).description_ties)


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
    queued = ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.PENDING).update(state=ImportJob.State.QUEUED)
    if queued:
        job.state = ImportJob.State.QUEUED
        enqueue_on_commit("leads.run_import", job.pk)
    return bool(queued)


def queue_waiting_imports() -> int:
    """Re-send confirmed imports whose task a Redis outage may have lost; a duplicate run is a no-op."""
    waiting = list(ImportJob.objects.filter(state=ImportJob.State.QUEUED).values_list("pk", flat=True))
    for pk in waiting:
        send("leads.run_import", pk)
    return len(waiting)


def preview_rows(job: ImportJob, limit: int = 10) -> list[list[str]]:
    with job.file.open("rb") as stream:
        return tabular.sample_rows(stream, job.dialect(), limit)


def run_import(job: ImportJob, *, progress: Progress | None = None) -> ImportJob:
    """Import the job's file. Counts, rejected rows and state end up on the job."""
    mapping = job.column_mapping()
    check_mapping(job, mapping)
    with locks.try_hold(locks.IMPORT, job.pk) as ours:
        job.refresh_from_db(fields=["state"])
        if not ours or job.state == ImportJob.State.DONE:
            return job  # a redelivered or re-sent task: another run has it, or had it
        return _run_import(job, mapping, progress)


def _run_import(job: ImportJob, mapping: dict[int, str], progress: Progress | None) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    job.state = ImportJob.State.RUNNING
    try:
        with transaction.atomic():
            _stage_rows(job, mapping, progress)
            _upsert(job)
            enqueue_on_commit("leads.queue_import_embeddings", job.pk)
    except csvfiles.UnreadableFile as error:
        _fail(job, str(error))
        raise
    except Exception as error:
        log.exception("import %s failed; nothing of it was kept", job.pk)
        _fail(job, f"The import failed and nothing of it was kept ({type(error).__name__}: {error}).")
        raise ImportFailed(job.error) from error
    job.state, job.finished_at = ImportJob.State.DONE, timezone.now()
    job.save()
    webhooks.import_finished(job)
    return job


def _fail(job: ImportJob, error: str) -> None:
    job.state, job.error, job.finished_at = ImportJob.State.FAILED, error, timezone.now()
    job.save()
    webhooks.import_finished(job)


_STAGING = """
drop table if exists import_rows, import_merged;
create temp table import_rows (
    line integer, key text, name text, website text, domain text, description text,
    industry text, country text, country_as_given text, extra jsonb, verdict text,
    employees integer, founded smallint, revenue bigint,
    crm_id text, file_key text  -- a CRM's record id; the key the row's website gave, where its id chose another
) on commit drop
"""


def _stage_rows(job: ImportJob, mapping: dict[int, str], progress: Progress | None) -> None:
    rejected_path = Path(settings.MEDIA_ROOT) / "imports" / f"rejected-{job.pk}.csv"
    rejected_path.parent.mkdir(parents=True, exist_ok=True)
    job.rows_read = job.rejected = 0
    job.rejected_rows = []
    job.unreadable = {}
    with (
        connection.cursor() as cursor,
        job.file.open("rb") as stream,
        rejected_path.open("w", newline="", encoding="utf-8-sig") as rejected_file,
    ):
        rejected_writer = csv.writer(rejected_file)
        rejected_writer.writerow([neutralise(cell) for cell in ["line", "reason", *job.headers]])
        cursor.execute(_STAGING)
        copy_sql = (
            "copy import_rows (line, key, name, website, domain, description, industry, country, country_as_given,"
            " extra, verdict, employees, founded, revenue, crm_id) from stdin"
        )
        with cursor.connection.cursor().copy(copy_sql) as copy:
            for line, cells in tabular.read_rows(stream, job.dialect()):
                job.rows_read += 1
                record = csvfiles.to_record(line, cells, job.headers, mapping, settings.IMPORT_MAX_FIELD_CHARS)
                if isinstance(record, csvfiles.Rejected):
                    _reject(job, record, rejected_writer)
                else:
                    copy.write_row(_staging_row(record))
                    for column in record.numbers.unreadable:  # the text stays in extra: nothing given is lost
                        job.unreadable[column] = job.unreadable.get(column, 0) + 1
                if job.rows_read % _PROGRESS_EVERY == 0:
                    _publish_progress(job)  # for the web page, whoever runs the import
                    if progress:
                        progress(job)
    if job.rejected:
        job.rejected_file.name = str(rejected_path.relative_to(settings.MEDIA_ROOT))
    else:
        rejected_path.unlink()
    if job.rows_read == 0:
        raise csvfiles.UnreadableFile("The file has a header row but no companies under it.")


def _staging_row(record: csvfiles.Record) -> tuple:
    website = record.checked_website  # the address as given ('' for 'n/a' or a bare 'https://'), its domain
    read = record.numbers
    return (
        record.line,
        record.key,
        record.name,
        website.url,
        website.domain,
        record.description,
        record.industry,
        record.country_code,  # 'DE' for 'Germany', and what the file said beside it
        record.country,
        json.dumps(record.extra, ensure_ascii=False),
        record.verdict,
        read.employees,
        read.founded,
        read.revenue,
        record.crm_id,
    )


def _reject(job: ImportJob, rejected: csvfiles.Rejected, writer) -> None:
    job.rejected += 1
    # Users open this file in a spreadsheet: its cells are the file's, hostile ones included.
    writer.writerow([neutralise(cell) for cell in [rejected.line, rejected.reason, *rejected.values]])
    if len(job.rejected_rows) < REJECTED_SHOWN:
        job.rejected_rows.append({"line": rejected.line, "reason": rejected.reason, "values": rejected.values})


def _publish_progress(job: ImportJob) -> None:
    """Show rows read to other sessions while our transaction is still open, on a side connection."""
    params = connection.get_connection_params()
    try:
        with psycopg.connect(**params, autocommit=True) as side:
            side.execute("update leads_importjob set rows_read = %s where id = %s", [job.rows_read, job.pk])
    except psycopg.Error:
        log.warning("could not publish progress of import %s", job.pk)


def _last_non_empty(column: str) -> str:
    return f"coalesce((array_agg({column} order by line desc) filter (where {column} <> ''))[1], '')"


def _last_given(column: str) -> str:
    """A typed number (numbers.COLUMNS) as read from the last row that gave its text (extra ? column):
    the number follows the text that extra keeps, so a last value that cannot be read leaves it empty."""
    return f"(array_agg({column} order by line desc) filter (where extra ? '{column}'))[1]"


_MERGE = f"""
create temp table import_merged on commit drop as
with dup as (select key from import_rows group by key having count(*) > 1)
select key, name, website, domain, description, industry, country, country_as_given, extra, verdict,
       {", ".join(numbers.COLUMNS)}
from import_rows r where not exists (select 1 from dup where dup.key = r.key)
union all
select r.key, {_last_non_empty("name")}, {_last_non_empty("website")}, {_last_non_empty("domain")},
       {_last_non_empty("description")}, {_last_non_empty("industry")}, {_last_non_empty("country")},
       {_last_non_empty("country_as_given")},
       coalesce(jsonb_object_agg(kv.key, kv.value order by line) filter (where kv.key is not null), '{{}}'),
       {_last_non_empty("verdict")}, {", ".join(_last_given(column) for column in numbers.COLUMNS)}
from import_rows r join dup on dup.key = r.key left join lateral jsonb_each(r.extra) kv on true
group by r.key
"""


def _text_sql(name: str, industry: str, description: str) -> str:
    """The text hash of identity.embedding_text, in SQL (values are already stripped)."""
    return identity.text_hash_sql(
        identity.embedding_text_sql({"name": name, "industry": industry, "description": description})
    )


def _kept(column: str) -> str:
    """On re-import an empty cell keeps what we had: nothing the user gave is lost."""
    return f"coalesce(nullif(excluded.{column}, ''), c.{column})"


def _kept_number(column: str) -> str:
    """A typed number follows its text in extra: replaced when the file gives the column, kept when not."""
    return f"case when excluded.extra ? '{column}' then excluded.{column} else c.{column} end"


_NUMBERS = ", ".join(numbers.COLUMNS)


_UPSERT = f"""
with upserted as (
insert into leads_company as c
    (name, website, domain, dedupe_key, description, industry, country, country_as_given, extra, text_hash,
     import_job_id, created_at, updated_at, {_NUMBERS})
select name, website, domain, key, description, industry, country, country_as_given, extra,
       {_text_sql("name", "industry", "description")}, %(job)s, now(), now(), {_NUMBERS}
from import_merged
on conflict (dedupe_key) do update set
    {", ".join(f"{f} = {_kept(f)}" for f in _FIELDS)},
    extra = c.extra || excluded.extra,
    {", ".join(f"{column} = {_kept_number(column)}" for column in numbers.COLUMNS)},
    text_hash = {_text_sql(_kept("name"), _kept("industry"), _kept("description"))},
    import_job_id = excluded.import_job_id,
    updated_at = now()
where ({", ".join(f"c.{f}" for f in [*_FIELDS, *numbers.COLUMNS])}, c.extra)
      is distinct from ({", ".join([*map(_kept, _FIELDS), *map(_kept_number, numbers.COLUMNS)])}, c.extra || excluded.extra)
returning (xmax = 0) as inserted
)
select count(*) filter (where inserted), count(*) from upserted
"""

# The verdicts the file gives, for companies whose current verdict in the profile differs (a read:
# the labelling service writes them).
_INCOMING_VERDICTS = """
select c.id, m.verdict from import_merged m join leads_company c on c.dedupe_key = m.key
left join leads_currentverdict v on v.profile_id = %(profile)s and v.company_id = c.id
where m.verdict <> '' and coalesce(v.verdict, '') <> m.verdict
"""


def _upsert(job: ImportJob) -> None:
    """Merge the staged rows and upsert them; with a CRM's record ids, those decide first. The
    file's verdicts go to the profile imports label in (profiles.current_id())."""
    with_crm = uses_crm(job, job.column_mapping())
    profile_id = profiles.current_id()
    with connection.cursor() as cursor:
        if with_crm:
            conflicts = crm.key_rows_by_record(cursor, crm=job.crm, shown=REJECTED_SHOWN)
            job.crm_conflicts, job.crm_conflict_rows = conflicts.count, conflicts.rows
        cursor.execute(_MERGE)
        cursor.execute("select count(*) from import_merged")
        distinct = cursor.fetchone()[0]
        cursor.execute(_UPSERT, {"job": job.pk})
        created, written = cursor.fetchone()
        cursor.execute(_INCOMING_VERDICTS, {"profile": profile_id})
        verdicts = cursor.fetchall()
        if with_crm:
            job.crm_records = crm.attach_records(cursor, crm=job.crm, created=created)
            crm.rekey_by_domain(cursor)
        cursor.execute("drop table import_rows, import_merged")
    job.labels = labels.label_companies(
        profile_id=profile_id, verdicts=verdicts, user=job.user, source=LabelSource.IMPORT
    )
    # Companies whose text this import changed: their vectors are stale from now on.
    companies.text_changed(Company.objects.filter(import_job=job).with_stale_embedding(active.model_name()))
    job.created = created
    job.updated = written - created
    job.unchanged = distinct - written
    job.duplicates = job.rows_read - job.rejected - distinct


def queue_import_embeddings(job_id: int) -> int:
    """Queue the companies this import created or changed whose text needs a (new) vector."""
    ids = list(
        Company.objects.filter(import_job_id=job_id)
        .needing_embedding(active.model_name())
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return queue_embedding(ids)
