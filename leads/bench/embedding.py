"""The embedding benchmark behind `bench_embedding`: real companies through the whole pipeline
(queue, real Celery worker processes, the database) against a bare encode of the same texts in
the same batches, in one run.

Everything is its own: a throw-away database in the same Postgres server (database.bench_database)
and a throw-away embedded Redis under LEADS_HOME/bench/embedding, so the app's data and task
queue are never touched (the app's own worker would otherwise take the benchmark's tasks)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from leads.bench.base import DEMO_CSV, YC_CSV, _demo_rows, _yc_rows
from leads.bench.database import bench_database
from leads.celery import app
from leads.companies.identity import dedupe_key, embedding_text, text_hash
from leads.core import devstack, queue
from leads.embedding import active, hnsw
from leads.embedding import encoders as embedding
from leads.embedding import services as embeddings
from leads.models import Company, CompanyEmbedding, LabelSource, Score
from leads.profiles import selectors as profiles
from leads.scoring import labels
from leads.scoring import services as scores

WARM_UP_PER_WORKER = 4  # companies in each worker's first task, which loads its model
READY_TIMEOUT_S = 180  # a worker's start (Django, the first task loads the model) on a busy machine


def run(
    *,
    companies: int,
    workers: int,
    labelled: int,
    seed: int,
    database_name: str,
    timeout_s: float,
    bare_only: bool = False,
    log: Callable[[str], None],
) -> dict:
    """The figures of one run (docs/benchmarks.md says what each means). `bare_only`: the encoder
    alone, no database, queue or worker (how fast is this encoder on this machine)."""
    if companies < 1 or workers < 1 or labelled < 0:
        raise CommandError("--companies and --workers must be at least 1, --labels at least 0")
    source, rows = _source_rows()
    needed = companies + (0 if bare_only else labelled + workers * WARM_UP_PER_WORKER)
    if needed > len(rows):
        raise CommandError(
            f"{source} has {len(rows):,} distinct companies; this run needs {needed:,}"
            f" ({companies:,} timed, {labelled:,} labelled, {workers * WARM_UP_PER_WORKER} to warm the workers up)."
            " Ask for fewer with --companies."
        )
    picked = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))[:needed]]
    timed, known, warm = picked[:companies], picked[companies : companies + labelled], picked[companies + labelled :]
    figures = {
        "source": source,
        "model": active.model_name(),
        "dimensions": settings.EMBEDDING_DIMENSIONS,
        "companies": companies,
        "workers": workers,
        "labels": labelled,
        "threads": embedding.threads(),  # each encoder's, here and in each worker (EMBEDDING_THREADS)
    }
    if bare_only:
        figures["batch_size"] = active.batch_size()
        figures["model_load_s"] = active.load()
        figures["bare_s"] = bare_encode([_text(row) for row in timed], figures["batch_size"])
        figures["bare_per_s"] = companies / figures["bare_s"]
        return figures
    home = Path(settings.LEADS_HOME) / "bench" / "embedding"
    with own_broker(home), bench_database(database_name, fingerprint={}, reuse=False, keep=False):
        figures["model"] = active.model_name()  # the benchmark database's encoder (EMBEDDING_MODEL)
        figures["batch_size"] = active.batch_size()
        figures["model_load_s"] = active.load()
        log(f"model loaded in {figures['model_load_s']:.1f} s; {labelled} labelled companies")
        _labelled_set(known)
        log(f"bare encode of {companies:,} texts in batches of {figures['batch_size']}")
        texts = [_text(row) for row in timed]
        bare = [bare_encode(texts, figures["batch_size"])]
        with running_workers(workers, home, log):
            warm_ids = _create(warm)  # one first task per worker, which loads its model: not timed
            for number in range(workers):
                queue.send("leads.embed_companies", warm_ids[number::workers])
            _wait_for(warm_ids, labelled > 0, timeout_s, "the warm-up batches")
            _wait_for_an_empty_queue(timeout_s)  # what the workers' first sweep queued (the map) is done
            log(f"{workers} worker(s) warm; timing {companies:,} companies through the queue")
            ids = _create(timed)
            started = timezone.now()
            figures["batches"] = embeddings.queue_embedding(ids)
            figures["index_built_after"] = not hnsw.index_ready()  # embedding.switching.defer_index
            finished = _wait_for(ids, labelled > 0, timeout_s, "the timed companies")
            figures["pipeline_s"] = (finished - started).total_seconds()
        figures["scored"] = Score.objects.filter(profile_id=profiles.current_id(), company_id__any_of=ids).count()
        # Again after the pipeline: on a shared machine the load changes from minute to minute,
        # and the mean of before and after is what the pipeline's minutes are compared with.
        log("bare encode again")
        bare.append(bare_encode(texts, figures["batch_size"]))
    figures["bare_s"] = sum(bare) / len(bare)
    figures["bare_s_before_after"] = bare
    figures["pipeline_per_s"] = companies / figures["pipeline_s"]
    figures["bare_per_s"] = companies / figures["bare_s"]
    figures["ratio"] = figures["pipeline_per_s"] / figures["bare_per_s"]
    return figures


def bare_encode(texts: list[str], size: int) -> float:
    """Seconds to encode the texts as the workers do: shortest first, `size` (the tasks' batch) a call."""
    ordered = sorted(texts, key=len)
    started = time.perf_counter()
    for i in range(0, len(ordered), size):
        active.encode(ordered[i : i + size])
    return time.perf_counter() - started


# --- Companies ---------------------------------------------------------------------------


def _source_rows() -> tuple[str, list[tuple[str, str, str, str, bool]]]:
    """The Y Combinator directory when the checkout has ../shared/data, else the demo CSV;
    one row per dedupe key, since each becomes a company."""
    path, read = (YC_CSV, _yc_rows) if YC_CSV.exists() else (DEMO_CSV, _demo_rows)
    distinct = {dedupe_key(name=row[0], domain="", country=row[3]): row for row in read(path)}
    return path.name, list(distinct.values())


def _text(row: tuple) -> str:
    name, description, industry, _, _ = row
    return embedding_text(name=name, description=description, industry=industry)


def _create(rows: list[tuple]) -> list[int]:
    """The companies as an import leaves them: no vector yet. Returns their ids."""
    made = Company.objects.bulk_create(
        Company(
            name=name,
            description=description,
            industry=industry,
            country=country,
            dedupe_key=dedupe_key(name=name, domain="", country=country),
            text_hash=text_hash(_text((name, description, industry, country, liked))),
        )
        for name, description, industry, country, liked in rows
    )
    return [company.pk for company in made]


def _labelled_set(rows: list[tuple]) -> None:
    """What the timed companies are scored against: companies embedded here (the same service as
    the workers) and labelled by their YC tags, as an earlier import would have left them."""
    if not rows:
        return
    ids = _create(rows)
    embeddings.embed_companies(ids)
    verdicts = [(pk, "like" if row[4] else "dislike") for pk, row in zip(ids, rows)]
    profile_id = profiles.current_id()  # the first profile's labels: what the workers score in
    labels.label_companies(profile_id=profile_id, verdicts=verdicts, user=None, source=LabelSource.IMPORT)
    scores.apply_label_changes(profile_id, inline_full=True)


def _wait_for(ids: list[int], scored: bool, timeout_s: float, what: str) -> datetime:
    """Until every company has a current vector (and a score, when there are labels) and the
    encoder's HNSW index is ready (a bulk embedding builds it after the last batch:
    embedding.switching.defer_index). Returns when the last of these was done: the last score's
    time as the worker stamped it, so that the counts need asking only every half second (on a
    small machine, asking more often takes CPU from the encoder being timed), else the moment
    the last vector was seen; and the moment the index was first seen ready, looked up every
    0.1 s (one catalog row, not two counts)."""
    name, deadline = active.model_name(), time.monotonic() + timeout_s
    vectors = CompanyEmbedding.objects.current(name).filter(company_id__any_of=ids)
    scored_ones = Score.objects.filter(profile_id=profiles.current_id(), company_id__any_of=ids)
    index_ready_at, next_count = None, 0.0
    while True:
        if index_ready_at is None and hnsw.index_ready(name):
            index_ready_at = timezone.now()
        if time.monotonic() >= next_count:
            next_count = time.monotonic() + (0.5 if scored else 0.05)
            if vectors.count() == len(ids) and (not scored or scored_ones.count() == len(ids)):
                done = scored_ones.aggregate(last=Max("computed_at"))["last"] if scored else timezone.now()
                if index_ready_at is not None:
                    return max(done, index_ready_at)
        if time.monotonic() > deadline:
            raise CommandError(f"{what} were not embedded within {timeout_s:.0f} s (--timeout)")
        time.sleep(0.1)


def _wait_for_an_empty_queue(timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while queue.backlog() != 0:
        if time.monotonic() > deadline:
            raise CommandError(f"the workers' queue did not empty within {timeout_s:.0f} s (--timeout)")
        time.sleep(0.1)
    time.sleep(1)  # the last task taken off the queue is done in well under a second


# --- Its own queue and workers ------------------------------------------------------------


@contextlib.contextmanager
def own_broker(home: Path) -> Iterator[str]:
    """A Redis of its own for the run: this process sends to it, the workers read from it."""
    url = devstack.ensure_redis(home)
    original = app.conf.broker_url
    _use_broker(url)
    try:
        yield url
    finally:
        _use_broker(original)
        devstack.stop_redis(home)


def _use_broker(url: str) -> None:
    app.conf.broker_url = url
    app._after_fork()  # drop pooled connections to the previous broker (what Celery does after a fork)
    queue._failed_at = None


@contextlib.contextmanager
def running_workers(
    count: int, home: Path, log: Callable, *, queues: list[str] | None = None
) -> Iterator[list[subprocess.Popen]]:
    """`count` real `celery -A leads worker` processes (one task at a time each) on the
    benchmark's database and queue, worker i on `queues[i]` ("bulk", "interactive"; default:
    both); stopped (warm shutdown) at the end."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "REDIS_URL": app.conf.broker_url,
        "SECRET_KEY": settings.SECRET_KEY,  # DATABASE_URL without DEBUG asks for one
        "EMBEDDING_MODEL": settings.EMBEDDING_MODEL,
    }
    started: list[tuple[subprocess.Popen, Path]] = []
    try:
        for number in range(count):
            log_path = home / f"worker-{number}.log"
            command = [
                sys.executable, "-m", "celery", "-A", "leads", "worker", "--pool=solo", "--loglevel=INFO",
                "--without-heartbeat", "--without-mingle", "--without-gossip",
                f"--hostname=bench-embedding-{number}-{os.getpid()}@%h",
                *([f"--queues={queues[number]}"] if queues else []),
            ]  # fmt: skip
            with log_path.open("wb") as output:
                process = subprocess.Popen(
                    command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
                )
            started.append((process, log_path))
        for process, log_path in started:
            _wait_until_ready(process, log_path)
        log(f"{count} worker(s) ready")
        yield [process for process, _ in started]
    finally:
        for process, _ in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_until_ready(process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while " ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise CommandError(f"a benchmark worker did not start; the end of {log_path}:\n{tail}")
        time.sleep(0.2)


def _database_url(db: dict) -> str:
    """The benchmark's database as a URL for the worker processes."""
    if db["HOST"].startswith("/"):  # the embedded Postgres, over its unix socket
        return devstack.postgres_url(db["HOST"], db["NAME"])
    credentials = quote(db["USER"], safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{credentials}@{db['HOST']}{port}/{quote(db['NAME'], safe='')}"
