"""Companies in space: the map's coordinates, computed in the background and kept in MapPoint;
and verdicts given on the map (a lasso selection, and its undo).

`compute_map` (the `leads.compute_map` task and the `compute_map` command) places every company
that has a current vector and no current point. It uses the stored projection (MapLayout) when
there is one, so the map does not move as companies are added, and fits a new one on a sample
when there is none, when the embedding model changed, or when the map was fitted on fewer than a
full sample and the companies have doubled since (a map fitted on the six demo companies says
little about the 100,000 imported after them). One run at a time (an advisory lock); the sweep
queues a run when points are missing (`queue_map_if_due`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from leads.core import locks
from leads.core.queue import send
from leads.embedding import active
from leads.map import layout as mapping
from leads.models import Company, CompanyEmbedding, LabelSource, MapLayout, MapPoint, Verdict
from leads.scoring import labels
from leads.scoring.rows import read_vectors

log = logging.getLogger(__name__)

METHODS = ("auto", "pca", "umap")  # auto: the stored layout's method; for a new fit, UMAP when installed
# How often the sweep looks for companies without a point (a scan of every vector); while the
# map has no point at all it looks at every sweep.
CHECK_INTERVAL = timedelta(minutes=5)
# Verdicts given at once on the map (a lasso selection, or its undo).
MAX_SELECTION = 5_000
# Placing this many points changes the table enough for the map page's query plans (an index
# walk in sample-key order, not a sort of every point) to need new statistics.
ANALYZE_AFTER = 10_000

Projector = Callable[[np.ndarray], np.ndarray]  # (n, dims) vectors -> (n, 2) coordinates


class MapError(ValueError):
    pass


@dataclass(frozen=True)
class MapRun:
    placed: int  # points written
    dropped: int  # stale points removed (their company's vector changed or went)
    refitted: bool  # a new projection was fitted: every point was placed again
    method: str  # "pca" or "umap"; "" while no company has a vector
    seconds: float


def compute_map(*, refit: bool = False, method: str = "auto") -> MapRun | None:
    """Place every company with a current vector and no current point (`refit`: fit a new
    projection and place them all). None when another run holds the lock: it places them."""
    if method not in METHODS:
        raise MapError(f"method must be one of: {', '.join(METHODS)} (got {method!r})")
    if method == "umap" and not mapping.umap_available():
        raise MapError("umap-learn is not installed: pip install umap-learn, or use pca")
    with locks.try_hold(locks.MAP) as ours:
        if not ours:
            return None
        return _compute(refit=refit, method=method)


def _compute(*, refit: bool, method: str) -> MapRun:
    started = time.perf_counter()
    model = active.model_name()
    current = CompanyEmbedding.objects.current(model)
    dropped, _ = MapPoint.objects.stale(model).delete()
    layout = MapLayout.get()
    project = None if refit or _needs_refit(layout, current, model=model, method=method) else _projector(layout)
    refitted = project is None
    if refitted:
        ids = np.array(current.order_by("company_id").values_list("company_id", flat=True), dtype=np.int64)
        project = _fit(layout, current, ids, model=model, method=method) if len(ids) else None
    else:
        missing = current.filter(~Exists(_current_point(model)))
        ids = np.array(missing.order_by("company_id").values_list("company_id", flat=True), dtype=np.int64)
    placed = _place(ids, current, project, model=model) if project is not None else 0
    if placed >= ANALYZE_AFTER:  # fresh statistics now, not when autovacuum gets round to it
        with connection.cursor() as cursor:
            cursor.execute("analyze leads_mappoint")
    MapLayout.change(computed_at=timezone.now(), extent=_extent())
    run = MapRun(placed, dropped, refitted and project is not None, layout.method, time.perf_counter() - started)
    log.info("map: %d placed, %d dropped, refitted %s, %s, %.1f s", *vars(run).values())
    return run


def _current_point(model: str):
    """For a correlated subquery on embeddings: the outer embedding's company has a point made from it."""
    return MapPoint.objects.filter(company=OuterRef("company_id"), model_name=model, text_hash=OuterRef("text_hash"))


def _extent() -> list[float]:
    """[min x, min y, max x, max y] of every point, [] for none."""
    found = MapPoint.objects.aggregate(Min("x"), Min("y"), Max("x"), Max("y"))
    return [] if found["x__min"] is None else [found[key] for key in ("x__min", "y__min", "x__max", "y__max")]


def _needs_refit(layout: MapLayout, current, *, model: str, method: str) -> bool:
    if not layout.projection or layout.model_name != model:
        return True
    if method != "auto" and method != layout.method:
        return True
    if layout.fitted_on < mapping.SAMPLE_SIZE:  # fitted on few: refit once they have doubled
        doubled = 2 * max(layout.fitted_on, 1)
        return current.order_by()[:doubled].count() >= doubled
    return False


def _fit(layout: MapLayout, current, ids: np.ndarray, *, model: str, method: str) -> Projector:
    """Fit a projection on a deterministic sample of the companies `ids` and store it in `layout`."""
    if method == "auto":
        method = "umap" if mapping.umap_available() and len(ids) >= mapping.UMAP_MIN_ROWS else "pca"
    size = mapping.UMAP_SAMPLE_SIZE if method == "umap" else mapping.SAMPLE_SIZE
    sample = ids[mapping.sample_indices(len(ids), size)]
    sample_ids, vectors = read_vectors(current.filter(company_id__any_of=sample.tolist()))
    if method == "umap":
        anchor_xy = mapping.umap_layout(vectors)
        projection = {"anchor_ids": sample_ids.tolist(), "anchor_xy": anchor_xy.tolist()}
    else:
        projection = mapping.fit_pca(vectors, sample_size=len(vectors)).to_json()
    layout.method, layout.model_name, layout.projection = method, model, projection
    layout.fitted_on, layout.fitted_at = len(ids), timezone.now()
    layout.save(update_fields=["method", "model_name", "projection", "fitted_on", "fitted_at"])
    return _projector(layout, anchors=(sample_ids, vectors))


def _projector(layout: MapLayout, anchors: tuple[np.ndarray, np.ndarray] | None = None) -> Projector | None:
    """The stored projection as a function; None when it cannot be used any more (UMAP anchors
    that mostly lost their vector: refit)."""
    if layout.method == "pca":
        return mapping.Basis.from_json(layout.projection).project
    anchor_ids = np.array(layout.projection["anchor_ids"], dtype=np.int64)
    anchor_xy = np.array(layout.projection["anchor_xy"], dtype=np.float64)
    if anchors is None:  # the anchors' vectors as they are now: one whose text changed is left out
        current = CompanyEmbedding.objects.current(layout.model_name)
        anchors = read_vectors(current.filter(company_id__any_of=anchor_ids.tolist()))
    found, vectors = anchors
    if not len(found) or len(found) < len(anchor_ids) / 2:
        return None
    xy = anchor_xy[np.searchsorted(anchor_ids, found)]  # both in id order
    return lambda batch: mapping.place_by_neighbours(batch, vectors, xy)


_UPSERT = """
insert into leads_mappoint as p (company_id, x, y, sample_key, model_name, text_hash, computed_at)
select t.id, t.x, t.y, t.sample_key, %s, t.text_hash, %s
from unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[], %s::text[]) as t(id, x, y, sample_key, text_hash)
where exists (select from leads_company c where c.id = t.id)
on conflict (company_id) do update set
    x = excluded.x, y = excluded.y, sample_key = excluded.sample_key, model_name = excluded.model_name,
    text_hash = excluded.text_hash, computed_at = excluded.computed_at
"""


def _place(ids: np.ndarray, current, project: Projector, *, model: str) -> int:
    """Project the current vectors of companies `ids` and upsert their points, a chunk at a time."""
    placed = 0
    for start in range(0, len(ids), mapping.CHUNK_ROWS):
        chunk = current.filter(company_id__any_of=ids[start : start + mapping.CHUNK_ROWS].tolist())
        # The text hashes first, then the vectors: a company re-embedded in between gets the old
        # hash, so its point looks stale and is placed again; never a new hash on an old place.
        hashes = dict(chunk.values_list("company_id", "text_hash"))
        found, vectors = read_vectors(chunk)
        known = np.isin(found, np.fromiter(hashes, dtype=np.int64, count=len(hashes)))
        found, vectors = found[known], vectors[known]
        if not len(found):
            continue
        xy = project(vectors)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                _UPSERT,
                [
                    model, timezone.now(), found.tolist(), xy[:, 0].tolist(), xy[:, 1].tolist(),
                    mapping.sample_keys(found).tolist(), [hashes[i] for i in found.tolist()],
                ],
            )  # fmt: skip
        placed += len(found)
    return placed


# --- Keeping the map up to date: the sweep's part -----------------------------------------


def map_is_stale() -> bool:
    """Some company with a current vector has no point made from it, or a point is stale."""
    model = active.model_name()
    missing = CompanyEmbedding.objects.current(model).filter(~Exists(_current_point(model)))
    return missing.exists() or MapPoint.objects.stale(model).exists()


def queue_map_if_due(*, interval: timedelta = CHECK_INTERVAL) -> bool:
    """Queue `leads.compute_map` when the map is stale; returns whether it was queued.

    Looking costs a scan of every vector (a second or two at a million), so it is done at most
    once per `interval` (claimed with a conditional update), except while the map has no point."""
    with locks.try_hold(locks.MAP) as free:
        if not free:  # a run is under way: it places them
            return False
    now = timezone.now()
    MapLayout.objects.bulk_create([MapLayout(pk=1)], ignore_conflicts=True)  # without reading its projection
    due = Q(checked_at__isnull=True) | Q(checked_at__lt=now - interval) | ~Exists(MapPoint.objects.all())
    if not MapLayout.objects.filter(due, pk=1).update(checked_at=now):
        return False
    return map_is_stale() and send("leads.compute_map")


# --- Verdicts given on the map -----------------------------------------------------------


def _verdict_of(company_verdict: str) -> Verdict:
    return Verdict(company_verdict or Verdict.CLEAR)


@transaction.atomic
def set_verdicts(*, profile_id: int, verdicts: Sequence[tuple[int, Verdict | str]], user) -> list[tuple[int, str]]:
    """Give each company its verdict in the profile (a lasso selection, or the undo of one) through
    the labels service, as clicks. Returns [(company id, verdict it had before)] for the companies that
    changed, "clear" for none: giving those back undoes this. Companies that already had their
    verdict, and ids of no company, are left alone.

    Raises labels.InvalidVerdict for a word that is not a verdict, MapError for too many ids."""
    wanted = {int(company_id): labels.parse_verdict(verdict) for company_id, verdict in verdicts}
    if len(wanted) > MAX_SELECTION:
        raise MapError(f"at most {MAX_SELECTION:,} companies at a time (got {len(wanted):,})")
    # The rows are locked as the labels service locks them (id order, FOR NO KEY UPDATE), so the
    # verdicts read here are the ones these labels replace, whoever else is labelling.
    rows = Company.objects.filter(pk__any_of=list(wanted)).order_by("pk").select_for_update(no_key=True, of=("self",))
    rows = rows.in_profile(profile_id)
    before = {company_id: _verdict_of(verdict) for company_id, verdict in rows.values_list("pk", "verdict")}
    changed = [(company_id, wanted[company_id]) for company_id in before if before[company_id] != wanted[company_id]]
    labels.label_companies(profile_id=profile_id, verdicts=changed, user=user, source=LabelSource.CLICK)
    return [(company_id, before[company_id].value) for company_id, _ in changed]
