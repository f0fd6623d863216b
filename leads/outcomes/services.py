"""Outcomes in: a deals file kept and described, confirmed once and imported by a worker
(imports.jobs, as a companies file is), its deals stored as outcomes (one per CRM and deal id: a
re-import updates, never duplicates), and the choice whether outcomes count as verdicts. Verdicts are written only through scoring.labels (source "outcome"), so the history,
the current verdict and the rescore follow as for any verdict."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from leads.core import locks
from leads.core.queue import enqueue_on_commit
from leads.crm.names import crm_slug
from leads.imports import jobs, tabular
from leads.imports.csvfiles import UnreadableFile
from leads.models import (
    Company,
    Label,
    LabelSource,
    Outcome,
    OutcomeBand,
    OutcomeImport,
    OutcomeSettings,
    Profile,
    Stage,
    Verdict,
)
from leads.models.lookups import id_array
from leads.outcomes import deals as deal_rows
from leads.outcomes import report, selectors
from leads.outcomes.matching import Reading, read_file
from leads.profiles import selectors as profiles
from leads.scoring import labels
from leads.webhooks import events as webhooks

# What a decided outcome says, as a verdict.
VERDICT_OF = {Stage.WON: Verdict.LIKE, Stage.LOST: Verdict.DISLIKE}
# Every deal row names its company: a re-import always says which, and by which key it found it.
_ALWAYS = ("company_id", "matched_by")
_FIELDS = ("company_id", "stage", "stage_as_written", "closed_on", "amount", "currency", "deal_name", "matched_by")


def create_import(*, path: Path | str, crm: str = "", user=None, original_name: str = "") -> OutcomeImport:
    path = Path(path)
    with path.open("rb") as stream:
        return create_import_from_stream(stream, name=original_name or path.name, size=path.stat().st_size,
                                         crm=crm, user=user)  # fmt: skip


def create_import_from_stream(stream: BinaryIO, *, name: str, size: int, crm: str = "", user=None) -> OutcomeImport:
    """Keep the file, read its format and headers, suggest the columns and say whose CRM it is
    (`crm`, else by its headers); UnreadableFile says what is wrong with the file."""
    job = describe(stream, name=name, size=size, crm=crm, user=user)
    job.file.save(Path(name).name or "deals.csv", File(stream), save=False)
    job.save()
    return job


def describe(stream: BinaryIO, *, name: str, size: int, crm: str = "", user=None) -> OutcomeImport:
    """The job for a file, unsaved and without the file: what a dry run reads it with."""
    jobs.check_size(size)
    table = tabular.describe(stream, size=size, rows=deal_rows.DEALS)
    dialect = table.dialect
    job = OutcomeImport(user=user, original_name=name, headers=dialect.headers, encoding=dialect.encoding,
                        rows_estimate=table.rows_estimate)  # fmt: skip
    job.delimiter, job.sheet = ("", dialect.sheet) if tabular.is_workbook(dialect) else (dialect.delimiter, None)
    job.mapping = {str(i): target for i, target in deal_rows.suggest_mapping(dialect.headers).items()}
    job.crm = crm_slug(crm) or deal_rows.guess_crm(dialect.headers)
    return job


def choose(job: OutcomeImport, *, columns: dict[int, str] | None = None, stages: dict[str, str] | None = None,
           crm: str | None = None, save: bool = True, replace: bool = False) -> OutcomeImport:  # fmt: skip
    """A manager's (or --column / --stage / --crm) choices on the preview, kept on the job: `columns`
    (index -> field) change those columns (`replace`: are the whole mapping, the preview's form)."""
    if replace:
        job.mapping = {str(i): t for i, t in (columns or {}).items()}
    elif columns:
        mapping = {i: t for i, t in job.column_mapping().items() if t not in columns.values() or i in columns}
        job.mapping = {str(i): t for i, t in {**mapping, **columns}.items()}
    if stages is not None:
        job.stages = {deal_rows.fold_stage(k): v for k, v in stages.items() if v in deal_rows.STAGES}
    if crm is not None:
        job.crm = crm_slug(crm)
    if save:
        job.save(update_fields=["mapping", "stages", "crm"])
    return job


def start_import(job: OutcomeImport) -> bool:
    """Queue the import for a worker (the task leads.run_outcome_import), once: a second click on
    Import does nothing. The choices made on the preview are kept on the job already."""
    return jobs.confirm(job, task="leads.run_outcome_import")


def queue_waiting_imports() -> int:
    """Re-send confirmed deals imports whose task a Redis outage may have lost (the sweep)."""
    return jobs.queue_waiting(OutcomeImport, task="leads.run_outcome_import")


def run_import(job: OutcomeImport) -> OutcomeImport:
    """Import the job's file in one transaction, once (imports.jobs.run): done, or failed with the
    reason on the job (UnreadableFile or ImportFailed raised); import.finished tells the webhooks."""
    return jobs.run(job, lock=locks.OUTCOME_IMPORT, work=_import, ended=webhooks.import_finished)


def _import(job: OutcomeImport) -> None:
    """Store the file's deals as outcomes; record counts and every reject on the job; when outcomes
    count as verdicts, write theirs (scoring.labels) for the companies touched."""

    def read_so_far(rows: int) -> None:
        job.rows_read = rows
        jobs.publish_rows_read(job)

    if doubled := deal_rows.doubled_columns(job.column_mapping(), job.headers):
        raise UnreadableFile(doubled)  # the preview refuses it; a command's --column may not (the job fails, saying so)
    reading = read_file(job, progress=read_so_far)
    created, updated, unchanged = _upsert(job, reading)
    job.rows_read, job.created, job.updated, job.unchanged = reading.rows, created, updated, unchanged
    # The deals kept without an amount (it could not be read) are counted beside the matches.
    job.rejected, job.matched = len(reading.rejected), {**reading.counts, "amount_unread": len(reading.unread_amounts)}
    job.rejected_rows = [{"line": r.line, "reason": r.reason, "values": r.values} for r in reading.rejected]
    # Reading a band before each deal takes a snapshot read a day (seconds for a year of deals at a
    # million companies): a worker does it after the commit, the report reads the rest meanwhile.
    enqueue_on_commit("leads.remember_bands_before")
    profile_id = job.profile_id or profiles.current_id()
    if selectors.outcomes_count(profile_id):
        apply_outcome_verdicts(company_ids=[m.company_id for m in reading.matched], profile_id=profile_id)


def _upsert(job: OutcomeImport, reading: Reading) -> tuple[int, int, int]:
    """(created, updated, unchanged); a deal twice in one file: its last row counts."""
    latest = {m.deal.key: m for m in reading.matched}
    existing = {o.deal_id: o for o in Outcome.objects.filter(crm=job.crm, deal_id__in=list(latest))}
    now, new, changed = timezone.now(), [], []
    for key, found in latest.items():
        deal = found.deal
        values = {"company_id": found.company_id, "stage": deal.stage, "stage_as_written": deal.stage_as_written,
                  "closed_on": deal.closed_on, "amount": deal.amount, "currency": deal.currency,
                  "deal_name": deal.deal_name, "matched_by": found.by}  # fmt: skip
        decided = now if deal.stage != Stage.OPEN else None
        outcome = existing.get(key)
        if outcome is None:
            new.append(Outcome(crm=job.crm, deal_id=key, source=job, decided_at=decided, **values))
            continue
        # A re-import writes what its file says, and keeps what it does not (a column it lacks).
        said = {name: value for name, value in values.items() if name in _ALWAYS or name in deal.carries}
        if any(getattr(outcome, name) != value for name, value in said.items()):
            if "stage" in said and outcome.stage != deal.stage:
                outcome.decided_at = decided  # decided now (or open again): the proof reads its band before this
            for name, value in said.items():
                setattr(outcome, name, value)
            changed.append(outcome)  # from this file, its bands before read again
    Outcome.objects.bulk_create(new)
    if changed:
        columns = [[getattr(outcome, name) for outcome in changed] for name in _FIELDS]
        with connection.cursor() as cursor:
            cursor.execute(_UPDATE_CHANGED, [job.pk, now, id_array(o.pk for o in changed),
                                             [o.decided_at for o in changed], *columns])  # fmt: skip
        # Their bands before are read again, in every profile: company, close date or decision may have moved.
        OutcomeBand.objects.filter(outcome_id__any_of=[o.pk for o in changed]).delete()
    return len(new), len(changed), len(latest) - len(new) - len(changed)


# The changed deals of a re-import, from arrays in the order of their ids (unnest: a row per deal;
# Django's bulk_update writes a CASE per field and row, which grows with the square of the deals:
# docs/benchmarks.md, *A re-import that changes its deals*).
_UPDATE_CHANGED = """
update leads_outcome o
set source_id = %s, updated_at = %s, decided_at = t.decided_at, company_id = t.company_id,
    stage = t.stage, stage_as_written = t.stage_as_written, closed_on = t.closed_on, amount = t.amount,
    currency = t.currency, deal_name = t.deal_name, matched_by = t.matched_by
from unnest(%s::bigint[], %s::timestamptz[], %s::bigint[], %s::text[], %s::text[], %s::date[], %s::numeric[],
            %s::text[], %s::text[], %s::text[])
    as t(id, decided_at, company_id, stage, stage_as_written, closed_on, amount, currency, deal_name, matched_by)
where o.id = t.id
"""


def remember_bands_before(*, company_ids: list[int] | None = None) -> int:
    """Keep for each decided outcome not read yet in a profile (of these companies, or all) its
    company's band and rank in that profile's last snapshot before it (outcomes.report.bands_before),
    in every profile; how many (profile, deal) were read. A task after each deals import runs it,
    and the sweep (for a task Redis lost)."""
    decided = Outcome.objects.exclude(stage=Stage.OPEN).exclude(decided_at=None)
    if company_ids is not None:
        decided = decided.filter(company_id__in=company_ids)
    read = 0
    for profile_id in Profile.objects.order_by("pk").values_list("pk", flat=True):
        kept = OutcomeBand.objects.filter(profile_id=profile_id, outcome=OuterRef("pk"))
        outcomes = list(decided.exclude(Exists(kept)).only("pk", "company_id", "closed_on", "decided_at"))
        if not outcomes:
            continue
        cutoffs = [report.cutoff_of(o.closed_on, o.decided_at) for o in outcomes]
        ids = np.array([o.company_id for o in outcomes], np.int64)
        found = report.bands_before(profile_id, [o.pk for o in outcomes], ids, cutoffs)
        with connection.cursor() as cursor:  # one statement, however many (bulk_create: an object per row)
            cursor.execute(_KEEP_BEFORE, [profile_id, id_array(o.pk for o in outcomes), [b.day for b in found],
                                          [b.band for b in found], [b.top for b in found]])  # fmt: skip
        read += len(outcomes)
    return read


# Each outcome's band before in a profile, from arrays in the order of its ids (unnest: a row per
# outcome); a deal read again (a re-import changed it) replaces what was kept.
_KEEP_BEFORE = """
insert into leads_outcomeband (profile_id, outcome_id, snapshot_before, band_before, top_before)
select %s, t.id, t.day, t.band, t.top
from unnest(%s::bigint[], %s::date[], %s::text[], %s::float8[]) as t(id, day, band, top)
on conflict (profile_id, outcome_id) do update set
    snapshot_before = excluded.snapshot_before, band_before = excluded.band_before, top_before = excluded.top_before
"""


def latest_decided(company_ids: list[int] | None = None) -> dict[int, str]:
    """company id -> won / lost of its latest decided outcome (by close date, else when decided)."""
    decided = Outcome.objects.exclude(stage=Stage.OPEN)
    if company_ids is not None:
        decided = decided.filter(company_id__in=company_ids)
    ordered = decided.order_by("company_id", F("closed_on").desc(nulls_last=True), "-decided_at", "-pk")
    return dict(ordered.distinct("company_id").values_list("company_id", "stage"))


def apply_outcome_verdicts(*, company_ids: list[int] | None = None, profile_id: int) -> int:
    """Make each company's latest decided outcome its verdict in the profile (won: like, lost:
    dislike), over a rep's; how many verdicts changed. Of `company_ids` (None: every company with
    a decided deal). Open deals say nothing."""
    wanted = [(pk, VERDICT_OF[Stage(stage)]) for pk, stage in latest_decided(company_ids).items()]
    return labels.label_companies(profile_id=profile_id, verdicts=wanted, user=None, source=LabelSource.OUTCOME)


def restore_rep_verdicts(*, user=None, profile_id: int) -> int:
    """Give every company whose current verdict in the profile an outcome wrote its reps' own
    latest verdict there back (or none), as `user`'s label (source restored: it settles no
    disagreement between reps); how many verdicts changed."""
    with_deals = Company.objects.filter(pk__in=Outcome.objects.values("company_id"))  # not every company
    by_outcome = with_deals.annotate(last_source=Label.objects.current_of_company("source", profile_id)).filter(
        last_source=LabelSource.OUTCOME
    )
    ids = list(by_outcome.values_list("pk", flat=True))
    own = Label.objects.filter(profile_id=profile_id, company_id__in=ids).exclude(source=LabelSource.OUTCOME)
    reps = dict(
        own.order_by("company_id", "-created_at", "-pk").distinct("company_id").values_list("company_id", "verdict")
    )
    wanted = [(pk, reps.get(pk, Verdict.CLEAR)) for pk in ids]
    return labels.label_companies(profile_id=profile_id, verdicts=wanted, user=user, source=LabelSource.RESTORED)


@transaction.atomic
def set_outcomes_count(*, count: bool, user=None, profile_id: int) -> int:
    """Turn "outcomes count as verdicts" on (every company's latest outcome becomes its verdict in
    the profile) or off (reps' own verdicts come back); how many verdicts changed. Nothing when it
    is already so."""
    settings, _ = OutcomeSettings.objects.get_or_create(profile_id=profile_id)
    if settings.count_as_verdicts == count:
        return 0
    OutcomeSettings.objects.filter(profile_id=profile_id).update(
        count_as_verdicts=count, changed_by=user, changed_at=timezone.now()
    )
    if count:
        return apply_outcome_verdicts(profile_id=profile_id)
    return restore_rep_verdicts(user=user, profile_id=profile_id)
