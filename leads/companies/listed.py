"""A company as a list shows it: its band and rank against the team's fits, whether it has a
current vector, reps who disagree on it, and why the list shows it. Declared here, for the
dashboard, label next, a verdict's new row and the score cells a rescore changed, instead of
attributes set on Company instances."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from leads.companies import disagreements, selectors
from leads.companies import distribution as fit_distribution
from leads.models import Company
from leads.scoring.bands import Band


@dataclass(frozen=True)
class Listed:
    company: Company
    band: Band | None  # None without a score (labelled, or not scored yet)
    rank: str  # "top 3% of 48,000"; "" without a score
    is_embedded: bool  # a current vector exists: "waiting for embedding" otherwise
    conflict: str = ""  # "ana liked, ben disliked": reps' latest verdicts differ
    why: object = None  # why the list shows it: a search.SearchMatch, a SimilarCompany, a label-next Suggestion
    scores_exist: bool = False  # the profile has scores: one without a score is waiting for a pass, not for labels


def listed(
    profile_id: int, companies: Sequence[Company], *, why: Sequence | None = None, embedded: bool | None = None
) -> list[Listed]:
    """The rows of a page of companies (read in the profile: Company.objects.in_profile) in three
    queries at most: the fits' distribution (cached), the reps' disagreements and, unless
    `embedded` says, which have a current vector. `why`: one reason per company, in their order."""
    distribution = fit_distribution.score_distribution(profile_id)
    ids = [company.pk for company in companies]
    conflicts = disagreements.verdict_conflicts(profile_id, ids)
    vectors = selectors.embedded_ids(ids) if embedded is None else None
    rows = []
    for i, company in enumerate(companies):
        score = None if company.verdict else company.score
        rows.append(
            Listed(
                company=company,
                band=fit_distribution.band_of(score, distribution),
                rank=distribution.rank_text(score.fit) if score else "",
                is_embedded=embedded if vectors is None else company.pk in vectors,
                conflict=conflicts.get(company.pk, ""),
                why=why[i] if why is not None else None,
                scores_exist=distribution.total > 0,
            )
        )
    return rows
