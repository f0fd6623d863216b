"""Bulk reads and writes of vectors and of score rows, by binary COPY: no Python object per row.

scoring.services and its incremental pass (scoring.incremental) are the only callers of
`write_scores` (they decide what to write, under the scores lock); embedding.services is the only
caller of `write_vectors`; `read_vectors` also serves the map and the benchmark."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import psycopg
import psycopg.adapt
import psycopg.pq
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from leads.models.lookups import id_array
from leads.models.profiles import CurrentVerdict
from leads.models.scores import ScoringState
from leads.scoring import evidence
from leads.scoring import knn as scoring


@dataclass(frozen=True)
class Written:
    """Scores written: company ids, fits (what the change log records) and k-th distances."""

    ids: np.ndarray
    fits: np.ndarray
    kth: np.ndarray


def read_vectors(embeddings, *, in_id_order: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(company ids, float32 vectors) in id order, streamed with a binary COPY: no Python
    object per row (parsing pgvector's text form is slow (docs/benchmarks.md, *Figures behind the design*)). Sorted here, not by
    Postgres: sorting tens of thousands of vectors spilled to disk with the default work_mem.
    Without `in_id_order`, in the order read: no second copy of every vector for the sort."""
    rows = embeddings.order_by().values_list("company_id", "vector")
    sql, params = rows.query.sql_with_params()
    ids, vectors = copy_vectors(sql, params)
    if not in_id_order:
        return ids, vectors
    order = np.argsort(ids, kind="stable")
    return ids[order], vectors[order]


def read_labelled(embeddings, profile_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(company ids, float32 vectors, liked bool in the profile) of labelled companies' vectors, in id order, from
    ONE statement: one snapshot, so a verdict cleared or flipped meanwhile cannot leave an id
    without its verdict (two reads, ids then verdicts, could: a KeyError in the rescore)."""
    liked = Exists(
        CurrentVerdict.objects.filter(profile_id=profile_id, company_id=OuterRef("company_id"), verdict="like")
    )
    rows = embeddings.order_by().annotate(liked=liked).values_list("company_id", "liked", "vector")
    sql, params = rows.query.sql_with_params()
    buffer = _copy_out(sql, params)
    if not len(buffer):
        return np.empty(0, np.int64), np.empty((0, 0), np.float32), np.empty(0, bool)
    dims = int.from_bytes(buffer[23:25], "big")  # after the field count, the id and the flag, the vector's length
    layout = [("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("liked_len", ">i4"), ("liked", "i1"),
              ("vec_len", ">i4"), *_vector_fields(dims)]  # fmt: skip
    found = np.frombuffer(buffer, dtype=np.dtype(layout))
    order = np.argsort(found["id"], kind="stable")
    return found["id"][order].astype(np.int64), found["vector"][order].astype(np.float32), found["liked"][order] == 1


def _copy_out(sql: str, params) -> memoryview:
    """The rows of a query as binary COPY tuples, less COPY's header and trailer."""
    buffer = bytearray()
    with connection.cursor() as cursor:
        with cursor.connection.cursor().copy(f"copy ({sql}) to stdout (format binary)", params) as copy:
            for data in copy:
                buffer += data
    return memoryview(buffer)[19:-2]


def copy_vectors(sql: str, params) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of a query selecting (bigint id, vector), read by binary COPY.
    The vectors' size is read off the first row (every row of one encoder has the same)."""
    body = _copy_out(sql, params)
    if not len(body):
        return np.empty(0, np.int64), np.empty((0, 0), np.float32)
    dims = int.from_bytes(body[18:20], "big")  # after the field count, the id and the vector's length
    found = np.frombuffer(body, dtype=_id_vector_row(dims))
    return found["id"].astype(np.int64), found["vector"].astype(np.float32)


def write_vectors(table: str, company_ids: list[int], vectors: np.ndarray) -> None:
    """COPY (company id, vector) rows into `table` (embedding.services stages its upsert here)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    dims = vectors.shape[1]
    rows = np.zeros(len(company_ids), dtype=_id_vector_row(dims))
    rows["fields"], rows["id_len"], rows["id"] = 2, 8, company_ids
    rows["vec_len"], rows["dims"], rows["vector"] = 4 + 4 * dims, dims, vectors
    with connection.cursor() as cursor:
        copy_in(cursor, table, rows)


def copy_in(cursor, table: str, rows: np.ndarray) -> None:
    """Send numpy records laid out as binary COPY tuples into `table`, with COPY's header and trailer."""
    with cursor.connection.cursor().copy(f"copy {table} from stdin (format binary)") as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rows.tobytes() + b"\xff\xff")


def _vector_fields(dims: int) -> list:
    """pgvector's binary form of a vector: its size, two unused bytes, float4s."""
    return [("dims", ">i2"), ("unused", ">i2"), ("vector", ">f4", (dims,))]


def _id_vector_row(dims: int) -> np.dtype:
    """A binary COPY tuple of (bigint id, vector)."""
    return np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("vec_len", ">i4"), *_vector_fields(dims)])


def entering(model_name: str, vectors: np.ndarray, thresholds: np.ndarray, slack: float):
    """(ids, float32 vectors) of the companies whose k-th distance (`thresholds`, by company id)
    one of `vectors` is within: one pass over every vector, split over parallel workers. The
    thresholds travel as one binary float4[] parameter (server-side binding), so no join with
    the scores is needed (a hash join on a million scores cost more than the distances)."""
    closer = " or ".join(
        f"(e.vector <=> %(v{i})s::vector) <= (%(k)s::float4[])[e.company_id] + %(slack)s" for i in range(len(vectors))
    )
    params = {f"v{i}": "[" + ",".join(f"{x:.9g}" for x in vector) + "]" for i, vector in enumerate(vectors)}
    with connection.cursor() as cursor:
        raw = psycopg.Cursor(cursor.connection)  # server-side binding: the thresholds go once, in binary
        raw.adapters.register_dumper(_Float4Array, _Float4ArrayDumper)
        raw.execute(
            "select e.company_id, vector_send(e.vector) from leads_companyembedding e"
            f" where e.model_name = %(model)s and ({closer})",
            {"k": thresholds.view(_Float4Array), "model": model_name, "slack": slack, **params},
            binary=True,
        )
        rows = raw.fetchall()
    if not rows:
        return np.empty(0, np.int64), np.empty((0, 0), np.float32)
    blob = b"".join(row[1] for row in rows)
    dims = int.from_bytes(rows[0][1][:2], "big")
    found = np.frombuffer(blob, dtype=_vector_fields(dims))
    return np.array([row[0] for row in rows], dtype=np.int64), found["vector"].astype(np.float32)


def read_neighbours(profile_id: int, width: int, *, ids: list[int] | None = None, citing: list[int] | None = None):
    """The profile's scores of the companies `ids`, or of every score citing one of `citing`, in id order:
    (ids, fits, complete, neighbour ids, distances), where `complete` marks the rows with
    `width` neighbours, the only ones whose neighbours are returned. Read as two binary strings
    laid out by numpy: no Python object per row or element (docs/benchmarks.md, *Figures behind the design*)."""
    where, param = (
        ("company_id = any(%s::bigint[])", ids) if citing is None else ("neighbour_ids && %s::bigint[]", citing)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "select string_agg(int8send(company_id) || float8send(fit) || int4send(cardinality(neighbour_ids)), ''),"
            " string_agg(array_send(neighbour_ids) || array_send(neighbour_distances), '')"
            f" filter (where cardinality(neighbour_ids) = %s) from leads_score where profile_id = %s and {where}",
            [width, profile_id, id_array(param)],
        )
        heads, arrays = cursor.fetchone()
    rows = np.frombuffer(bytes(heads or b""), dtype=[("id", ">i8"), ("fit", ">f8"), ("count", ">i4")])
    order = np.argsort(rows["id"], kind="stable")
    complete = rows["count"] == width
    # Both strings list the rows in the same order (a parallel scan's parts are joined alike):
    # the arrays of the complete rows, in id order.
    chosen = (np.cumsum(complete) - 1)[order][complete[order]]
    if width == 0 or not arrays:
        none = np.empty((len(chosen), width))
        neighbour_ids, distances = none.astype(np.int64), none
    else:
        header = (">i4", 5)  # dimensions, flags, element type, size, lower bound
        layout = np.dtype([("ids_header", *header), ("ids", [("len", ">i4"), ("value", ">i8")], width),
                           ("dist_header", *header), ("dist", [("len", ">i4"), ("value", ">f8")], width)])  # fmt: skip
        found = np.frombuffer(bytes(arrays), dtype=layout)[chosen]
        neighbour_ids, distances = found["ids"]["value"].astype(np.int64), found["dist"]["value"].astype(np.float64)
    return (
        rows["id"][order].astype(np.int64),
        rows["fit"][order].astype(np.float64),
        complete[order],
        neighbour_ids,
        distances,
    )


class _Float4Array(np.ndarray):
    """A float32 numpy array sent as a Postgres float4[] indexed from 0 (binary, one copy)."""


class _Float4ArrayDumper(psycopg.adapt.Dumper):
    format = psycopg.pq.Format.BINARY
    oid = 1021  # float4[]

    def dump(self, obj: np.ndarray) -> bytes:
        header = struct.pack(">iiiii", 1, 0, 700, len(obj), 0)  # 1 dimension, no nulls, float4, size, from 0
        body = np.empty(len(obj), dtype=[("len", ">i4"), ("value", ">f4")])
        body["len"], body["value"] = 4, obj
        return header + body.tobytes()


_STAGING = """
create temp table score_rows (
    company_id bigint, value float8, kth_distance float8, fit float8, evidence float8, unexplored boolean,
    supported boolean,
    neighbour_ids bigint[], neighbour_distances float8[], neighbour_labels float8[]
) on commit drop
"""

# Unchanged scores are not rewritten: after a rescore that changed little, little is written.
_UPSERT = """
with statement as materialized (select nextval('leads_score_version') as version)  -- one number a statement
insert into leads_score as s
    (profile_id, company_id, value, kth_distance, fit, evidence, unexplored, supported, neighbour_ids, neighbour_distances,
     neighbour_labels, computed_at, version)
select %(profile)s, company_id, value, kth_distance, fit, evidence, unexplored, supported, neighbour_ids,
       neighbour_distances, neighbour_labels, %(at)s, (select version from statement)
from score_rows
on conflict (profile_id, company_id) do update set
    value = excluded.value, kth_distance = excluded.kth_distance, fit = excluded.fit, evidence = excluded.evidence,
    unexplored = excluded.unexplored, supported = excluded.supported, neighbour_ids = excluded.neighbour_ids,
    neighbour_distances = excluded.neighbour_distances, neighbour_labels = excluded.neighbour_labels,
    computed_at = excluded.computed_at, version = excluded.version
where (s.value, s.kth_distance, s.fit, s.evidence, s.unexplored, s.supported, s.neighbour_ids,
       s.neighbour_distances, s.neighbour_labels)
      is distinct from (excluded.value, excluded.kth_distance, excluded.fit, excluded.evidence, excluded.unexplored,
                        excluded.supported, excluded.neighbour_ids, excluded.neighbour_distances,
                        excluded.neighbour_labels)
"""


def write_scores(
    profile_id: int,
    candidate_ids: np.ndarray,
    result: scoring.Scores,
    labelled_ids: np.ndarray,
    labels: np.ndarray,
    *,
    radius: float,
) -> Written:
    """Upsert the profile's scores, with their fit and evidence at `radius` (leads/scoring/evidence.py), through a
    binary COPY into a staging table (call inside a transaction, from scoring.services: the one
    writer of scores). `result.neighbours` are rows of the labelled set, whose company ids and
    labels are `labelled_ids` and `labels`. Returns what it wrote: the fits, and the k-th distances
    (infinite where a score has fewer than k neighbours)."""
    k = result.neighbours.shape[1]
    kth = result.distances[:, -1] if k == settings.SCORING_K else np.full(len(candidate_ids), np.inf)
    neighbour_labels = labels[result.neighbours]
    weighed = evidence.of_neighbours(result.distances, neighbour_labels, radius)
    rows = _binary_rows(
        candidate_ids, result.values, kth, weighed, labelled_ids[result.neighbours], result.distances, neighbour_labels
    )
    with connection.cursor() as cursor:
        cursor.execute(_STAGING)
        copy_in(cursor, "score_rows", rows)
        cursor.execute(_UPSERT, {"profile": profile_id, "at": timezone.now()})
        cursor.execute("drop table score_rows")
    scores_written([profile_id])
    return Written(np.asarray(candidate_ids), weighed.fit, kth)


def scores_written(profile_ids) -> None:
    """This transaction wrote (or deleted) scores of these profiles: once it is committed, move
    each one's ScoringState.scores_written, so that a distribution of fits kept at the old number
    (FitDistribution) reads as older than the scores, and leads_score_published. Call from
    scoring.services, the one writer of scores, after the write.

    After the commit, not with the writes: a row updated in the transaction would be locked until
    its end, and writers that share a profile's scores lock (newly embedded companies, a full
    rescore's chunks) would queue on it and could deadlock with one another over a score both
    write. A page that makes a distribution between the commit and the move keeps it under the
    old number, so it is only made once more; a worker killed in between leaves the kept one
    looking current until the profile's next write (as leads_score_published does)."""
    profile_ids = sorted(set(profile_ids))

    def move() -> None:
        states = ScoringState.objects.filter(profile_id__in=profile_ids)
        if states.update(scores_written=F("scores_written") + 1) < len(profile_ids):
            for profile_id in profile_ids:  # a profile scored before its state row was made (a test's flush)
                ScoringState.of(profile_id)
            states.update(scores_written=F("scores_written") + 1)  # those that had a row move twice: no matter
        with connection.cursor() as cursor:
            cursor.execute("select nextval('leads_score_published')")

    transaction.on_commit(move)


def _binary_rows(ids, values, kth, weighed: evidence.Evidence, neighbour_ids, distances, labels) -> np.ndarray:
    """One fixed-size binary COPY tuple per score, laid out by a numpy record type."""
    n, k = neighbour_ids.shape

    def array(oid_type: str, oid: int):  # a one-dimensional Postgres array of k 8-byte values
        header = [("len", ">i4"), ("ndim", ">i4"), ("flags", ">i4"), ("oid", ">i4"), ("size", ">i4"), ("lbound", ">i4")]
        return header, np.dtype([("len", ">i4"), ("value", oid_type)]), oid

    layout = [("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("value_len", ">i4"), ("value", ">f8"),
              ("kth_len", ">i4"), ("kth", ">f8"), ("fit_len", ">i4"), ("fit", ">f8"),
              ("evidence_len", ">i4"), ("evidence", ">f8"), ("unexplored_len", ">i4"), ("unexplored", "i1"),
              ("supported_len", ">i4"), ("supported", "i1")]  # fmt: skip
    arrays = {"ids": (">i8", 20, neighbour_ids), "dist": (">f8", 701, distances), "labels": (">f8", 701, labels)}
    for name, (kind, oid, _) in arrays.items():
        header, element, _ = array(kind, oid)
        layout += [(f"{name}_{field}", fmt) for field, fmt in header] + [(name, element, (k,))]
    rows = np.zeros(n, dtype=np.dtype(layout))
    rows["fields"], rows["id_len"], rows["id"] = 10, 8, ids
    rows["value_len"], rows["value"], rows["kth_len"], rows["kth"] = 8, values, 8, kth
    rows["fit_len"], rows["fit"], rows["evidence_len"], rows["evidence"] = 8, weighed.fit, 8, weighed.evidence
    rows["unexplored_len"], rows["unexplored"] = 1, weighed.unexplored
    rows["supported_len"], rows["supported"] = 1, weighed.supported
    for name, (_, oid, data) in arrays.items():
        rows[f"{name}_len"] = 20 + 12 * k
        rows[f"{name}_ndim"], rows[f"{name}_oid"], rows[f"{name}_size"], rows[f"{name}_lbound"] = 1, oid, k, 1
        rows[name]["len"], rows[name]["value"] = 8, data
    return rows


# A binary COPY row of (bigint, float8, bool, bool): field count, then each field's length and value.
_FIT_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("fit", ">f8"),
                     ("l3", ">i4"), ("unexplored", "u1"), ("l4", ">i4"), ("supported", "u1")])  # fmt: skip


def read_fits(profile_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every score's of the profile (company ids ascending, fits, unexplored, supported), by binary COPY: what a
    day's score snapshot packs (scoring.snapshots)."""
    body = _copy_out(
        "select company_id, fit, unexplored, supported from leads_score where profile_id = %s", [profile_id]
    )
    found = np.frombuffer(body, dtype=_FIT_ROW)
    order = np.argsort(found["id"], kind="stable")
    found = found[order]
    return (
        found["id"].astype(np.int64),
        found["fit"].astype(np.float64),
        found["unexplored"] == 1,
        found["supported"] == 1,
    )
