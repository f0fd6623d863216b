"""Making webhook messages where things happen: a verdict (labels), a rescore pass (scoring
services), an import. Each is one INSERT of deliveries, one per listening endpoint and batch of
BATCH companies, and their tasks sent after the commit; with no endpoint listening, one query
and nothing else. Nothing here raises into the verdict, the pass or the import: a failure is
logged and rolled back to a savepoint, and the work it rode on goes ahead.

Bands before and after a pass are both read against the team's distribution of fits as the pass
found it (companies.distribution.score_distribution, cached per version of the scores, so usually
already computed for the pages): measuring it again after the pass would sort every fit inside
the pass (docs/benchmarks.md, `score_distribution`). One pass moves a few fits among thousands,
so the cut-offs barely move; a company whose band changes only because the cut-offs moved under
it, with its own fit unchanged, is not announced."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from leads.companies.distribution import band_of, score_distribution
from leads.models import ImportJob, OutcomeImport, Profile, WebhookDelivery, WebhookEndpoint, WebhookEvent
from leads.models.lookups import id_array
from leads.scoring.bands import Distribution
from leads.webhooks.selectors import companies_described, listening
from leads.webhooks.services import queue_deliveries

log = logging.getLogger(__name__)

BATCH = 500  # companies per message: a receiver takes one request of a few hundred kB at most


@contextlib.contextmanager
def _quietly(what: str) -> Iterator[None]:
    """A savepoint whose failure is logged, never raised: webhooks must not undo a verdict."""
    try:
        with transaction.atomic():
            yield
    except Exception:  # noqa: BLE001 - whatever went wrong, the verdict, pass or import goes ahead
        log.exception("webhooks: could not record %s; it went ahead without its messages", what)


def _insert(
    event: WebhookEvent, endpoints: list[WebhookEndpoint], key: str, items: Callable[[WebhookEndpoint], list], **data
) -> int:
    """One delivery per endpoint and BATCH of the items it wants (`items(endpoint)`, under `key`,
    beside `data`), all in one INSERT; their tasks go after the commit. Returns how many."""
    now = timezone.now().isoformat()
    rows = []
    for endpoint in endpoints:
        wanted = items(endpoint)
        parts = (len(wanted) + BATCH - 1) // BATCH
        for part in range(parts):
            body = {key: wanted[part * BATCH : (part + 1) * BATCH], **data, "part": part + 1, "parts": parts}
            payload = {"type": event.value, "timestamp": now, "data": body}
            rows.append(WebhookDelivery(endpoint=endpoint, event=event.value, payload=payload))
    if rows:
        WebhookDelivery.objects.bulk_create(rows)
        queue_deliveries([row.pk for row in rows])
    return len(rows)


# --- A verdict --------------------------------------------------------------------------------


def labelled(*, profile_id: int, verdicts: Sequence[tuple[int, str]], user, source: str) -> None:
    """company.labelled: these (company id, verdict) were just given in the profile by `user` from
    `source`; call in the verdict's transaction (scoring.labels)."""
    endpoints = listening(WebhookEvent.LABELLED, profile_id)
    if not endpoints or not verdicts:
        return
    with _quietly(f"{len(verdicts)} verdicts"):
        described = companies_described(company_id for company_id, _ in verdicts)
        at, by = timezone.now().isoformat(), getattr(user, "username", None)
        items = [
            {"company": described[pk], "verdict": verdict, "by": by, "source": source, "at": at}
            for pk, verdict in verdicts
            if pk in described
        ]
        _insert(WebhookEvent.LABELLED, endpoints, "verdicts", lambda endpoint: items, profile=_profile(profile_id))


# --- An import --------------------------------------------------------------------------------

COUNTS = ("rows_read", "created", "updated", "unchanged", "rejected")  # of every import, companies or deals
KIND_COUNTS = {ImportJob: ("duplicates", "labels"), OutcomeImport: ("matched",)}  # of one kind's only
KINDS = {ImportJob: "companies", OutcomeImport: "deals"}


def import_finished(job: ImportJob | OutcomeImport) -> None:
    """import.finished: an import of companies or of deals is done or failed, with its counts."""
    endpoints = listening(WebhookEvent.IMPORT_FINISHED)
    if not endpoints:
        return
    with _quietly(f"import {job.pk}"):
        summary = {
            "id": job.pk,
            "kind": KINDS[type(job)],
            "file": job.original_name,
            "state": job.state,
            "by": job.user.username if job.user_id else None,
            "profile": job.profile_id,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "error": job.error,
            **{name: getattr(job, name) for name in COUNTS + KIND_COUNTS[type(job)]},
        }
        _insert(WebhookEvent.IMPORT_FINISHED, endpoints, "imports", lambda endpoint: [summary])


# --- A rescore pass ---------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """What a company's band is made of: its fit and flags (None: not scored)."""

    fit: float
    unexplored: bool
    supported: bool
    evidence: float  # labelled companies' worth close by: how much the fit stands on


def _states(profile_id: int, where: list[int] | tuple[int, int]) -> dict[int, State]:
    """The profile's scored companies' states among these ids, or with lo <= id < hi for a (lo, hi) range."""
    columns = "select company_id, fit, unexplored, supported, evidence from leads_score where profile_id = %s and"
    with connection.cursor() as cursor:
        if isinstance(where, tuple):
            cursor.execute(f"{columns} company_id >= %s and company_id < %s", [profile_id, *where])
        else:
            cursor.execute(f"{columns} company_id = any(%s::bigint[])", [profile_id, id_array(where)])
        return {row[0]: State(*row[1:]) for row in cursor.fetchall()}


def _band(state: State | None, distribution: Distribution) -> str | None:
    band = band_of(state, distribution)  # a State has a score's fit, unexplored and supported
    return band and band.key


@dataclass
class BandWatch:
    """The bands of the companies a pass is about to rescore, read before it writes (only when an
    endpoint listens for band changes); `announce` after it writes sends those that changed.

    A pass names its companies (`start`: an incremental pass, a batch of newly embedded companies)
    or an id range (`start_range`: a chunk of a full rescore, after an import of verdicts, a new
    encoder or k). In a range, a company that loses its score (labelled since, or waiting for a new
    vector) left the bands for a reason other messages tell (company.labelled), and is not listed."""

    profile_id: int
    endpoints: list[WebhookEndpoint]
    company_ids: list[int] | tuple[int, int]  # the ids, or a (lo, hi) range
    distribution: Distribution
    before: dict[int, State]

    @classmethod
    def start(cls, profile_id: int, company_ids: Sequence[int]) -> BandWatch | None:
        """None, after one query, when no endpoint listens for band changes."""
        endpoints = listening(WebhookEvent.BAND_CHANGED, profile_id)
        if not endpoints or not company_ids:
            return None
        ids = sorted(int(i) for i in company_ids)
        return cls(profile_id, endpoints, ids, score_distribution(profile_id), _states(profile_id, ids))

    @classmethod
    def start_range(cls, profile_id: int, lo: int, hi: int) -> BandWatch | None:
        """The scored companies with lo <= id < hi; None, after one query, when no endpoint listens."""
        endpoints = listening(WebhookEvent.BAND_CHANGED, profile_id)
        if not endpoints:
            return None
        return cls(profile_id, endpoints, (lo, hi), score_distribution(profile_id), _states(profile_id, (lo, hi)))

    @classmethod
    def first_scores(cls, profile_id: int) -> BandWatch | None:
        """For companies without a score, whose ids the pass learns as it writes them (the sweep's
        scoring of the unscored): set `company_ids` before `announce`. None when no endpoint listens."""
        endpoints = listening(WebhookEvent.BAND_CHANGED, profile_id)
        return cls(profile_id, endpoints, [], score_distribution(profile_id), {}) if endpoints else None

    def announce(self, *, causes: dict[int, str], at: datetime) -> int:
        """company.band_changed for the companies (not the `causes`, whose verdicts changed: they
        left the bands, which company.labelled told) whose band this pass changed; returns how many
        companies changed band."""
        with _quietly("a pass's band changes"):
            after = _states(self.profile_id, self.company_ids)
            ranged = isinstance(self.company_ids, tuple)
            moves = {}
            for pk in sorted(self.before.keys() | after.keys()) if ranged else self.company_ids:
                old, new = _band(self.before.get(pk), self.distribution), _band(after.get(pk), self.distribution)
                if old != new and pk not in causes and not (ranged and new is None):
                    moves[pk] = (old, new)
            if not moves:
                return 0
            described = companies_described(moves)
            changes = [
                {
                    **described[pk],
                    "old_band": old,
                    "new_band": new,
                    "old_fit": _rounded(self.before.get(pk)),
                    "fit": _rounded(after.get(pk)),
                    "evidence": None if pk not in after else round(after[pk].evidence, 2),
                }
                for pk, (old, new) in moves.items()
                if pk in described
            ]
            because = [{"company_id": pk, "verdict": verdict} for pk, verdict in sorted(causes.items())]

            def wanted(endpoint: WebhookEndpoint) -> list[dict]:
                return [c for c in changes if endpoint.wants_band(c["old_band"], c["new_band"])]

            _insert(
                WebhookEvent.BAND_CHANGED,
                self.endpoints,
                "companies",
                wanted,
                because=because,
                at=at.isoformat(),
                profile=_profile(self.profile_id),
            )
            return len(changes)
        return 0


def _profile(profile_id: int) -> dict:
    """Which profile a message is about: its id and name."""
    return {"id": profile_id, "name": Profile.objects.filter(pk=profile_id).values_list("name", flat=True).first()}


def _rounded(state: State | None) -> float | None:
    return None if state is None else round(state.fit, 4)
