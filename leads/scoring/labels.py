"""Giving and clearing verdicts, in one profile each: the only code that writes labels or current verdicts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, models, transaction

from leads.models import FIRST_PROFILE_ID, Company, Label, LabelSource, Profile, Verdict
from leads.scoring.services import labels_changed
from leads.webhooks import events as webhooks


class InvalidVerdict(ValueError):
    pass


def parse_verdict(value: object) -> Verdict:
    try:
        return Verdict(str(value).strip().lower())
    except ValueError:
        raise InvalidVerdict(f"verdict must be one of: like, dislike, clear (got {value!r})") from None


class ArchivedProfile(InvalidVerdict):
    pass


@transaction.atomic
def label_company(*, profile_id: int, company: Company, user, verdict: Verdict | str, source: LabelSource) -> Label:
    """Record a verdict (or a clear) in the profile's history, make it current there and queue
    its rescore. Giving the same verdict again is recorded too: the history shows every click."""
    ((_, label_id),) = _record(
        profile_id, verdicts=[(company.pk, verdict)], user=user, source=source, skip_unchanged=False
    )
    label = Label.objects.get(pk=label_id)
    company.verdict = "" if label.verdict == Verdict.CLEAR else label.verdict
    return label


@transaction.atomic
def label_companies(
    *, profile_id: int, verdicts: Sequence[tuple[int, Verdict | str]], user, source: LabelSource
) -> int:
    """Set many verdicts at once in the profile (an import, an admin bulk action); a company whose
    verdict there is already the given one is left alone. Returns how many companies changed.
    The labels written share a batch: one undo takes them all back."""
    return len(_record(profile_id, verdicts=verdicts, user=user, source=source, skip_unchanged=True, batch=True))


# The company rows are locked first (in id order, so two writers cannot deadlock) and each
# label is stamped with the clock after the lock, so concurrent verdicts on one company land
# in the history in the order they became current: the current verdict is the latest label.
_RECORD = """
with incoming as (
    select t.id, t.verdict, coalesce(v.verdict, '') as before
    from unnest(%(ids)s::bigint[], %(verdicts)s::text[]) as t(id, verdict) join leads_company c on c.id = t.id
    left join leads_currentverdict v on v.profile_id = %(profile)s and v.company_id = t.id
    where not %(skip_unchanged)s or coalesce(v.verdict, '') <> (case when t.verdict = 'clear' then '' else t.verdict end)
), history as (
    insert into leads_label (profile_id, company_id, user_id, verdict, source, created_at, batch)
    select %(profile)s, id, %(user)s, verdict, %(source)s, clock_timestamp(), %(batch)s::uuid from incoming order by id
    returning id, company_id, created_at
), cleared as (
    delete from leads_currentverdict v using incoming
    where v.profile_id = %(profile)s and v.company_id = incoming.id and incoming.verdict = 'clear'
), current as (
    insert into leads_currentverdict as v (profile_id, company_id, verdict, given_at)
    select %(profile)s, incoming.id, incoming.verdict, history.created_at
    from incoming join history on history.company_id = incoming.id where incoming.verdict <> 'clear'
    on conflict (profile_id, company_id) do update set verdict = excluded.verdict, given_at = excluded.given_at
)
select incoming.id, history.id, incoming.before = '' and incoming.verdict <> 'clear'
from incoming join history on history.company_id = incoming.id
"""


def _record(
    profile_id: int, *, verdicts, user, source: LabelSource, skip_unchanged: bool, batch: bool = False
) -> list[tuple[int, int]]:
    """The one writer of labels and current verdicts; returns (company id, label id) per label
    written, and records the changes for the profile's incremental rescore."""
    if not verdicts:
        return []
    profile = Profile.first() if profile_id == FIRST_PROFILE_ID else Profile.objects.get(pk=profile_id)
    if profile.archived_at is not None:
        raise ArchivedProfile(
            f"the profile {profile.name!r} is archived: it takes no verdicts (a manager can restore it)"
        )
    parsed = {int(company_id): parse_verdict(verdict).value for company_id, verdict in verdicts}
    ids = sorted(parsed)
    with connection.cursor() as cursor:
        # NO KEY UPDATE, not UPDATE: it still orders verdict writers on one company, but lets the
        # rescore write that company's score meanwhile (the score's foreign key takes a KEY SHARE
        # lock): with FOR UPDATE a clear and the pass that rescores the cleared company deadlocked.
        cursor.execute("select id from leads_company where id = any(%s) order by id for no key update", [ids])
        cursor.execute(
            _RECORD,
            {
                "profile": profile_id,
                "ids": ids,
                "verdicts": [parsed[i] for i in ids],
                "user": getattr(user, "pk", None),
                "source": LabelSource(source).value,
                "skip_unchanged": skip_unchanged,
                "batch": str(uuid.uuid4()) if batch and len(ids) > 1 else None,
            },
        )
        rows = cursor.fetchall()
    if rows:
        labels_changed(profile_id, [row[0] for row in rows], entered=[row[0] for row in rows if row[2]])
        webhooks.labelled(
            profile_id=profile_id,
            verdicts=[(row[0], parsed[row[0]]) for row in rows],
            user=user,
            source=LabelSource(source),
        )
    return [(company_id, label_id) for company_id, label_id, _ in rows]


@dataclass(frozen=True)
class Undo:
    label: Label  # the new label that gives the company back its verdict from before
    undid: int  # the label taken back (an undo stack skips both next time)


@dataclass(frozen=True)
class Superseded:
    """The latest label to undo was overridden since by someone else: theirs stands. An undo stack
    skips `undid` next time, so the next undo takes back the label before it."""

    undid: int
    company: Company
    by: str  # who labelled the company since (a username; "" for an import or an outcome)


@dataclass(frozen=True)
class BatchUndo:
    """A batch (a bulk verdict, a lasso) taken back at once: each company gets back the verdict it
    had just before it, except those someone else labelled since (theirs stand). An undo stack
    skips `undid` and `made` next time, and so both batches."""

    undid: int  # a label of the batch taken back
    made: int | None  # a label the undo wrote (None when every company was labelled since)
    restored: int  # companies given back their verdict from before
    kept: int  # companies labelled since by someone else
    by: tuple[str, ...]  # who labelled those since (usernames; "" for an import or an outcome)


@transaction.atomic
def undo_last(
    *, profile_id: int, user, source: LabelSource, skip: Sequence[int] = ()
) -> Undo | Superseded | BatchUndo | None:
    """Take back `user`'s latest label from `source` (those in `skip` aside, and the batches they
    belong to: labels already undone, or made by an undo): its company gets back the verdict it
    had just before, as a new label; a label given in a batch takes its whole batch back.
    None when there is nothing to undo; Superseded when someone else labelled that company since
    (their verdict stands, and the caller's stack moves past it)."""
    skipped = Label.objects.filter(pk__in=list(skip), batch__isnull=False).values("batch")
    last = (
        Label.objects.filter(profile_id=profile_id, user=user, source=source)
        .exclude(pk__in=list(skip))
        .exclude(batch__in=skipped)
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is None:
        return None
    if last.batch is not None:
        return _undo_batch(last, user=user, source=source)
    history = Label.objects.filter(profile_id=profile_id, company_id=last.company_id)
    newer = models.Q(created_at__gt=last.created_at) | models.Q(created_at=last.created_at, pk__gt=last.pk)
    since = history.filter(newer).exclude(user=user).select_related("user").order_by("-created_at", "-pk").first()
    if since is not None:  # someone else labelled it since: theirs stands
        by = since.user.get_username() if since.user else ""
        return Superseded(undid=last.pk, company=Company.objects.get(pk=last.company_id), by=by)
    before = (
        history.exclude(newer)
        .exclude(pk=last.pk)
        .order_by("-created_at", "-pk")
        .values_list("verdict", flat=True)
        .first()
    )
    company = Company.objects.get(pk=last.company_id)
    undone = label_company(
        profile_id=profile_id, company=company, user=user, verdict=before or Verdict.CLEAR, source=source
    )
    return Undo(label=undone, undid=last.pk)


# Per label of a batch: the company's verdict just before it, and who (another user, or an
# import: no user) labelled the company since, if anyone; label_company_latest serves both.
_BATCH = """
select l.company_id,
    coalesce((
        select b.verdict from leads_label b
        where b.profile_id = l.profile_id and b.company_id = l.company_id and (b.created_at, b.id) < (l.created_at, l.id)
        order by b.created_at desc, b.id desc limit 1
    ), 'clear'),
    (
        select array[coalesce(u.username, '')] from leads_label s left join auth_user u on u.id = s.user_id
        where s.profile_id = l.profile_id and s.company_id = l.company_id and (s.created_at, s.id) > (l.created_at, l.id)
            and s.user_id is distinct from l.user_id
        order by s.created_at desc, s.id desc limit 1
    )
from leads_label l where l.batch = %s order by l.company_id
"""


def _undo_batch(last: Label, *, user, source: LabelSource) -> BatchUndo:
    with connection.cursor() as cursor:
        cursor.execute(_BATCH, [last.batch])
        rows = cursor.fetchall()
    restore = [(company_id, before) for company_id, before, since in rows if since is None]
    by = tuple(sorted({since[0] for _, _, since in rows if since is not None}))
    written = _record(last.profile_id, verdicts=restore, user=user, source=source, skip_unchanged=False, batch=True)
    return BatchUndo(
        undid=last.pk,
        made=written[0][1] if written else None,
        restored=len(written),
        kept=len(rows) - len(restore),
        by=by,
    )
