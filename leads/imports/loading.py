"""An import's rows into companies, in SQL and in the caller's transaction: the file streamed
into a temporary staging table with COPY (rejects written to the job's rejected-rows CSV), its
duplicates merged, then one upsert; a CRM's record ids decide first (crm/services.py), and the
verdicts the file gives go through the labels service. imports.services runs it for a job."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

from leads.companies import identity
from leads.companies import services as companies
from leads.companies.exports import neutralise
from leads.crm import services as crm
from leads.embedding import active
from leads.imports import csvfiles, jobs, numbers, tabular
from leads.models import Company, ImportJob, LabelSource
from leads.profiles import selectors as profiles
from leads.scoring import labels

REJECTED_SHOWN = 100  # rows kept on the job for display; all of them go to the rejected CSV
_PROGRESS_EVERY = 20_000
_FIELDS = ["name", "website", "domain", "description", "industry", "country", "country_as_given"]

Progress = Callable[[ImportJob], None]


def load(job: ImportJob, mapping: dict[int, str], progress: Progress | None = None) -> None:
    """Stage the job's rows and upsert them, setting its counts; inside the caller's transaction."""
    _stage_rows(job, mapping, progress)
    _upsert(job)


def uses_crm(job: ImportJob, mapping: dict[int, str]) -> bool:
    """Whether the import keeps record ids: a column is the CRM id, and the CRM is named."""
    return bool(job.crm) and "crm_id" in mapping.values()


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
                    numbers.count_unreadable(job.unreadable, record.numbers)  # the text stays in extra
                if job.rows_read % _PROGRESS_EVERY == 0:
                    jobs.publish_rows_read(job)  # for the web page, whoever runs the import
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
returning id, (xmax = 0) as inserted
), recorded as (
insert into leads_importedcompany (job_id, company_id) select %(job)s, id from upserted on conflict do nothing
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
    file's verdicts go to the job's profile."""
    with_crm = uses_crm(job, job.column_mapping())
    profile_id = job.profile_id or profiles.current_id()
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
    companies.text_changed(Company.objects.of_import(job.pk).with_stale_embedding(active.model_name()))
    job.created = created
    job.updated = written - created
    job.unchanged = distinct - written
    job.duplicates = job.rows_read - job.rejected - distinct
