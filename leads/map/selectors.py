"""Read-side queries of the map page ("Companies in space"): its status and its points."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.core.cache import cache
from django.db import connection
from django.db.models import FilteredRelation, Q

from leads.companies.distribution import score_distribution, score_versions
from leads.embedding import active
from leads.models import Company, CompanyEmbedding, MapLayout, MapPoint
from leads.scoring import bands

# Points sent to the browser at most: every labelled company, then a deterministic sample of
# the rest (lowest MapPoint.sample_key first). A canvas draws 20,000 points in a few ms.
MAX_POINTS = 20_000
# Coordinates are sent as integers in 0..GRID (both axes on one scale): shorter than floats,
# and far finer than any screen.
GRID = 10_000
# While the map is empty, companies waiting for a point are counted up to here.
WAITING_COUNT_LIMIT = 100_000
# The sample's order (MapPoint's map_point_sample index). company_id, not company: ordering by a
# relation sorts by the related model's ordering (the company's name).
SAMPLE_ORDER = ("sample_key", "company_id")


@dataclass(frozen=True)
class MapStatus:
    state: str  # "ready": on the map; "computing": vectors but no point yet; "empty": no vector yet
    points: int  # companies on the map
    waiting: int  # while computing: companies with a vector waiting for a point (up to WAITING_COUNT_LIMIT)
    method: str  # "pca" / "umap"
    computed_at: datetime | None
    extent: list[float]  # [min x, min y, max x, max y] of the points after the last compute_map

    @property
    def waiting_is_capped(self) -> bool:
        return self.waiting >= WAITING_COUNT_LIMIT


def map_status() -> MapStatus:
    return _status(active.model_name(), _versions())


def _versions() -> tuple[int, int, int, int]:
    """Numbers that move on every write to what the map shows: the points (leads_mappoint_version),
    the scores (distribution.score_versions), the companies' names and verdicts
    (leads_company_version; migration 0048)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "select (select last_value from leads_mappoint_version), (select last_value from leads_company_version)"
        )
        points, companies = cursor.fetchone()
    return (points, *score_versions(), companies)


def _status(model: str, versions: tuple[int, int, int, int]) -> MapStatus:
    # Not .current(): that joins every company, slow at a million (docs/benchmarks.md, *Figures
    # behind the design*). A point whose company's text changed since counts until the next
    # compute_map drops it (within CHECK_INTERVAL). Counted once per version of the points
    # (100 ms at a million).
    key = f"leads:map-points-count:{model}:{versions[0]}"
    points = cache.get(key)
    if points is None:
        points = MapPoint.objects.filter(model_name=model).count()
        cache.set(key, points, CACHE_SECONDS)
    method, computed_at, extent = MapLayout.read("method", "computed_at", "extent") or ("", None, [])
    waiting = 0
    if not points:  # a count capped by a limit: Postgres stops there, whatever N is
        waiting = CompanyEmbedding.objects.current(model).order_by()[:WAITING_COUNT_LIMIT].count()
    state = "ready" if points else "computing" if waiting else "empty"
    return MapStatus(state, points, waiting, method, computed_at, extent or [])


def map_points_json(*, profile_id: int, limit: int = MAX_POINTS) -> bytes:
    """map_points as gzipped JSON, cached per version of everything it shows (_versions, the map's
    layout): at a million companies building it takes ~0.5 s, serving it from the cache a few ms
    (docs/benchmarks.md). Not cached while the map is not ready (the count of companies waiting
    for a point moves with the embedding)."""
    model, versions = active.model_name(), _versions()
    status = _status(model, versions)
    at = status.computed_at.isoformat() if status.computed_at else "never"
    # The bands' distribution too: a big profile's is made by the worker after the scores it follows.
    distribution = score_distribution(profile_id)
    bands_of = f"{distribution.total}:{zlib.crc32(distribution.quantiles.tobytes())}"
    key = f"leads:map-points:{profile_id}:{limit}:{model}:{':'.join(map(str, versions))}:{at}:{bands_of}"
    body = cache.get(key) if status.state == "ready" else None
    if body is None:
        points = map_points(profile_id=profile_id, limit=limit, model=model, status=status, distribution=distribution)
        body = gzip.compress(json.dumps(points, separators=(",", ":")).encode(), compresslevel=6, mtime=0)
        if status.state == "ready":
            cache.set(key, body, CACHE_SECONDS)
    return body


# A cached count or payload outlives its version by at most this (a new version is a new key).
CACHE_SECONDS = 3600


def map_points(*, profile_id: int, limit: int, model: str, status: MapStatus, distribution: bands.Distribution) -> dict:
    """The points the map page draws, as parallel arrays (one per column, not an object per point):
    id, x and y (integers in 0..GRID), verdict in the profile ("like", "dislike" or None, as the
    API's "label"), fit there (-100..100, None when not scored: leads/scoring/evidence.py, what the
    dashboard sorts by), band (its key, None when not scored) and name. Companies labelled in the
    profile come first and are always included (up to `limit`); the rest is the sample of
    unlabelled ones with the lowest sample keys. `model`, `status` and `distribution`: the encoder,
    the map's status and the profile's distribution of fits, as map_points_json read them."""
    columns = (
        "company_id", "x", "y", "current__verdict", "score__fit", "company__name",
        "score__unexplored", "score__supported",
    )  # fmt: skip
    # IS NOT NULL (not an empty verdict): Postgres then joins only the profile's labelled companies.
    points = _in_profile(MapPoint.objects.current(model), profile_id).filter(current__verdict__isnull=False)
    rows = list(points.order_by(*SAMPLE_ORDER).values_list(*columns)[:limit])
    labelled = len(rows)
    if labelled < limit:
        rows += _unlabelled_sample(model, profile_id, wanted=limit - labelled, among=limit)
    ids, xs, ys, verdicts, fits, names, unexplored, supported = zip(*rows) if rows else ([],) * 8
    x, y = _grid(np.array(xs, dtype=np.float64), np.array(ys, dtype=np.float64), status.extent)
    return {
        "state": status.state,
        "total": status.points,
        "shown": len(rows),
        "labelled": labelled,
        "sampled": len(rows) < status.points,
        "limit": limit,
        "waiting": status.waiting,
        "method": status.method,
        "computed_at": status.computed_at.isoformat() if status.computed_at else None,
        "grid": GRID,
        "id": list(ids),
        "x": x,
        "y": y,
        "verdict": [verdict or None for verdict in verdicts],
        "fit": [None if f is None else round(f * 100) for f in fits],
        # The band of each scored point (leads/scoring/bands.py): "unexplored" says nothing labelled is close.
        "band": _bands(distribution, fits, unexplored, supported),
        "name": list(names),
    }


def _in_profile(points, profile_id: int):
    """Points with their company's Score row (`score`) and current verdict (`current`) in the
    profile joined, as Company.objects.in_profile joins them to companies."""
    return points.annotate(
        score=FilteredRelation("company__scores", condition=Q(company__scores__profile_id=profile_id)),
        current=FilteredRelation("company__verdicts", condition=Q(company__verdicts__profile_id=profile_id)),
    )


def _bands(distribution, fits, unexplored, supported) -> list[str | None]:
    """Each point's band key, None where it has no score (labelled, or not scored yet)."""
    scored = [fit is not None for fit in fits]
    keys = distribution.bands([fit or 0.0 for fit in fits], [bool(u) for u in unexplored], [bool(s) for s in supported])
    return [key if has else None for key, has in zip(keys.tolist(), scored)]


def _unlabelled_sample(model: str, profile_id: int, *, wanted: int, among: int) -> list[tuple]:
    """The first `wanted` current points of companies unlabelled in the profile in sample order,
    as map_points' rows, found among the first `among` points (which hold them all when at most among - wanted
    are labelled; a few stale points can make it fewer).

    Two plain queries, the points off the sample-key index and then their companies by id:
    asked as one join, Postgres sorts every point when the sample is a large share of the map
    (0.3 s at 100,000 instead of 0.05 s)."""
    points = MapPoint.objects.filter(model_name=model).order_by(*SAMPLE_ORDER)
    points = list(points.values_list("company_id", "x", "y", "text_hash")[:among])
    companies = Company.objects.in_profile(profile_id).filter(pk__any_of=[p[0] for p in points], verdict="").order_by()
    columns = ("pk", "text_hash", "score__fit", "name", "score__unexplored", "score__supported")
    found = {pk: rest for pk, *rest in companies.values_list(*columns)}
    rows = [
        (company_id, x, y, "", *found[company_id][1:])
        for company_id, x, y, text_hash in points
        if company_id in found and found[company_id][0] == text_hash  # unlabelled, placed from its current vector
    ]
    return rows[:wanted]


def _grid(x: np.ndarray, y: np.ndarray, extent: list[float]) -> tuple[list[int], list[int]]:
    """Integers, 0..GRID across the map's extent (that of every point when compute_map last ran,
    so the same whatever the sample; a company placed since may fall a little outside), one
    scale for both axes (the map keeps its shape)."""
    if not len(x):
        return [], []
    x0, y0, x1, y1 = extent if len(extent) == 4 else (x.min(), y.min(), x.max(), y.max())
    scale = GRID / (max(x1 - x0, y1 - y0) or 1.0)
    return np.rint((x - x0) * scale).astype(int).tolist(), np.rint((y - y0) * scale).astype(int).tolist()
