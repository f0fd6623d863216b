"""What an import's progress page and `import_companies` show: rows read, then companies embedded,
then scored (and a switch_model under way); the part every uploaded table's run shows (a deals
file's too: outcomes.selectors). Read-side only; the import itself is imports.services."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q

from leads.embedding import active
from leads.imports import csvfiles, headers, numbers, tabular
from leads.imports.csvfiles import UnreadableFile
from leads.models import Company, CurrentVerdict, ImportJob, ImportState, Score, UploadedTable
from leads.scoring import reads

PREVIEW_ROWS = 10


@dataclass(frozen=True)
class ImportPreview:
    """What the preview page shows of the file, from one reading of it."""

    rows: list[list[str]]  # the first PREVIEW_ROWS rows, cut to the header's width
    mapping_problem: str  # what the mapping lacks, or ''
    unreadable: str = ""  # how many values of the typed columns in the sampled rows are not numbers
    note: str = ""  # what the import will do that the manager should know (csvfiles.NO_DESCRIPTION_NOTE)


def import_preview(job: ImportJob, mapping: dict[int, str] | None = None) -> ImportPreview:
    """The file's first rows and the problem of the mapping (the job's, or one posted), reading the
    file once: a workbook's string table is parsed on every reading."""
    with job.file.open("rb") as stream:
        rows = tabular.sample_rows(stream, job.dialect())
    mapping = job.column_mapping() if mapping is None else mapping
    # Which columns could be the description, as imports.check_mapping asks, from the same rows.
    ties = [] if "description" in mapping.values() else headers.suggest_mapping(job.headers, rows).description_ties
    unreadable = _unreadable(rows, mapping)
    try:
        csvfiles.check_columns(mapping, job.headers, ties, workbook=tabular.is_workbook(job.dialect()))
    except UnreadableFile as problem:
        return ImportPreview(rows[:PREVIEW_ROWS], str(problem), unreadable)
    note = "" if "description" in mapping.values() else csvfiles.NO_DESCRIPTION_NOTE
    return ImportPreview(rows[:PREVIEW_ROWS], "", unreadable, note)


def _unreadable(rows: list[list[str]], mapping: dict[int, str]) -> str:
    """The values of the columns kept as employees, founded or revenue in the sampled rows that are
    not numbers (numbers.read_numbers), in words."""
    typed = {i: target[6:] for i, target in mapping.items() if target[6:] in numbers.COLUMNS and target[:6] == "extra:"}
    counts: dict[str, int] = {}
    for row in rows:
        read = numbers.read_numbers({column: row[i].strip() for i, column in typed.items() if i < len(row)})
        numbers.count_unreadable(counts, read)
    return numbers.unreadable_sentence(counts, within=f"in the first {len(rows):,} rows")


def import_progress(job: ImportJob, *, profile_id: int) -> dict:
    """What the progress bars show: rows read, then companies embedded, then scored in the profile."""
    job.refresh_from_db()
    # Labelled companies are not scored; others are once a label exists anywhere in the profile.
    any_labels = Company.objects.labelled(profile_id).exists()
    total = embedded = scored = no_description = 0
    if job.state == ImportJob.State.DONE:  # one pass over the import's companies per poll
        # Scored or labelled in the profile, annotated as flags like is_embedded: an aggregate
        # over in_profile's annotations wraps them in a subquery, which Django cannot relabel for
        # the score's composite key.
        counts = (
            Company.objects.of_import(job.pk)
            .with_embedding_status(active.model_name())
            .annotate(
                scored_here=Exists(Score.objects.filter(profile_id=profile_id, company_id=OuterRef("pk"))),
                labelled_here=Exists(CurrentVerdict.objects.filter(profile_id=profile_id, company_id=OuterRef("pk"))),
            )
            .aggregate(
                total=Count("pk"),
                embedded=Count("pk", filter=Q(is_embedded=True)),
                scored=Count("pk", filter=Q(scored_here=True) | Q(labelled_here=True)),
                no_description=Count("pk", filter=Q(description="")),
            )
        )
        total, embedded, no_description = counts["total"], counts["embedded"], counts["no_description"]
        scored = counts["scored"] if any_labels else 0
    scores_current = reads.scores_are_current(profile_id)
    switch = active.progress()  # a switch_model under way shows here too
    return {
        **run_progress(job, counted=job.rows_counted_on_upload),
        "switch_target": switch.target,
        "switch_embedded": switch.embedded,
        "switch_total": switch.total,
        "companies": total,
        "embedded": embedded,
        "scored": scored,
        "scoring": any_labels,
        "duplicates": job.duplicates,
        "labels": job.labels,
        "unreadable": job.unreadable_sentence,
        "no_description": no_description_sentence(no_description),
        "crm": job.crm_summary,
        "finished": job.state == ImportJob.State.FAILED
        or (
            job.state == ImportJob.State.DONE
            and embedded >= total
            and (not any_labels or (scored >= total and scores_current))
        ),
    }


def no_description_sentence(count: int) -> str:
    """What the report says of the import's companies without a description ('' for none): kept, as
    the README promises, and flagged where scores show."""
    if not count:
        return ""
    companies = "1 company has" if count == 1 else f"{count:,} companies have"
    return (
        f"{companies} no description: kept, and scored from the name and industry only (flagged “name only”"
        " beside the fit) until an import or an edit gives one."
    )


def run_progress(job: UploadedTable, *, counted: bool = False) -> dict:
    """What any uploaded table's progress shows while a worker runs it (imports.jobs), the job read
    as it is: its state, the rows read (of how many: counted on upload where `counted`, else about
    how many, the first 256 kB scaled to the file's size, until the run has counted them), what the
    run did and why it failed."""
    done = job.state == ImportState.DONE
    return {
        "state": job.state,
        "state_display": job.get_state_display(),
        "rows_read": job.rows_read,
        # "0 of 5" while a file counted on upload waits or is read, "0 of about 5" while one whose
        # rows were estimated is; once the import has read it, "5 rows" (not "5 of about 5").
        "rows_exact": done or counted,
        "rows_counted": done,
        "rows_estimate": job.rows_read if done else max(job.rows_estimate, job.rows_read),
        "rows_word": "row" if job.rows_read == 1 else "rows",
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "error": job.error,
    }
