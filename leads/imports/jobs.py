"""An uploaded table's import as a worker runs it, whatever the table holds (companies: ImportJob,
imports.services; deals: OutcomeImport, outcomes.services): the upload's size limit, the run
confirmed once and sent after the commit, sent again by the sweep while it waits, held by one run
at a time, all in one transaction, and ended done or failed with a sentence that says why; the
rows read shown to the progress page while that transaction is still open."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from leads.core import locks
from leads.core.queue import enqueue_on_commit, send
from leads.imports import csvfiles
from leads.models import ImportState, UploadedTable

log = logging.getLogger(__name__)

Job = TypeVar("Job", bound=UploadedTable)


class ImportFailed(Exception):
    """A run failed for another reason than the file, and nothing of it was kept; the job says why."""


def choose_profile(job: UploadedTable, profile_id: int) -> None:
    """The profile the file's verdicts go to: a companies file's column mapped to "label", or a
    deals file's outcomes while they count as verdicts."""
    type(job).objects.filter(pk=job.pk).update(profile_id=profile_id)
    job.profile_id = profile_id


def check_size(size: int) -> None:
    size_mb = size / 1024 / 1024
    if size_mb > settings.IMPORT_MAX_UPLOAD_MB:
        raise csvfiles.UnreadableFile(
            f"The file is {size_mb:,.1f} MB; the limit is {settings.IMPORT_MAX_UPLOAD_MB} MB "
            "(IMPORT_MAX_UPLOAD_MB): split it into smaller files."
        )


def confirm(job: UploadedTable, *, task: str) -> bool:
    """Queue the job's run (the task `task`, given the job's id) for a worker, once: a second click
    on Confirm does nothing."""
    queued = type(job).objects.filter(pk=job.pk, state=ImportState.PENDING).update(state=ImportState.QUEUED)
    if queued:
        job.state = ImportState.QUEUED
        enqueue_on_commit(task, job.pk)
    return bool(queued)


def queue_waiting(model: type[UploadedTable], *, task: str) -> int:
    """Send `task` again for the confirmed jobs whose task a Redis outage may have lost (the sweep);
    a duplicate run is a no-op."""
    waiting = list(model.objects.filter(state=ImportState.QUEUED).values_list("pk", flat=True))
    for pk in waiting:
        send(task, pk)
    return len(waiting)


def run(job: Job, *, lock: int, work: Callable[[Job], None], ended: Callable[[Job], None] | None = None) -> Job:
    """Run `work(job)` in one transaction, once: a redelivered or re-sent task finds the job held
    (the advisory lock `lock`, keyed by the job) or done, and leaves it. The job is running
    meanwhile, then done, or failed with the reason (a file that cannot be read says what is wrong
    with it; any other error is logged, and ImportFailed raised); `ended(job)` follows either."""
    with locks.try_hold(lock, job.pk) as ours:
        job.refresh_from_db(fields=["state"])
        if not ours or job.state == ImportState.DONE:
            return job  # a redelivered or re-sent task: another run has it, or had it
        type(job).objects.filter(pk=job.pk).update(state=ImportState.RUNNING)
        job.state = ImportState.RUNNING
        try:
            with transaction.atomic():
                work(job)
        except csvfiles.UnreadableFile as error:
            _end(job, ImportState.FAILED, str(error), ended)
            raise
        except Exception as error:
            log.exception("%s %s failed; nothing of it was kept", type(job).__name__, job.pk)
            reason = f"The import failed and nothing of it was kept ({type(error).__name__}: {error})."
            _end(job, ImportState.FAILED, reason, ended)
            raise ImportFailed(job.error) from error
        _end(job, ImportState.DONE, "", ended)
    return job


def _end(job: Job, state: ImportState, error: str, ended: Callable[[Job], None] | None) -> None:
    job.state, job.error, job.finished_at = state, error, timezone.now()
    job.save()
    if ended is not None:
        ended(job)


def publish_rows_read(job: UploadedTable) -> None:
    """Show the rows read so far to other sessions while the run's transaction is still open, on a
    side connection."""
    params = connection.get_connection_params()
    table = type(job)._meta.db_table
    try:
        with psycopg.connect(**params, autocommit=True) as side:
            side.execute(f"update {table} set rows_read = %s where id = %s", [job.rows_read, job.pk])
    except psycopg.Error:
        log.warning("could not publish progress of %s %s", type(job).__name__, job.pk)
