"""The CRM side of an import, in SQL on its staging table (imports.loading): record ids decide
which company a row is before its website or name does, and the new ones are kept.

The import calls these inside its transaction, in order: `key_rows_by_record` before duplicates
are merged, `attach_records` after the upsert, then `rekey_by_domain`. A file without a record id
column runs none of them."""

from __future__ import annotations

from dataclasses import dataclass

# The key each record id in the file decides (one row per record id): the key of the company that
# has it in this CRM, else the key of the file's last row with it, so that every row of one record
# id goes to one company.
_RECORD_KEYS = """
create temp table import_record_keys on commit drop as
select distinct on (r.crm_id) r.crm_id, coalesce(c.dedupe_key, r.key) as key, c.id as company_id
from import_rows r
left join leads_crmrecord cr on cr.record_id = r.crm_id and cr.crm = %(crm)s
left join leads_company c on c.id = cr.company_id
where r.crm_id <> ''
order by r.crm_id, r.line desc
"""

# Rows whose record id names one company and whose website (or name and country) another: the
# record id decides, and the import says so.
_CONFLICTS = """
select r.line, r.crm_id, k.company_id, c.name, other.id, other.name, count(*) over ()
from import_rows r
join import_record_keys k on k.crm_id = r.crm_id
join leads_company c on c.id = k.company_id
join leads_company other on other.dedupe_key = r.key and other.id <> k.company_id
order by r.line
limit %(shown)s
"""

# Each row goes to the key its record id decided; file_key keeps the one its website gave.
_REKEY_ROWS = """
update import_rows r set file_key = r.key, key = k.key
from import_record_keys k
where k.crm_id = r.crm_id and r.key <> k.key
"""

_ATTACH = """
with attached as (
    insert into leads_crmrecord (company_id, crm, record_id, created_at)
    select c.id, %(crm)s, k.crm_id, now()
    from import_record_keys k join leads_company c on c.dedupe_key = k.key
    where k.company_id is null
    on conflict (record_id, crm) do nothing
    returning 1
)
select count(*) from attached
"""

# A company its record id found whose website changed keeps its record; its dedupe key follows
# the new domain (as Company.save() would), so that a later file without record ids finds it by
# that domain. Not where another company has that domain: the conflict the import reported.
_REKEY_COMPANIES = """
update leads_company c set dedupe_key = moved.domain
from (
    select distinct on (c2.domain) c2.id, c2.domain
    from leads_company c2
    where c2.dedupe_key in (select key from import_rows where file_key is not null)
      and c2.domain <> '' and c2.dedupe_key <> c2.domain
      and not exists (select 1 from leads_company o where o.dedupe_key = c2.domain)
    order by c2.domain, c2.id
) moved
where c.id = moved.id
"""


@dataclass
class Conflicts:
    """How many rows' record ids overruled their website, and the first few: line, record id, the
    company the record id names and the one the website named ({"line", "record_id", "company",
    "company_name", "other", "other_name"})."""

    count: int
    rows: list[dict]


def _fresh_statistics(cursor, table: str, *, inserted: int = 0) -> None:
    """ANALYZE `table` when the planner's idea of its size is far off: a CRM import joins the file's
    rows to the companies and records, and where the statistics say a table is empty while it holds
    100,000 rows (the first import into a new database, this transaction's own inserts, a re-import
    before autovacuum came by) Postgres scans the file's rows once per company: 38 s instead of
    0.1 s for 20,000 rows (docs/benchmarks.md, *CRM record ids*). `inserted`: rows this transaction
    added, which no statistic counts yet; ANALYZE sees them."""
    cursor.execute(
        "select c.reltuples, coalesce(s.n_mod_since_analyze, 0) from pg_class c"
        " left join pg_stat_user_tables s on s.relid = c.oid where c.oid = %s::regclass",
        [table],
    )
    known, changed = cursor.fetchone()
    if known < 0 or changed + inserted > 1_000 + known / 5:
        cursor.execute(f"analyze {table}")  # a fixed table name, never input


def key_rows_by_record(cursor, *, crm: str, shown: int) -> Conflicts:
    """Before the merge: every staged row with a record id goes to the company its id decides."""
    for table in ("leads_crmrecord", "leads_company"):
        _fresh_statistics(cursor, table)
    cursor.execute("analyze import_rows")  # a temporary table: no autovacuum ever analyzes it
    cursor.execute(_RECORD_KEYS, {"crm": crm})
    cursor.execute(_CONFLICTS, {"shown": shown})
    found = cursor.fetchall()
    cursor.execute(_REKEY_ROWS)
    names = ("line", "record_id", "company", "company_name", "other", "other_name")
    return Conflicts(found[0][-1] if found else 0, [dict(zip(names, row[:-1], strict=True)) for row in found])


def attach_records(cursor, *, crm: str, created: int) -> int:
    """After the upsert (which created `created` companies): the record ids no company had yet go
    to the company their rows made or updated; how many."""
    _fresh_statistics(cursor, "leads_company", inserted=created)
    cursor.execute(_ATTACH, {"crm": crm})
    (attached,) = cursor.fetchone()
    return attached


def rekey_by_domain(cursor) -> None:
    """Last: the companies found by record id whose domain changed take it as their dedupe key."""
    cursor.execute(_REKEY_COMPANIES)
    cursor.execute("drop table import_record_keys")
