"""Read-side queries shared by the dashboard, the API, the admin and exports."""

from __future__ import annotations

from dataclasses import dataclass

from leads import embedding
from leads.models import Company, CompanyQuerySet

LABEL_FILTERS = {
    "all": lambda qs: qs,
    "unlabelled": CompanyQuerySet.unlabelled,
    "labelled": CompanyQuerySet.labelled,
    "liked": lambda qs: qs.filter(verdict="like"),
    "disliked": lambda qs: qs.filter(verdict="dislike"),
}


class BadFilter(ValueError):
    pass


def company_listing(*, show: str = "all", query: str = "", embedding_status: bool = True) -> CompanyQuerySet:
    """Companies best score first, with their score (and embedding status) loaded."""
    if show not in LABEL_FILTERS:
        raise BadFilter(f"show must be one of: {', '.join(LABEL_FILTERS)} (got {show!r})")
    companies = Company.objects.select_related("score")
    if embedding_status:
        companies = companies.with_embedding_status(embedding.model_name())
    listing = LABEL_FILTERS[show](companies).by_score()
    if "\x00" in query:  # Postgres text never holds NUL: no match, rather than a DataError (a 500)
        return listing.none()
    return listing.search(query)


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
