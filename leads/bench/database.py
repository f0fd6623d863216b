"""The benchmark's own database, next to the app's in the same Postgres server.

The app's data is never touched: Django's default connection is pointed at a database whose
name must contain "bench" for as long as the benchmark runs, and pointed back afterwards."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.utils import timezone
from psycopg import sql

from leads.bench import copies
from leads.bench.base import BaseSet
from leads.companies.countries import normalise_country
from leads.companies.identity import dedupe_key, embedding_text, normalise_domain, normalise_name, text_hash
from leads.embedding import active
from leads.models import FIRST_PROFILE_ID, Profile, Score
from leads.models.companies import fill_words_sql
from leads.models.encoders import HNSW_BUILD_MEMORY, hnsw_index_name

NAME = re.compile(r"^[a-z0-9_]*bench[a-z0-9_]*$")


def hnsw_name() -> str:
    """The active encoder's HNSW index (models.encoders)."""
    return hnsw_index_name(active.model_name())


POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # binary COPY timestamps count microseconds from it
_MICROSECOND = timedelta(microseconds=1)


@contextlib.contextmanager
def bench_database(name: str, *, fingerprint: dict, reuse: bool, keep: bool) -> Iterator[dict | None]:
    """Point Django's default connection at database `name` (created, migrated) while the block runs.

    Yields the fill figures stored by an earlier run when `reuse` finds the database filled for the
    same `fingerprint` (companies, seed, base vectors), else None: the database is new and empty.
    Dropped at the end unless `keep` or `reuse`."""
    settings_dict = connections["default"].settings_dict  # the dict every new connection is made from
    original = settings_dict["NAME"]
    if not NAME.match(name) or name == original:
        raise CommandError(f"--database {name!r}: use lowercase letters, digits and _ with 'bench' in the name")
    stored = _stored_fill(settings_dict, name) if reuse else None
    if stored is not None and stored.get("fingerprint") != fingerprint:
        stored = None
    if stored is None:
        _admin(settings_dict, "drop database if exists {} with (force)", name)
        _admin(settings_dict, "create database {}", name)
    connections.close_all()
    settings_dict["NAME"] = name
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield stored
    finally:
        connections.close_all()
        settings_dict["NAME"] = original
        if not (keep or reuse):
            _admin(settings_dict, "drop database if exists {} with (force)", name)


def mark_filled(name: str, figures: dict) -> None:
    """Record what the database was filled with (and how long it took), for --reuse."""
    with connection.cursor() as cursor:
        statement = sql.SQL("comment on database {} is {}").format(
            sql.Identifier(name), sql.Literal(json.dumps(figures))
        )
        cursor.execute(statement.as_string(cursor.connection))


def _admin(settings_dict: dict, statement: str, name: str) -> None:
    with server_connection(settings_dict) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(name)))


def _stored_fill(settings_dict: dict, name: str) -> dict | None:
    with server_connection(settings_dict) as conn:
        row = conn.execute(
            "select shobj_description(oid, 'pg_database') from pg_database where datname = %s", [name]
        ).fetchone()
    try:
        return json.loads(row[0]) if row and row[0] else None
    except ValueError:
        return None


def server_connection(settings_dict: dict) -> psycopg.Connection:
    """A connection to the server's maintenance database, to create and drop databases."""
    params = {"host": settings_dict["HOST"], "port": settings_dict["PORT"], "user": settings_dict["USER"]}
    params["password"] = settings_dict["PASSWORD"]
    return psycopg.connect(dbname="postgres", autocommit=True, **{k: v for k, v in params.items() if v})


def reset_labels() -> None:
    """No label, verdict, score or pending change in any profile, and no profile but the first (the
    one the migration made; a reused database may hold those of a `--profiles` run): the state the
    benchmark starts from, fresh or reused."""
    with connection.cursor() as cursor:
        cursor.execute(
            "truncate leads_score, leads_pendingscorechange, leads_label, leads_currentverdict, leads_scoringstate,"
            " leads_scorechange, leads_reviewdecision, leads_fitdistribution"
        )
    Profile.objects.exclude(pk=FIRST_PROFILE_ID).delete()
    with connection.cursor() as cursor:  # and the score tables of the profiles deleted (migration 0042)
        cursor.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid"
            " where i.inhparent = 'leads_score'::regclass and c.relname <> %s",
            [Score.partition(FIRST_PROFILE_ID)],
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"drop table {connection.ops.quote_name(table)}")


# --- Filling ---------------------------------------------------------------------------


def fill(base: BaseSet, companies: int, seed: int, log: Callable[[str], None]) -> dict:
    """Copy N companies and their vectors in with COPY (HNSW index dropped first), then build
    the index and VACUUM ANALYZE. Returns the timings in seconds."""
    with connection.cursor() as cursor:
        cursor.execute("select indexdef from pg_indexes where indexname = %s", [hnsw_name()])
        (create_index,) = cursor.fetchone()
        cursor.execute(sql.SQL("drop index {}").format(sql.Identifier(hnsw_name())).as_string(cursor.connection))
    started = time.perf_counter()
    rows = _BaseRows(base)
    for chunk in copies.chunks(base, companies, seed):
        with transaction.atomic(), connection.cursor() as cursor:
            hashes = rows.copy_companies(cursor.connection, chunk)
            _copy_embeddings(cursor.connection, chunk, hashes)
        log(f"filled {chunk.ids[-1]:,} of {companies:,} companies")
    with connection.cursor() as cursor:
        cursor.execute("select setval(pg_get_serial_sequence('leads_company', 'id'), %s)", [companies])
    figures = {"fill_s": time.perf_counter() - started}
    log("building the HNSW index")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"set maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")
        cursor.execute(create_index)
        cursor.execute("reset maintenance_work_mem")
    figures["hnsw_build_s"] = time.perf_counter() - started
    log("the words of every description, for search")
    started = time.perf_counter()
    with connection.cursor() as cursor:  # as the embedding service writes them, in one statement
        cursor.execute("drop index company_words_search")
        cursor.execute(fill_words_sql().replace("where id = any(%s::bigint[])", ""))
        cursor.execute("set maintenance_work_mem = '1GB'")
        cursor.execute("create index company_words_search on leads_companywords using gin (words)")
        cursor.execute("reset maintenance_work_mem")
    figures["words_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # VACUUM as well as ANALYZE: autovacuum would otherwise start on the fresh tables mid-measurement.
        cursor.execute("vacuum (analyze) leads_company, leads_companyembedding")
    figures["vacuum_analyze_s"] = time.perf_counter() - started
    return figures


def _copy_text(value: str) -> str:
    """Escape a value for COPY's text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class _BaseRows:
    """Company rows for COPY: the base company's text, a number added to its name, its own domain."""

    def __init__(self, base: BaseSet):
        self.base = base
        self.slugs = [re.sub(r"[^a-z0-9]+", "-", normalise_name(name)).strip("-") or "company" for name in base.names]
        self.codes = [normalise_country(country) for country in base.countries]  # stored as an import stores them
        self.escaped = [
            [_copy_text(value) for value in column]
            for column in (base.names, base.descriptions, base.industries, base.countries, self.codes)
        ]
        self.stamp = timezone.now().isoformat()

    def copy_companies(self, conn: psycopg.Connection, chunk: copies.Chunk) -> list[str]:
        """COPY one chunk of companies in; returns their text hashes (their vectors must match)."""
        base, (names, descriptions, industries, given, codes) = self.base, self.escaped
        lines, hashes = [], []
        numbers = _numbers(chunk.ids)
        for (company_id, b), (employees, founded) in zip(zip(chunk.ids.tolist(), chunk.base.tolist()), numbers):
            name = f"{base.names[b]} {company_id}"
            website = f"https://www.{self.slugs[b]}-{company_id}.example/"
            domain = normalise_domain(website)
            key = dedupe_key(name=name, domain=domain, country=self.codes[b])
            digest = text_hash(embedding_text(name=name, description=base.descriptions[b], industry=base.industries[b]))
            hashes.append(digest)
            extra = json.dumps({"employees": employees, "founded": founded}) if employees != "\\N" else "{}"
            lines.append(
                f"{company_id}\t{names[b]} {company_id}\t{website}\t{domain}\t{_copy_text(key)}\t{descriptions[b]}\t"
                f"{industries[b]}\t{codes[b]}\t{given[b]}\t{extra}\t{digest}\t{employees}\t{founded}\t"
                f"{self.stamp}\t{self.stamp}\n"
            )
        columns = (
            "id, name, website, domain, dedupe_key, description, industry, country, country_as_given, extra, text_hash,"
            " employees, founded"
        )
        with conn.cursor().copy(f"copy leads_company ({columns}, created_at, updated_at) from stdin") as copy:
            copy.write("".join(lines))
        return hashes


# Share of companies with employees and a founding year, as a vendor's list brings them (the rest
# have none, as an import without those columns leaves them): what the number filters and sorts meet.
NUMBERS_SHARE = 0.7


def _numbers(ids: np.ndarray) -> list[tuple[str, str]]:
    """Employees and founding year for COPY (\\N: none) of a chunk's companies, drawn from its
    first id (the same in every fill): employees log-normal around 40 (1 to 50,000), years
    1950-2025."""
    rng = np.random.default_rng(int(ids[0]))
    given = rng.random(len(ids)) < NUMBERS_SHARE
    employees = np.clip(np.exp(rng.normal(np.log(40), 1.6, len(ids))), 1, 50_000).astype(int)
    founded = rng.integers(1950, 2026, len(ids))
    return [
        (str(e), str(f)) if g else ("\\N", "\\N")
        for g, e, f in zip(given.tolist(), employees.tolist(), founded.tolist())
    ]


def _copy_embeddings(conn: psycopg.Connection, chunk: copies.Chunk, hashes: list[str]) -> None:
    """Binary COPY: one fixed-size tuple per vector, laid out by a numpy record type
    (a pgvector value is int16 dims, int16 unused, then big-endian float32s)."""
    model = active.model_name().encode()
    dims = chunk.vectors.shape[1]
    layout = np.dtype([
        ("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("model_len", ">i4"), ("model", f"S{len(model)}"),
        ("hash_len", ">i4"), ("hash", "S64"), ("vector_len", ">i4"), ("dims", ">i2"), ("unused", ">i2"),
        ("vector", ">f4", (dims,)), ("at_len", ">i4"), ("at", ">i8"),
    ])  # fmt: skip
    rows = np.zeros(len(chunk.ids), dtype=layout)
    rows["fields"], rows["id_len"], rows["id"] = 5, 8, chunk.ids
    rows["model_len"], rows["model"], rows["hash_len"], rows["hash"] = len(model), model, 64, hashes
    rows["vector_len"], rows["dims"], rows["vector"] = 4 + 4 * dims, dims, chunk.vectors
    rows["at_len"], rows["at"] = 8, (timezone.now() - POSTGRES_EPOCH) // _MICROSECOND
    statement = (
        "copy leads_companyembedding (company_id, model_name, text_hash, vector, created_at) from stdin (format binary)"
    )
    with conn.cursor().copy(statement) as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8)
        copy.write(rows.tobytes())
        copy.write(b"\xff\xff")


def warm_vector_index() -> str | None:
    """Bring the HNSW index into memory, as on a server in use (reps' queries keep it there):
    with pg_prewarm where the server has it, else, for a Postgres on this machine (the embedded
    one), by reading the index's files into the OS cache. Returns how, or None if it could not."""
    with connection.cursor() as cursor:
        cursor.execute("select 1 from pg_available_extensions where name = 'pg_prewarm'")
        if cursor.fetchone():
            cursor.execute("create extension if not exists pg_prewarm")
            cursor.execute("select pg_prewarm(%s)", [hnsw_name()])
            return "pg_prewarm"
        cursor.execute("select current_setting('data_directory'), pg_relation_filepath(%s)", [hnsw_name()])
        directory, relative = cursor.fetchone()
    files = sorted(Path(directory).glob(f"{relative}*"))  # 1 GB segments: 21642, 21642.1, ...
    if not files:
        return None
    for path in files:
        with path.open("rb") as segment:
            while segment.read(1 << 24):
                pass
    return "os-cache"
