"""Celery tasks: thin wrappers that take ids and call services."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

from leads.services import embeddings, scores

log = logging.getLogger(__name__)


@shared_task(name="leads.embed_companies", autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def embed_companies(company_ids: list[int]) -> int:
    embedded = embeddings.embed_companies(company_ids)
    if embedded:
        scores.score_new_embeddings(embedded)
    return len(embedded)


@shared_task(name="leads.rescore_if_labels_changed", bind=True, max_retries=None)
def rescore_if_labels_changed(self) -> bool:
    done = scores.rescore_if_labels_changed()
    if done is None:  # another worker is rescoring; come back for the labels it may miss
        raise self.retry(countdown=2)
    return done


@shared_task(name="leads.sweep")
def sweep() -> None:
    """Redo whatever a crash or a Redis outage may have dropped: both steps are idempotent."""
    from leads.services.imports import queue_waiting_imports

    embeddings.queue_pending_embeddings()
    queue_waiting_imports()
    rescore_if_labels_changed.delay()


@worker_ready.connect
def _sweep_on_start(sender, **kwargs) -> None:
    sweep.delay()


@shared_task(name="leads.queue_import_embeddings")
def queue_import_embeddings(job_id: int) -> int:
    from leads.services.imports import queue_import_embeddings as queue

    return queue(job_id)


@shared_task(name="leads.run_import")
def run_import(job_id: int) -> None:
    from leads.csvfiles import UnreadableFile
    from leads.models import ImportJob
    from leads.services.imports import ImportFailed
    from leads.services.imports import run_import as run

    try:
        run(ImportJob.objects.get(pk=job_id))
    except (ImportFailed, UnreadableFile):
        pass  # recorded on the job, which the progress page shows
