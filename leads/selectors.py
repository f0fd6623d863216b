"""Read-side queries shared by the dashboard, the API, the admin and exports."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from pgvector.django import CosineDistance

from leads import embedding
from leads.models import Company, CompanyEmbedding, CompanyQuerySet

LABEL_FILTERS = {
    "all": lambda qs: qs,
    "unlabelled": CompanyQuerySet.unlabelled,
    "labelled": CompanyQuerySet.labelled,
    "liked": lambda qs: qs.filter(verdict="like"),
    "disliked": lambda qs: qs.filter(verdict="dislike"),
}


class BadFilter(ValueError):
    pass


def company_listing(*, show: str = "all", query: str = "") -> CompanyQuerySet:
    """The companies a label filter and a search select, with their score loaded (unordered:
    `best_first` orders them for the dashboard, the API and exports)."""
    if show not in LABEL_FILTERS:
        raise BadFilter(f"show must be one of: {', '.join(LABEL_FILTERS)} (got {show!r})")
    companies = LABEL_FILTERS[show](Company.objects.select_related("score"))
    if "\x00" in query:  # Postgres text never holds NUL: no match, rather than a DataError (a 500)
        return companies.none()
    return companies.search(query)


class BestFirst:
    """Companies best score first (ties by id), then those without a score (labelled, waiting for
    embedding, or nothing labelled yet) by name.

    Two queries that each follow an index, instead of one sort of every company by a column of
    an outer join: the first page of a million companies reads ~50 score index entries. The
    Paginator slices it; only the rows of a page get their embedding status, in one query."""

    def __init__(self, companies: CompanyQuerySet, *, embedding_status: bool = True, count_limit: int | None = None):
        self.companies = companies
        self.scored = companies.filter(score__isnull=False).order_by("-score__value", "pk")
        if companies.matching_ids is not None:  # a search: the same ids on the score side (see search())
            self.scored = self.scored.filter(score__company__any_of=companies.matching_ids)
        self.unscored = companies.filter(score__isnull=True).order_by("name", "pk")
        self.embedding_status = embedding_status
        # Counting a million rows costs ~100 ms a page view: the dashboard counts up to a limit.
        self.count_limit = count_limit

    @functools.cached_property
    def scored_count(self) -> int:
        return self.scored.count()

    def count(self) -> int:
        """How many companies, or count_limit when there are at least that many."""
        return self._count

    @functools.cached_property
    def _count(self) -> int:
        if self.count_limit is None:
            return self.scored_count + self.unscored.count()
        # Any order will do for a count: Postgres stops at the limit, a few ms whatever N is.
        return self.companies.order_by()[: self.count_limit].count()

    @property
    def count_is_capped(self) -> bool:
        return self.count_limit is not None and self.count() >= self.count_limit

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list[Company]:
        if not isinstance(key, slice) or key.stop is None or key.step is not None:
            raise TypeError("BestFirst takes slices [start:stop]")
        start, stop = key.start or 0, key.stop
        rows = list(self.scored[start:stop])
        if len(rows) < stop - start:  # past the scored companies: the count is small or needed
            scored = start + len(rows) if rows else self.scored_count
            rows += list(self.unscored[max(start - scored, 0) : stop - scored])
        if self.embedding_status:
            embedded = set(
                CompanyEmbedding.objects.current(embedding.model_name())
                .filter(company_id__in=[company.pk for company in rows])
                .values_list("company_id", flat=True)
            )
            for company in rows:
                company.is_embedded = company.pk in embedded
        return rows

    def iterator(self, chunk_size: int = 2000) -> Iterator[Company]:
        """Every company in order, streamed (exports)."""
        yield from self.scored.iterator(chunk_size=chunk_size)
        yield from self.unscored.iterator(chunk_size=chunk_size)


def best_first(
    *, show: str = "all", query: str = "", embedding_status: bool = True, count_limit: int | None = None
) -> BestFirst:
    """The dashboard's, the API's and the export's order: `company_listing`, best score first."""
    return BestFirst(
        company_listing(show=show, query=query), embedding_status=embedding_status, count_limit=count_limit
    )


def is_embedded(company: Company) -> bool:
    return Company.objects.filter(pk=company.pk).with_current_embedding(embedding.model_name()).exists()


@dataclass(frozen=True)
class NeighbourView:
    company: Company | None  # None when the neighbour was deleted since scoring
    company_id: int
    verdict: str  # "like" / "dislike"
    similarity: float  # 1 - cosine distance
    distance: float
    share: float  # of the total weight, 0..1


def score_explanation(company: Company) -> list[NeighbourView]:
    """The labelled neighbours that made a company's score, nearest first."""
    score = getattr(company, "score", None)
    if score is None:
        return []
    ids = [n["company_id"] for n in score.neighbours]
    by_id = Company.objects.in_bulk(ids)
    return [
        NeighbourView(
            company=by_id.get(n["company_id"]),
            company_id=n["company_id"],
            verdict="like" if n["label"] > 0 else "dislike",
            similarity=1.0 - n["distance"],
            distance=n["distance"],
            share=n["weight"],
        )
        for n in score.neighbours
    ]


def explanation_sentence(company: Company, neighbours: list[NeighbourView]) -> str:
    """'Scored +0.81 because it is close to Budweiser and Heineken, which you liked.'"""
    score = getattr(company, "score", None)
    if score is None or not neighbours:
        return ""
    top = sorted(neighbours, key=lambda n: -n.share)[:3]
    liked = [n.company.name for n in top if n.verdict == "like" and n.company]
    disliked = [n.company.name for n in top if n.verdict == "dislike" and n.company]
    reasons = []
    if liked:
        reasons.append(f"{_join(liked)}, which you liked")
    if disliked:
        reasons.append(f"{_join(disliked)}, which you disliked")
    return f"Scored {score.signed} because it is close to " + ", and to ".join(reasons) + "."


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class SimilarCompany:
    company: Company  # with its score loaded, when it has one
    distance: float  # cosine distance, 0..2
    similarity: float  # 1 - distance, -1..1


def similar_companies(company: Company, *, limit: int = 10, unlabelled: bool = False) -> list[SimilarCompany]:
    """The `limit` other companies nearest to `company` by cosine distance between current
    vectors, nearest first (ties by id); only unlabelled ones if asked. [] while the company has
    no current vector (waiting for embedding).

    Approximate: it walks pgvector's HNSW index, which keeps it fast on a million companies. An
    iterative scan reads at most hnsw.max_scan_tuples (20,000) index entries, so a filter that
    almost nothing passes can still return fewer than `limit`."""
    vectors = CompanyEmbedding.objects.current(embedding.model_name())
    query = vectors.filter(company=company).values_list("vector", flat=True).first()
    if query is None:
        return []
    candidates = vectors.exclude(company=company).select_related("company__score")
    if unlabelled:
        candidates = candidates.filter(company__verdict="")
    # relaxed_order can return rows slightly out of order: read a few more than asked, sort, cut.
    nearest = candidates.annotate(distance=CosineDistance("vector", query)).order_by("distance")[: limit + 10]
    with transaction.atomic(), connection.cursor() as cursor:
        # The index yields the nearest vectors first and the filter (current text, unlabelled,
        # not itself) comes after it: a plain scan stops after ef_search entries and can return
        # fewer than `limit` rows; pgvector 0.8's iterative scan goes on until `limit` pass.
        cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        # ef_search: the candidates the graph search keeps. On 100k synthetic clustered vectors,
        # pgvector's default of 40 found 99% of the true 10 nearest (and none at all for one
        # query in 200); 64 found all of them, in the same ~2 ms.
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(min(1000, max(64, 2 * limit)))])
        # The planner takes the two conditions of "current" (same company, same text hash) as
        # independent, estimates ~1 matching row, concludes LIMIT must read the whole index and
        # picks a full scan plus sort (200 ms at 100k companies, against 1 ms). Without sorting,
        # the ordered index scan is the only plan left.
        cursor.execute("SELECT set_config('enable_sort', 'off', true)")
        rows = list(nearest)
        # Read-only: rolling back ends the settings above here, even inside a caller's transaction.
        transaction.set_rollback(True)
    rows = sorted(rows, key=lambda row: (row.distance, row.company_id))[:limit]
    return [SimilarCompany(company=row.company, distance=row.distance, similarity=1.0 - row.distance) for row in rows]
