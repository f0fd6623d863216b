"""Why a company has its fit, in a rep's words: the labelled neighbours that made its score, the
sentence that names only the close ones, and the evidence (leads/scoring/evidence.py) in words. Read-side,
for the company page and the admin."""

from __future__ import annotations

from dataclasses import dataclass

from leads.models import Company, ScoringState
from leads.scoring import evidence


@dataclass(frozen=True)
class NeighbourView:
    company: Company | None  # None when the neighbour was deleted since scoring
    company_id: int
    verdict: str  # "like" / "dislike"
    similarity: float  # 1 - cosine distance
    distance: float
    share: float  # of the total weight, 0..1


def score_explanation(company: Company) -> list[NeighbourView]:
    """The labelled neighbours that made a company's score, nearest first (its score in the
    profile it was read in: Company.objects.in_profile; none read outside one)."""
    score = getattr(company, "score", None)
    if score is None:
        return []
    return neighbour_views(score, Company.objects.in_bulk([n["company_id"] for n in score.neighbours]))


def neighbour_views(score, by_id: dict[int, Company]) -> list[NeighbourView]:
    """A score's neighbours, nearest first, with their companies from `by_id` (read by the caller,
    for one company or a batch of them)."""
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


@dataclass(frozen=True)
class Reach:
    """Cosine distances (0..2) that the explanation reads a company's neighbours against."""

    close: float  # a labelled neighbour within this is close (evidence.UNEXPLORED_BEYOND radii)
    supports: float  # a liked one within this supports calling it a fit (evidence.SUPPORTED_WITHIN radii)


def close_reach(*, profile_id: int) -> Reach:
    """The reach of the radius the profile's scores are weighed with: that of its last full rescore,
    1.0 before one measured it."""
    radius = ScoringState.objects.filter(profile_id=profile_id).values_list("radius", flat=True).first()
    radius = 1.0 if radius is None else radius
    return Reach(close=evidence.UNEXPLORED_BEYOND * radius, supports=evidence.SUPPORTED_WITHIN * radius)


def explanation_sentence(company: Company, neighbours: list[NeighbourView], reach: Reach | None = None) -> str:
    """Why the company has its fit, naming only the labelled companies that are close to it:
    'Fit +0.62 (score +0.81): it is close to Budweiser and Heineken, which you liked.' Where none is
    close it says so, and never "close to"."""
    score = getattr(company, "score", None)
    if score is None or not neighbours:
        return ""
    reach = close_reach(profile_id=score.profile_id) if reach is None else reach
    nearest = neighbours[0]
    if score.unexplored or nearest.distance > reach.close:
        return (
            f"Nothing you labelled is close: the nearest, {_name(nearest)}, is only {_percent(nearest.similarity)} "
            "similar. Label a few companies like this one to score it."
        )
    close = [n for n in neighbours if n.distance <= reach.close and n.company][:3]
    # A liked company is "close" only where it supports a fit (reach.supports): one farther off
    # counts in the fit, but calling it close would contradict "not close enough" below.
    liked = [n.company.name for n in close if n.verdict == "like" and n.distance <= reach.supports]
    disliked = [n.company.name for n in close if n.verdict == "dislike"]
    reasons = []
    if liked:
        reasons.append(f"{join_names(liked)}, which you liked")
    if disliked:
        reasons.append(f"{join_names(disliked)}, which you disliked")
    sentence = f"Fit {score.signed_fit} (score {score.signed})"
    sentence += (": it is close to " + ", and to ".join(reasons) + ".") if reasons else "."
    nearest_like = next((n for n in neighbours if n.verdict == "like"), None)
    if nearest_like is None:
        sentence += " No company you liked is among its nearest, so it cannot be a fit yet."
    elif not score.supported:
        sentence += (
            f" The nearest company you liked, {_name(nearest_like)}, is only {_percent(nearest_like.similarity)} "
            "similar: not close enough to call it a fit yet."
        )
    return sentence


def evidence_text(company: Company, neighbours: list[NeighbourView], reach: Reach | None = None) -> str:
    """The evidence in a rep's words: how many of the labelled neighbours are close."""
    score = getattr(company, "score", None)
    if score is None or not neighbours:
        return ""
    reach = close_reach(profile_id=score.profile_id) if reach is None else reach
    close = sum(1 for n in neighbours if n.distance <= reach.close)
    if not close:
        return (
            f"Evidence: none. Its {len(neighbours)} nearest labelled companies are all less than "
            f"{_percent(1.0 - reach.close)} similar, too far to say whether it fits."
        )
    word = "company is" if close == 1 else "companies are"
    far = len(neighbours) - close
    rest = f"; the other {far} are too far to count for much" if far else ""
    return f"Evidence: {close} labelled {word} at least {_percent(1.0 - reach.close)} similar{rest}."


def _name(neighbour: NeighbourView) -> str:
    return neighbour.company.name if neighbour.company else "a company deleted since"


def _percent(share: float) -> str:
    return f"{round(100 * max(share, 0.0))}%"


def neighbour_tally(neighbours: list[NeighbourView]) -> str:
    """'7 liked and 3 disliked among its 10 nearest labelled companies'; '' with none."""
    if not neighbours:
        return ""
    liked = sum(1 for n in neighbours if n.verdict == "like")
    disliked = len(neighbours) - liked
    parts = [f"{count} {word}" for count, word in ((liked, "liked"), (disliked, "disliked")) if count]
    nearest = "nearest labelled company" if len(neighbours) == 1 else f"{len(neighbours)} nearest labelled companies"
    return f"{' and '.join(parts).capitalize()} among its {nearest}."


def join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
