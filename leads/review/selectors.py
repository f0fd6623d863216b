"""Label review for managers: the read side (selectors). Which labels look wrong, where reps
disagree, near-duplicates labelled apart, unlabelled companies far from anything labelled; the
figures of ranking quality (which k, the trend) are in review/figures.py. Writes ("keep: this is right") are in review/services.py; fixes go
through scoring.labels.

Cost, whatever the number of companies: the leave-one-out scores read the labelled set only (and
are cached until it changes: a new label, a re-embedded labelled company); near-duplicates walk
the HNSW index once per liked company; low-confidence reads the stored Score rows once.

One measurement of the labelled set (`labelled_quality`) gives the page its headline, its "which
k" table, the trend's point for today and the suspicious labels: figures that disagree can't be
shown side by side (a headline from the labels now beside a table from a snapshot taken when
the team had two)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Subquery

from leads.companies import disagreements
from leads.embedding import active
from leads.labelnext import choice as labelnext
from leads.models import Company, CompanyEmbedding, CurrentVerdict, Label, ReviewDecision, Score, Verdict
from leads.models.companies import sized_vector
from leads.models.encoders import HNSW_EF_SEARCH
from leads.review import quality
from leads.scoring import reads

# A label is suspicious when its leave-one-out score says the opposite this strongly: liked with a
# score below -SUSPICIOUS_SCORE, disliked with one above +SUSPICIOUS_SCORE.
SUSPICIOUS_SCORE = 0.5
LIST_LIMIT = 50  # entries shown per section
LOW_CONFIDENCE_LIMIT = 25
# Near-duplicates: the nearest disliked companies looked at per liked company.
DUPLICATES_PER_LIKE = 5
LOO_CACHE_SECONDS = 3600
REPORT_BOOTSTRAP = 200  # resamples for the intervals, as `manage.py evaluate` by default
REPORT_SEED = 1

Kind = ReviewDecision.Kind


@dataclass(frozen=True)
class LabelledLoo:
    """Each labelled company scored from the others only, at settings.SCORING_K (cached)."""

    company_ids: np.ndarray  # (m,) ascending
    labels: np.ndarray  # (m,) +1 / -1
    scores: np.ndarray  # (m,) LOO scores; NaN with a single label
    neighbour_ids: np.ndarray  # (m, k') company ids, nearest first
    neighbour_distances: np.ndarray  # (m, k') cosine distances
    far_threshold: float  # labelnext.low_confidence_threshold of the labelled set


@dataclass(frozen=True)
class LabelledQuality:
    """The labelled set measured once: the quality report (every k, the fit beside the score)
    and the LOO neighbours the suspicious labels are read from, found in one pass."""

    fingerprint: str  # labelled_fingerprint() before the set was read: a later label changes it
    report: quality.Report
    loo: LabelledLoo


def labelled_quality(
    *,
    profile_id: int,
    ks: tuple[int, ...] = quality.DEFAULT_KS,
    bootstrap: int = REPORT_BOOTSTRAP,
    seed: int = REPORT_SEED,
) -> LabelledQuality:
    """The profile's labelled set's quality now, cached until the set changes (labelled_fingerprint)."""
    fingerprint = labelled_fingerprint(profile_id)
    key = f"leads:review-quality:{fingerprint}:{'-'.join(map(str, ks))}:{bootstrap}:{seed}"
    measured = cache.get(key)
    if measured is None:
        measured = _measure(profile_id, fingerprint, tuple(ks), bootstrap, seed)
        cache.set(key, measured, LOO_CACHE_SECONDS)
    return measured


def _measure(profile_id: int, fingerprint: str, ks: tuple[int, ...], bootstrap: int, seed: int) -> LabelledQuality:
    labelled = reads.load_labelled_set(profile_id)
    k = settings.SCORING_K
    ks = quality.measured_ks(ks, k)
    found = quality.leave_one_out(labelled.vectors, labelled.labels, max(ks))
    report = quality.report_of(found, ks=ks, k=k, bootstrap=bootstrap, seed=seed, radius=labelled.radius)
    return LabelledQuality(fingerprint, report, _at_k(labelled, found, k))


def _at_k(labelled: reads.LabelledSet, found: quality.LeaveOneOut, k: int) -> LabelledLoo:
    """The LOO at the scoring k: the first k of the neighbours found (nearest first, ties by row,
    so the same as a search for k)."""
    return LabelledLoo(
        company_ids=labelled.company_ids,
        labels=labelled.labels,
        scores=found.scores(k),
        neighbour_ids=labelled.company_ids[found.neighbours[:, :k]],
        neighbour_distances=found.distances[:, :k],
        far_threshold=labelnext.low_confidence_threshold(labelled.vectors),
    )


def labelled_loo(profile_id: int) -> LabelledLoo:
    return labelled_quality(profile_id=profile_id).loo


def labelled_fingerprint(profile_id: int) -> str:
    """Changes whenever the profile's labelled set may have: a new label, a labelled company
    (re-)embedded or leaving the set (its text edited), another model or k, another radius (the fit's)."""
    model = active.model_name()
    vectors = CompanyEmbedding.objects.labelled(model, profile_id).aggregate(n=Count("pk"), latest=Max("created_at"))
    last_label = Label.objects.filter(profile_id=profile_id).aggregate(last=Max("pk"))["last"]
    radius = reads.stored_radius(profile_id)  # as load_labelled_set reads it
    state = f"{profile_id}:{model}:{settings.SCORING_K}:{vectors['n']}:{vectors['latest']}:{last_label}:{radius!r}"
    return hashlib.sha256(state.encode()).hexdigest()


def latest_labels(company_ids: list[int], profile_id: int) -> dict[int, int]:
    """{company id: id of its latest label in the profile}."""
    latest = (
        Label.objects.filter(company_id__any_of=company_ids, profile_id=profile_id)
        .order_by("company_id", "-created_at", "-pk")
        .distinct("company_id")
        .values_list("company_id", "pk")
    )
    return dict(latest)


def _kept(kind: str, company_ids: list[int]) -> set[tuple[int, int | None, int | None, int | None]]:
    """(company, other, label, other label) of every "keep" on these companies."""
    return set(
        ReviewDecision.objects.filter(kind=kind, company_id__any_of=company_ids).values_list(
            "company_id", "other_id", "label_id", "other_label_id"
        )
    )


# --- Suspicious labels ------------------------------------------------------------------


@dataclass(frozen=True)
class NearLabel:
    company: Company | None  # None: deleted since
    verdict: str
    distance: float


@dataclass(frozen=True)
class SuspiciousLabel:
    company: Company
    label_id: int
    loo_score: float
    neighbours: list[NearLabel]  # the nearest few that outvote the label

    @property
    def reason(self) -> str:
        liked = sum(1 for n in self.neighbours if n.verdict == Verdict.LIKE)
        past = "Liked" if self.company.verdict == Verdict.LIKE else "Disliked"
        return (
            f"{past}, but scored {self.loo_score:+.2f} from the other labels: {liked} liked and "
            f"{len(self.neighbours) - liked} disliked among its {len(self.neighbours)} nearest labelled companies."
        )


def suspicious_labels(*, profile_id: int, limit: int = LIST_LIMIT) -> tuple[list[SuspiciousLabel], int]:
    """Companies labelled in the profile whose leave-one-out score contradicts their label, worst
    first (then by id), less those kept since their last label; and how many there are in all."""
    loo = labelled_loo(profile_id)
    with np.errstate(invalid="ignore"):
        contradiction = loo.labels * loo.scores  # -1: every neighbour says the opposite
        rows = np.flatnonzero(contradiction < -SUSPICIOUS_SCORE)
    rows = rows[np.lexsort((loo.company_ids[rows], contradiction[rows]))]
    ids = loo.company_ids[rows].tolist()
    latest = latest_labels(ids, profile_id)
    kept = _kept(Kind.SUSPICIOUS, ids)
    rows = [row for row, i in zip(rows.tolist(), ids) if (i, None, latest.get(i), None) not in kept]
    shown = rows[:limit]
    companies = Company.objects.in_profile(profile_id).in_bulk(
        {int(i) for row in shown for i in [loo.company_ids[row], *loo.neighbour_ids[row]]}
    )
    entries = []
    for row in shown:
        company = companies.get(int(loo.company_ids[row]))
        if company is None or not company.verdict:  # deleted or cleared since the cache was filled
            continue
        neighbours = [
            NearLabel(companies.get(int(i)), _verdict(label), float(d))
            for i, d, label in zip(loo.neighbour_ids[row], loo.neighbour_distances[row], loo.labels[_rows(loo, row)])
        ]
        entries.append(SuspiciousLabel(company, latest[company.pk], float(loo.scores[row]), neighbours))
    return entries, len(rows)


def _rows(loo: LabelledLoo, row: int) -> np.ndarray:
    return np.searchsorted(loo.company_ids, loo.neighbour_ids[row])


def _verdict(label: float) -> str:
    return Verdict.LIKE if label > 0 else Verdict.DISLIKE


# --- Reps who disagree --------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    company: Company
    label_id: int
    given: str  # "alice liked, bob disliked"


@dataclass(frozen=True)
class Agreement:
    first: str
    second: str
    shared: int  # companies both gave a verdict (like or dislike) to
    agreed: int
    kappa: float | None  # Cohen's kappa; None where undefined (one verdict for everything)


def conflicts(*, profile_id: int, limit: int = LIST_LIMIT) -> tuple[list[Conflict], int]:
    """Companies whose reps' latest verdicts disagree (disagreements.rep_disagreements: the dashboard's
    rule), unless a manager kept it since its last label; most recent first. And how many there
    are in all."""
    disagree = disagreements.rep_disagreements(profile_id)
    ids = sorted(disagree, key=lambda i: (-max(v[2] for v in disagree[i]).timestamp(), i))
    latest = latest_labels(ids, profile_id)
    kept = _kept(Kind.CONFLICT, ids)
    ids = [i for i in ids if (i, None, latest.get(i), None) not in kept]
    companies = Company.objects.in_profile(profile_id).in_bulk(ids[:limit])
    entries = [
        Conflict(companies[i], latest[i], disagreements.disagreement_text(disagree[i]))
        for i in ids[:limit]
        if i in companies
    ]
    return entries, len(ids)


def rep_verdicts(*, profile_id: int) -> list[tuple[int, int, str, str, object]]:
    """(company id, user id, username, verdict, when) of each rep's latest verdict in the profile
    on each company that two reps or more labelled there, for the agreement between reps
    (Label.objects.by_reps: a manager's fixes, deals and restores are not a rep's opinion)."""
    reps = Label.objects.by_reps().filter(profile_id=profile_id)
    shared = reps.values("company_id").annotate(reps=Count("user_id", distinct=True)).filter(reps__gte=2)
    latest = (
        reps.filter(company_id__in=Subquery(shared.values("company_id")))
        .order_by("company_id", "user_id", "-created_at", "-pk")
        .distinct("company_id", "user_id")
        .values_list("company_id", "user_id", "user__username", "verdict", "created_at")
    )
    return list(latest)


def rep_agreement(profile_id: int) -> list[Agreement]:
    """Cohen's kappa for each pair of reps over the companies both gave a verdict to in the profile
    (each rep's latest, clears left out), most shared companies first."""
    verdicts: dict[str, dict[int, str]] = {}
    for company_id, _, username, verdict, _ in rep_verdicts(profile_id=profile_id):
        if verdict != Verdict.CLEAR:
            verdicts.setdefault(username, {})[company_id] = verdict
    pairs = []
    for first, second in combinations(sorted(verdicts), 2):
        shared = sorted(verdicts[first].keys() & verdicts[second].keys())
        if not shared:
            continue
        a = [verdicts[first][i] for i in shared]
        b = [verdicts[second][i] for i in shared]
        kappa = quality.cohen_kappa(a, b)
        agreed = sum(x == y for x, y in zip(a, b))
        pairs.append(Agreement(first, second, len(shared), agreed, None if np.isnan(kappa) else kappa))
    return sorted(pairs, key=lambda p: (-p.shared, p.first, p.second))


# --- Near-duplicates labelled apart ---------------------------------------------------------


@dataclass(frozen=True)
class DuplicatePair:
    liked: Company
    disliked: Company
    distance: float  # cosine distance, 0..2
    liked_label_id: int
    disliked_label_id: int


def near_duplicates(
    *, profile_id: int, limit: int = LIST_LIMIT, threshold: float | None = None
) -> tuple[list[DuplicatePair], int]:
    """Pairs of a company liked and one disliked in the profile closer than `threshold` (cosine
    distance; settings.REVIEW_DUPLICATE_DISTANCE), nearest first, less pairs kept since their last labels."""
    threshold = settings.REVIEW_DUPLICATE_DISTANCE if threshold is None else threshold
    key = f"leads:review-duplicates:{labelled_fingerprint(profile_id)}:{threshold!r}"
    found = cache.get(key)
    if found is None:
        found = _duplicate_rows(profile_id, threshold)
        cache.set(key, found, LOO_CACHE_SECONDS)
    latest = latest_labels(sorted({i for row in found for i in row[:2]}), profile_id)
    kept = _kept(Kind.DUPLICATE, sorted({row[0] for row in found}))
    found = [row for row in found if (row[0], row[1], latest.get(row[0]), latest.get(row[1])) not in kept]
    companies = Company.objects.in_bulk({i for row in found[:limit] for i in row[:2]})
    pairs = [
        DuplicatePair(companies[a], companies[b], float(d), latest[a], latest[b])
        for a, b, d in found[:limit]
        if a in companies and b in companies and a in latest and b in latest
    ]
    return pairs, len(found)


def _duplicate_rows(profile_id: int, threshold: float) -> list[tuple[int, int, float]]:
    """(liked id, disliked id, distance) below `threshold`, nearest first (then by ids).

    For each liked company, its DUPLICATES_PER_LIKE nearest disliked ones by pgvector's `<=>`,
    ORDER BY ... LIMIT in a lateral join: never a scan of every pair of companies. The planner
    picks how: with few labelled companies among many, an exact scan of the disliked ones through
    the labelled index (what it chose for 500 labels among 20,000 companies: 0.1 s); else the
    HNSW index, with an iterative scan so that the filter on disliked companies still fills the
    limit (approximate like every HNSW search, but a near-duplicate is the nearest of neighbours)."""
    encoder = active.encoder()
    vectors = CompanyEmbedding.objects.current(encoder.stored_name)
    liked = vectors.filter(_given(profile_id, Verdict.LIKE))
    disliked = vectors.filter(_given(profile_id, Verdict.DISLIKE))
    liked_sql, liked_params = _vectors_sql(liked, encoder.dimensions)
    disliked_sql, disliked_params = _vectors_sql(disliked, encoder.dimensions)
    sql = f"""
        select a.company_id, n.company_id, n.distance from ({liked_sql}) a
        cross join lateral (
            select b.company_id, b.sized <=> a.sized as distance from ({disliked_sql}) b
            order by b.sized <=> a.sized limit %s
        ) n
        where n.distance < %s
    """
    with transaction.atomic(), connection.cursor() as cursor:
        # As companies.nearest.similar_companies: should the planner walk the HNSW index, the filter comes
        # after it; an iterative scan goes on until the limit passes the filter.
        cursor.execute("select set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        cursor.execute("select set_config('hnsw.ef_search', %s, true)", [str(HNSW_EF_SEARCH)])
        cursor.execute(sql, [*liked_params, *disliked_params, DUPLICATES_PER_LIKE, threshold])
        found = sorted(cursor.fetchall(), key=lambda row: (row[2], row[0], row[1]))
        transaction.set_rollback(True)  # read-only: ends the settings above here
    return found


def _given(profile_id: int, verdict: Verdict | None = None) -> Exists:
    """The company (OuterRef("company_id")) has `verdict` in the profile (None: any verdict)."""
    current = CurrentVerdict.objects.filter(profile_id=profile_id, company_id=OuterRef("company_id"))
    return Exists(current if verdict is None else current.filter(verdict=verdict))


def _vectors_sql(embeddings, dimensions: int) -> tuple[str, tuple]:
    """SQL of (company_id, sized) of these embeddings, to select from as a subquery: `sized` is
    the vector cast to the encoder's size, the expression its HNSW index is built on."""
    return embeddings.order_by().values("company_id", sized=sized_vector(dimensions)).query.sql_with_params()


# --- Low-confidence scores ------------------------------------------------------------------


@dataclass(frozen=True)
class FarCompany:
    company: Company
    nearest_distance: float  # to its nearest labelled company, cosine 0..2


def low_confidence(*, profile_id: int, limit: int = LOW_CONFIDENCE_LIMIT) -> tuple[list[FarCompany], int, float]:
    """Companies unlabelled in the profile whose nearest labelled company is farther than most
    labelled companies are from theirs (labelnext.low_confidence_threshold), farthest first, from
    the profile's stored scores; how many in all, and the threshold."""
    threshold = labelled_loo(profile_id).far_threshold
    far = (
        Score.objects.filter(profile_id=profile_id)
        .exclude(_given(profile_id))
        .annotate(nearest=F("neighbour_distances__0"))
        .filter(nearest__gt=threshold)
    )
    rows = far.select_related("company").order_by("-nearest", "company_id")[:limit]
    entries = [FarCompany(score.company, float(score.nearest)) for score in rows]
    return entries, far.count(), threshold
