"""What an import's progress page and `import_companies` show: rows read, then companies embedded,
then scored (and a switch_model under way). Read-side only; the import itself is services.imports."""

from __future__ import annotations

from django.db.models import Count, Q

from leads import embedding
from leads.models import Company, ImportJob
from leads.services import encoders, scores


def import_progress(job: ImportJob) -> dict:
    """What the progress bars show: rows read, then companies embedded, then scored."""
    job.refresh_from_db()
    # Labelled companies are not scored; others are once a label exists anywhere.
    any_labels = Company.objects.labelled().exists()
    total = embedded = scored = 0
    if job.state == ImportJob.State.DONE:  # one pass over the import's companies per poll
        counts = (
            Company.objects.filter(import_job=job)
            .with_embedding_status(embedding.model_name())
            .aggregate(
                total=Count("pk"),
                embedded=Count("pk", filter=Q(is_embedded=True)),
                scored=Count("pk", filter=Q(score__isnull=False) | ~Q(verdict="")),
            )
        )
        total, embedded = counts["total"], counts["embedded"]
        scored = counts["scored"] if any_labels else 0
    scores_current = scores.scores_are_current()
    switch = encoders.progress()  # a switch_model under way shows here too
    return {
        "switch_target": switch.target,
        "switch_embedded": switch.embedded,
        "switch_total": switch.total,
        "state": job.state,
        "state_display": job.get_state_display(),
        "rows_read": job.rows_read,
        "rows_estimate": max(job.rows_estimate, job.rows_read),
        "companies": total,
        "embedded": embedded,
        "scored": scored,
        "scoring": any_labels,
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "duplicates": job.duplicates,
        "rejected": job.rejected,
        "labels": job.labels,
        "error": job.error,
        "finished": job.state == ImportJob.State.FAILED
        or (
            job.state == ImportJob.State.DONE
            and embedded >= total
            and (not any_labels or (scored >= total and scores_current))
        ),
    }
