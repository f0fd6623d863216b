"""Writing kNN scores: for newly embedded companies, after label changes (incremental), and all
of them (a full rescore, streamed and split into chunk tasks that any number of workers share).

Every path scores with `scoring.knn_scores` against the same labelled set (labelled companies
with a current vector, in company-id order, so distance ties go to the lower id), and so every
path gives the same scores. Who may write when is settled by one lock (`locks.scores_lock`):

- writers that score companies against the labelled set as it is (a chunk of a full rescore,
  newly embedded companies) hold it *shared*: they run side by side;
- the incremental pass, which takes the pending label changes and rescores the companies they
  affect, holds it *exclusive*: no score is written from a labelled set read before the pass.

The incremental pass relies on what each score row keeps: the ids of its k neighbours (a scan
finds the scores that cite a changed company) and the distance of its k-th neighbour (a company
whose new label is closer than that enters its neighbours; the pass keeps every score's in
memory, scoring.thresholds). Everything else keeps its neighbours, so keeps its score.
What a pass finds and how it brings scores up to date is scoring.incremental.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from leads.companies import distribution as fit_distribution
from leads.core import locks
from leads.core.queue import enqueue_on_commit, send_in_turn
from leads.embedding import active
from leads.models import (
    Company,
    CompanyEmbedding,
    CurrentVerdict,
    FitDistribution,
    PendingScoreChange,
    Profile,
    Score,
    ScoringState,
)
from leads.models.lookups import Ids, id_array
from leads.scoring import changes as score_changes
from leads.scoring import evidence, incremental
from leads.scoring import knn as scoring
from leads.scoring import rows as score_rows
from leads.scoring import thresholds as score_thresholds
from leads.scoring.reads import LabelledSet, load_labelled_set, measure_radius, read_candidates
from leads.webhooks.events import BandWatch

log = logging.getLogger(__name__)

# More pending changes than this at once (an import of verdicts): a full rescore is cheaper.
MAX_INCREMENTAL_CHANGES = 200


# The sweep measures the radius again when idle; if the companies have moved it by more than this
# share (a big import of another kind of company), it rescores everything with the new one.
RADIUS_DRIFT = 0.1


def current_radius(profile_id: int) -> float:
    """The radius every score of the profile is weighed with now (ScoringState.radius), measured
    here if none is. Every path reads it from there, so a full and an incremental rescore weigh alike."""
    state = ScoringState.of(profile_id)
    if state.radius is None:
        radius, companies = measure_radius()
        ScoringState.change(profile_id, radius=radius, radius_companies=companies)
        return radius
    return state.radius


def radius_outgrown(profile_id: int) -> bool:
    """The radius was measured on fewer than evidence.RADIUS_REFERENCE companies and the team has
    twice as many now: the first labels of an import come before its companies are embedded, and a
    radius measured on none (1.0: every company "close") must not stay. Past RADIUS_REFERENCE a
    sample that size measures it, and the sweep's drift check takes over."""
    state = ScoringState.of(profile_id)
    if state.radius is None or state.radius_companies >= evidence.RADIUS_REFERENCE:
        return False
    grown = CompanyEmbedding.objects.current(active.model_name())[: 2 * max(state.radius_companies, 1)].count()
    return grown >= 2 * max(state.radius_companies, 1)


def _rescore(profile_id: int, scope: Q, labelled: LabelledSet) -> int:
    """Score the companies to score within `scope` (a Q on company_id) and drop the scores in
    it that are no longer to be scored (labelled since, or waiting for a new vector); returns
    how many got a score. Call under the scores lock."""
    return len(_rescored(profile_id, scope, labelled).ids)


def _rescored(profile_id: int, scope: Q, labelled: LabelledSet) -> score_rows.Written:
    """`_rescore`, returning the scores it wrote."""
    if len(labelled):
        ids, vectors = read_candidates(scope, profile_id)
    else:  # no labels: nothing is scored, and the first labels will need a full rescore
        ids, vectors = np.empty(0, np.int64), None
        ScoringState.change(profile_id, needs_full_rescore=True)
    # A score in scope whose company is no longer a candidate (labelled since, or no current
    # vector) is stale: the candidates were read in this transaction, under the lock.
    if Score.objects.filter(scope, profile_id=profile_id).exclude(company__any_of=Ids(ids.tolist())).delete()[0]:
        score_rows.scores_written([profile_id])
    if len(ids):
        result = scoring.knn_scores(vectors, labelled.vectors, labelled.labels, settings.SCORING_K)
        return score_rows.write_scores(
            profile_id, ids, result, labelled.company_ids, labelled.labels, radius=labelled.radius
        )
    return score_rows.Written(ids, np.empty(0), np.empty(0))


def drop_scores(company_ids: Iterable[int]) -> None:
    """These companies cannot be scored until re-embedded (their text changed): no score in any profile, so
    they show as waiting for embedding. A labelled one leaving the labelled set is a label change
    the caller records. A full-rescore chunk that read the old vector just before may still write
    a score for it; the re-embedding rescores the company (score_companies), which replaces it."""
    if Score.objects.filter(company_id__in=list(company_ids)).delete()[0]:
        score_rows.scores_written(scoring_profiles())


# --- Newly embedded companies --------------------------------------------------------------


def score_companies(company_ids: Iterable[int]) -> int:
    """(Re)score the given companies in every profile against its labelled set as it is now;
    returns how many scores were written. Companies labelled in a profile and ones without a
    current vector lose any score they had there."""
    ids = sorted({int(i) for i in company_ids})
    return sum(score_companies_in(profile_id, ids) for profile_id in scoring_profiles())


def scoring_profiles() -> list[int]:
    """The profiles whose scores are kept: every one, archived ones too (read-only, still shown)."""
    return list(Profile.objects.values_list("pk", flat=True)) or [Profile.first().pk]


def score_companies_in(profile_id: int, company_ids: Iterable[int]) -> int:
    """score_companies in one profile."""
    ids = sorted({int(i) for i in company_ids})
    if not ids:
        return 0
    if radius_outgrown(profile_id):  # every score is weighed anew (a small team: cheap), these companies too
        return rescore_all(profile_id, remeasure=True)
    with locks.scores_lock(profile_id, shared=True):
        # A company scored for the first time (an import's) enters a band: a webhook may want to know.
        watch = BandWatch.start(profile_id, ids)  # None (one query) when no webhook listens
        count = _rescore(profile_id, Q(company_id__any_of=Ids(ids)), load_labelled_set(profile_id))
        if watch:
            watch.announce(causes={}, at=timezone.now())
        return count


# --- Label changes: the incremental rescore --------------------------------------------------


def labels_changed(
    profile_id: int, company_ids: Iterable[int], *, entered: Iterable[int] = (), moved: Iterable[int] = ()
) -> None:
    """Record, in the caller's transaction, that these companies' verdicts or labelled vectors
    changed in the profile (`entered`: those that may have entered its labelled set; `moved`:
    labelled ones with a new vector), and queue its incremental rescore for after the commit.

    The task waits RESCORE_DELAY_SECONDS, so a burst of clicks is taken by one pass."""
    moved = {int(i) for i in moved}
    entered = {int(i) for i in entered} | moved
    ids = sorted({int(i) for i in company_ids} | entered)
    with connection.cursor() as cursor:
        cursor.execute(
            "insert into leads_pendingscorechange as p (profile_id, company_id, entered, moved, created_at)"
            " select %s, unnest(%s::bigint[]), unnest(%s::boolean[]), unnest(%s::boolean[]), now()"
            " on conflict (profile_id, company_id) do update"
            " set entered = p.entered or excluded.entered, moved = p.moved or excluded.moved",
            [profile_id, id_array(ids), [i in entered for i in ids], [i in moved for i in ids]],
        )
    enqueue_on_commit("leads.apply_label_changes", profile_id, countdown=settings.RESCORE_DELAY_SECONDS)


def labelled_changed(company_ids: Iterable[int], *, moved: bool = False) -> None:
    """labels_changed in every profile where these companies are labelled: their vector moved
    (`moved`), or they leave every labelled set (a new text waiting for its vector, a deletion).
    Call in the transaction that changes them, before a deletion."""
    by_profile: dict[int, list[int]] = {}
    for profile_id, company_id in CurrentVerdict.objects.filter(company_id__in=list(company_ids)).values_list(
        "profile_id", "company_id"
    ):
        by_profile.setdefault(profile_id, []).append(company_id)
    for profile_id, ids in sorted(by_profile.items()):
        labels_changed(profile_id, ids, moved=ids if moved else ())


def profiles_pending() -> list[int]:
    """The profiles with label changes waiting for their pass."""
    return sorted(set(PendingScoreChange.objects.values_list("profile_id", flat=True)))


def apply_label_changes(profile_id: int, *, inline_full: bool = False) -> int:
    """Rescore exactly the companies whose neighbours the profile's pending label changes touch.

    Returns how many companies were rescored (0 when nothing was pending). With many changes at
    once, or no score anywhere yet, a full rescore is cheaper: it is queued as chunk tasks, or
    run here with `inline_full` (commands, tests)."""
    if not PendingScoreChange.objects.filter(profile_id=profile_id).exists():  # the sweep asks: no lock for nothing
        return 0  # (a change committed after this look queued its own pass)
    with locks.scores_lock(profile_id):
        with connection.cursor() as cursor:
            cursor.execute(
                "delete from leads_pendingscorechange where profile_id = %s returning company_id, entered, moved",
                [profile_id],
            )
            taken = cursor.fetchall()
            # When this pass took the changes: after every verdict it took was committed. Not
            # now(), the transaction's start: a pass that waited for the lock would date its score
            # changes before the verdicts, and the dashboard asking "changed since my verdict"
            # would never see them.
            cursor.execute("select clock_timestamp()")
            (taken_at,) = cursor.fetchone()
            changed = sorted(company_id for company_id, _, _ in taken)
            entered = [company_id for company_id, flag, _ in taken if flag]
            moved = [company_id for company_id, _, flag in taken if flag]
        if not changed:
            return 0
        labelled = load_labelled_set(profile_id)
        full = len(changed) > MAX_INCREMENTAL_CHANGES or (len(labelled) > 0 and _full_rescore_due(profile_id))
        if full:
            ranges = _begin_full_rescore(profile_id)
            if not inline_full:
                chunks = [[profile_id, lo, hi] for lo, hi in ranges]
                transaction.on_commit(lambda: send_in_turn("leads.rescore_chunk", chunks))
        else:
            found = incremental.affected_by(profile_id, changed, entered, moved, labelled)
            watch = BandWatch.start(profile_id, found.affected)  # None (one query) when no webhook listens
            before, written, cited_before = incremental.update_affected(
                profile_id, found, changed, entered, labelled, _rescored
            )
            count = len(written.ids)
            score_thresholds.written(profile_id, found.affected, written.ids, written.kth)
            verdicts = dict(Company.objects.in_profile(profile_id).filter(pk__in=changed).values_list("pk", "verdict"))
            cause_verdicts = [verdicts.get(i, "deleted") or "clear" for i in changed]
            score_changes.record(
                profile_id,
                before,
                dict(zip(written.ids.tolist(), written.fits.tolist())),
                causes=changed,
                verdicts=cause_verdicts,
                cited_before=cited_before,
                at=taken_at,
            )
            if watch:
                watch.announce(causes=dict(zip(changed, cause_verdicts)), at=taken_at)
    if full:
        log.info("%d label changes: a full rescore in %d chunks", len(changed), len(ranges))
        return sum(rescore_chunk(profile_id, lo, hi) for lo, hi in ranges) if inline_full else 0
    log.info("%d label changes rescored %d of %d affected companies", len(changed), count, len(found.affected))
    return count


def _full_rescore_due(profile_id: int) -> bool:
    """Some company was scored with no labels to find, or SCORING_K changed since the last full rescore."""
    state = ScoringState.of(profile_id)
    return state.needs_full_rescore or _k_changed(state)


def _k_changed(state: ScoringState) -> bool:
    return state.k is not None and state.k != settings.SCORING_K


# --- Full rescore -------------------------------------------------------------------------------


def _begin_full_rescore(profile_id: int, *, radius: tuple[float, int] | None = None) -> list[tuple[int, int]]:
    """Take every pending change of the profile (a full rescore covers them) and split the companies into
    id ranges of RESCORE_CHUNK_SIZE companies; with `radius`, every score is weighed with that
    radius from now on (else the one stored, measured if none is). Call under the exclusive
    scores lock."""
    PendingScoreChange.objects.filter(profile_id=profile_id).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "select id from (select id, row_number() over (order by id) as n from leads_company) t"
            " where n %% %s = 1 order by id",
            [settings.RESCORE_CHUNK_SIZE],
        )
        starts = [row[0] for row in cursor.fetchall()] or [0]
    starts[0] = 0  # the first range also drops scores of companies deleted below the first id
    ranges = list(zip(starts, [*starts[1:], 2**62]))
    ScoringState.change(
        profile_id,
        **{
            "chunks_left": len(ranges),
            "full_started_at": Now(),  # the database's clock, as the score change log's times
            "needs_full_rescore": False,
            "k": settings.SCORING_K,
            **(
                {"radius": current_radius(profile_id)}
                if radius is None
                else {"radius": radius[0], "radius_companies": radius[1]}
            ),
        },
    )
    return ranges


def rescore_chunk(profile_id: int, lo: int, hi: int) -> int:
    """Rescore the profile's companies with lo <= id < hi against its labelled set as it is now."""
    with locks.scores_lock(profile_id, shared=True):
        watch = BandWatch.start_range(profile_id, lo, hi)  # None (one query) when no webhook listens
        count = _rescore(profile_id, Q(company_id__gte=lo, company_id__lt=hi), load_labelled_set(profile_id))
        if watch:
            watch.announce(causes={}, at=timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(
                "update leads_scoringstate set chunks_left = greatest(chunks_left - 1, 0) where profile_id = %s",
                [profile_id],
            )
    return count


def queue_full_rescore(profile_id: int, *, remeasure: bool = False) -> int:
    """Start a full rescore of the profile split into chunk tasks for the workers; returns the number of chunks.
    With `remeasure`, the radius of "close" is measured anew first (another encoder, or companies
    that have drifted from the ones it was measured on)."""
    radius = measure_radius() if remeasure else None
    with locks.scores_lock(profile_id):
        ranges = _begin_full_rescore(profile_id, radius=radius)
    send_in_turn("leads.rescore_chunk", [[profile_id, lo, hi] for lo, hi in ranges])
    return len(ranges)


def rescore_all(profile_id: int, *, remeasure: bool = False) -> int:
    """The full rescore of the profile, here and now in this process (commands, tests, the benchmark): the same
    chunks, RESCORE_THREADS at a time, so that one chunk's database reads and writes overlap
    another's numpy. Inside a caller's transaction it stays in that transaction, one at a time.
    With `remeasure`, the radius of "close" is measured anew first."""
    radius = measure_radius() if remeasure else None
    with locks.scores_lock(profile_id):
        ranges = _begin_full_rescore(profile_id, radius=radius)
    threads = settings.RESCORE_THREADS
    if connection.in_atomic_block or threads == 1 or len(ranges) == 1:
        return sum(rescore_chunk(profile_id, lo, hi) for lo, hi in ranges)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(lambda bounds: _rescore_chunk_in_thread(profile_id, *bounds), ranges))


def _rescore_chunk_in_thread(profile_id: int, lo: int, hi: int) -> int:
    try:
        return rescore_chunk(profile_id, lo, hi)
    finally:
        connections.close_all()  # this thread's own connection


def catch_up() -> int:
    """Bring every profile's scores up to date here and now (commands, tests): pending label
    changes, and a full rescore whose chunk tasks no worker has run."""
    count = 0
    for profile_id in scoring_profiles():
        count += apply_label_changes(profile_id, inline_full=True)
        if ScoringState.of(profile_id).chunks_left:
            count += rescore_all(profile_id)
    return count


def full_rescore_stalled(profile_id: int, *, after: timedelta = timedelta(minutes=30)) -> bool:
    """A full rescore of the profile started this long ago still has chunks left: its tasks were lost."""
    state = ScoringState.of(profile_id)
    return (
        bool(state.chunks_left) and state.full_started_at is not None and timezone.now() - state.full_started_at > after
    )


def heal(*, scan: bool = True) -> None:
    """The sweep's part for scores: apply pending label changes, restart a full rescore whose
    chunk tasks were lost (a Redis outage), and with `scan`, score any company a crash left
    without a score (a scan of every company: the sweep asks for it only when the queue is idle).
    Each profile in turn."""
    score_changes.forget_old()
    for profile_id in scoring_profiles():
        _heal(profile_id, scan=scan)


def _heal(profile_id: int, *, scan: bool) -> None:
    apply_label_changes(profile_id)
    state = ScoringState.of(profile_id)
    scores = Score.objects.filter(profile_id=profile_id)
    unweighed = state.radius is None and scores.exists()  # scores from before fits (migration 0017)
    if full_rescore_stalled(profile_id) or (not state.chunks_left and (_k_changed(state) or unweighed)):
        queue_full_rescore(profile_id, remeasure=unweighed)  # lost chunk tasks, another k, or without fits
    elif scan and not ScoringState.of(profile_id).chunks_left:
        if _radius_drifted(state, scores):
            queue_full_rescore(profile_id, remeasure=True)
        else:
            score_unscored(profile_id)


def _radius_drifted(state: ScoringState, scores) -> bool:
    """The radius moved by more than RADIUS_DRIFT. Measured again only once the number of companies
    moved that much since it was measured (a count, where measuring reads every id and a sample of
    vectors: not on every idle sweep)."""
    if state.radius is None or not scores.exists():
        return False
    companies = CompanyEmbedding.objects.current(active.model_name()).count()
    if abs(companies - state.radius_companies) <= RADIUS_DRIFT * max(state.radius_companies, 1):
        return False
    return abs(measure_radius()[0] - state.radius) > RADIUS_DRIFT * state.radius


def score_unscored(profile_id: int) -> int:
    """Score every candidate of the profile that has no score there (the sweep's safety net; a scan of all companies)."""
    with locks.scores_lock(profile_id, shared=True):
        watch = BandWatch.first_scores(profile_id)  # None (one query) when no webhook listens
        unscored = ~Exists(Score.objects.filter(profile_id=profile_id, company_id=OuterRef("company_id")))
        written = _rescored(profile_id, unscored, load_labelled_set(profile_id))
        if watch and len(written.ids):
            watch.company_ids = written.ids.tolist()
            watch.announce(causes={}, at=timezone.now())
        return len(written.ids)


# --- The distribution of fits of a big profile ------------------------------------------------


def keep_distribution(profile_id: int) -> bool:
    """Make the profile's distribution of fits and keep it (FitDistribution) if the one kept is
    older than its scores (companies.distribution, which asks for this); one maker a profile at
    a time, the others return at once. Whether it made one."""
    with locks.try_hold(locks.FIT_DISTRIBUTION, profile_id) as ours:
        if not ours:
            return False
        if fit_distribution.kept_is_current(profile_id):
            return False
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("set local work_mem = '64MB'")  # sort a million fits in memory, not on disk
            distribution, written = fit_distribution.made_now(profile_id)
        FitDistribution.objects.update_or_create(
            profile_id=profile_id,
            defaults={
                "quantiles": distribution.quantiles.tolist(),
                "total": distribution.total,
                "scores_written": written,
            },
        )
        return True
