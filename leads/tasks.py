"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging
import threading

from celery import shared_task
from celery.signals import worker_process_init, worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from leads.companies import distribution as fit_distribution
from leads.core import locks, queue
from leads.embedding import active, hnsw
from leads.embedding import services as embeddings
from leads.embedding import switching as encoders
from leads.imports import services as imports
from leads.imports.csvfiles import UnreadableFile
from leads.imports.jobs import ImportFailed
from leads.map import services as maps
from leads.models import ImportJob, OutcomeImport
from leads.outcomes import services as outcomes
from leads.review import snapshots as quality
from leads.scoring import services as scores
from leads.scoring import snapshots as score_history
from leads.scoring import vector_copy
from leads.webhooks import services as webhooks

log = logging.getLogger(__name__)

# Temporary faults: the database restarting or unreachable, a dropped connection. The task is
# retried with backoff (1, 2, 4 ... 60 s, about ten minutes in all); past that the periodic
# sweep redoes the work, since the database still says what is pending.
RETRY = {
    "autoretry_for": (OperationalError, InterfaceError, ConnectionError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 12,
}


def _next_in_turn(task, stream: str | None) -> None:
    """A task of a stream (queue.send_in_turn) sends the stream's next task as it starts, once
    (not again on a retry), so the stream keeps its window full while this one runs."""
    if stream and not task.request.retries:
        queue.send_next(task.name, stream)


@shared_task(name="leads.embed_companies", bind=True, **RETRY)
def embed_companies(self, company_ids: list[int], target: bool = False, stream: str | None = None) -> int:
    """Embed and score; with `target`, only embed, for the encoder a switch_model moves to."""
    _next_in_turn(self, stream)
    if target:
        return len(embeddings.embed_companies(company_ids, target=True))
    embedded = embeddings.embed_and_score(company_ids)
    # The batch that embeds the last company builds the index a bulk embedding dropped, after its
    # scores (one catalog lookup a batch while the index is there).
    hnsw.build_missing_index()
    return len(embedded)


@shared_task(name="leads.apply_label_changes", **RETRY)
def apply_label_changes(profile_id: int | None = None) -> int:
    """The incremental rescore of a profile; a burst of labels queues many of these, the first
    takes them all. Without a profile (the beat's safety net), every profile with changes waiting."""
    # None is not "the first profile": the beat's "pending-verdicts" entry sends this with no argument.
    profiles = scores.profiles_pending() if profile_id is None else [profile_id]
    return sum(scores.apply_label_changes(profile) for profile in profiles)


@shared_task(name="leads.rescore_chunk", bind=True, **RETRY)
def rescore_chunk(self, profile_id: int, lo: int, hi: int, stream: str | None = None) -> int:
    """One chunk of a profile's full rescore: any worker, on any machine, takes any chunk."""
    _next_in_turn(self, stream)
    return scores.rescore_chunk(profile_id, lo, hi)


@shared_task(name="leads.rescore_all", **RETRY)
def rescore_all() -> int:
    """A full rescore of every profile, in chunk tasks; returns how many."""
    return sum(scores.queue_full_rescore(profile_id) for profile_id in scores.scoring_profiles())


@shared_task(name="leads.keep_fit_distribution", **RETRY)
def keep_fit_distribution(profile_id: int) -> bool:
    """A big profile's distribution of fits made again after its scores changed (pages ask)."""
    queue.started_once(fit_distribution.ask_key(profile_id))  # a write from now on may ask again
    return scores.keep_distribution(profile_id)


@shared_task(name="leads.compute_map", **RETRY)
def compute_map() -> int | None:
    """Place newly embedded companies on the map; None when a run is already under way."""
    run = maps.compute_map()
    return None if run is None else run.placed


@shared_task(name="leads.sweep")
def sweep() -> None:
    """Redo whatever a crash, a database outage or a Redis outage dropped. Celery beat sends it
    every SWEEP_SECONDS and each worker once on start; every step is idempotent, and one
    sweep runs at a time (the others return at once).

    A bulk task (settings.CELERY_TASK_ROUTES), though it applies pending label changes: when the
    bulk queue is idle it builds the HNSW index, finishes a model switch, scans every company for
    a missing score and records the quality snapshot, each of which can take minutes, and the
    interactive worker must stay free for verdicts. Verdicts queue their own label pass on the
    interactive queue; the sweep only redoes those a Redis outage dropped."""
    with locks.try_hold(locks.SWEEP) as ours:
        if not ours:
            return
        # Work still queued will run: re-queue missing embeddings and imports only once the
        # queue has drained (else a million-company import would be queued again every sweep).
        idle = queue.backlog() == 0
        if idle:
            embeddings.queue_pending_embeddings()
            imports.queue_waiting_imports()
            outcomes.queue_waiting_imports()  # deals files confirmed whose task Redis lost
            encoders.queue_missing()  # a switch_model's companies that no batch covers
            hnsw.build_missing_index()  # the HNSW index a bulk embedding dropped, once all are embedded
            webhooks.send_due()  # webhook deliveries due whose task Redis lost (or whose worker died)
        encoders.finish()  # a switch_model whose companies are all embedded: scoring moves over
        scores.heal(scan=idle)
        if idle:  # companies embedded since the map was computed: a scan at most every maps.CHECK_INTERVAL
            maps.queue_map_if_due()
        if idle:  # each profile's quality trend and its scores today, for the review page and the
            # outcomes report: one snapshot of each a day
            for profile_id in scores.scoring_profiles():
                quality.record_quality_if_due(profile_id)
                score_history.take_snapshot_if_due(profile_id=profile_id)
        outcomes.remember_bands_before()  # deals whose task Redis lost (a query a profile when none)


@worker_ready.connect
def _sweep_on_start(sender, **kwargs) -> None:
    sweep.delay()


@worker_process_init.connect
def _read_the_vectors_as_it_starts(**kwargs) -> None:
    """A process that keeps the vectors in memory (the interactive worker's: leads/celery.py) reads
    them as it starts, in a thread, not in the first verdict's pass (~15 s at a million
    companies); a pass meanwhile waits for the read."""
    if settings.SCORING_VECTORS_IN_MEMORY:
        threading.Thread(target=_read_the_vectors, name="leads-vector-copy", daemon=True).start()


def _read_the_vectors() -> None:
    try:
        vector_copy.warm(active.model_name())
    except Exception:  # no database yet, or no table: the first pass reads them
        log.warning("the vectors were not read at start", exc_info=True)
    finally:
        connection.close()


@shared_task(name="leads.deliver_webhook", **RETRY)
def deliver_webhook(delivery_id: int) -> str | None:
    """One attempt at a webhook delivery (bulk queue: a rep's click never waits on a receiver);
    a failed one sends itself again after its backoff."""
    return webhooks.deliver(delivery_id)


@shared_task(name="leads.remember_bands_before", **RETRY)
def remember_bands_before() -> int:
    """Keep each newly decided deal's band before it (a deals import's, read off the snapshots)."""
    return outcomes.remember_bands_before()


@shared_task(name="leads.queue_import_embeddings")
def queue_import_embeddings(job_id: int) -> int:
    return imports.queue_import_embeddings(job_id)


@shared_task(name="leads.run_import")
def run_import(job_id: int) -> None:
    try:
        imports.run_import(ImportJob.objects.get(pk=job_id))
    except (ImportFailed, UnreadableFile):
        pass  # recorded on the job, which the progress page shows


@shared_task(name="leads.run_outcome_import")
def run_outcome_import(job_id: int) -> None:
    """A deals file a manager confirmed on the web (bulk queue: matching a file's deals and writing
    their verdicts is no click's work)."""
    try:
        outcomes.run_import(OutcomeImport.objects.get(pk=job_id))
    except (ImportFailed, UnreadableFile):
        pass  # recorded on the job, which its page shows
