"""A company in every profile the user sees: its verdict, fit and band in each, for the company
page's table (only with a second active profile)."""

from __future__ import annotations

from dataclasses import dataclass

from leads.companies.distribution import band_of, score_distribution
from leads.models import Company, Profile
from leads.profiles import selectors as profiles
from leads.scoring import bands


@dataclass(frozen=True)
class InProfile:
    """A company as one profile sees it: its verdict there, and its score and band (None: not scored)."""

    profile: Profile
    verdict: str
    fit: str  # signed, "" when not scored
    band: bands.Band | None
    evidence: str  # Score.evidence_words, "" when not scored


def in_every_profile(company_id: int, user) -> list[InProfile]:
    """The company in every profile `user` sees, for the company page's table ([] with one profile):
    one query a profile (a few at most)."""
    visible = list(profiles.visible_to(user))
    if sum(p.archived_at is None for p in visible) < 2:
        return []
    found = []
    for profile in visible:
        company = Company.objects.in_profile(profile.pk).get(pk=company_id)
        score = None if company.verdict else company.score
        distribution = score_distribution(profile.pk)
        found.append(
            InProfile(
                profile=profile,
                verdict=company.get_verdict_display(),
                fit=score.signed_fit if score else "",
                band=band_of(score, distribution),
                evidence=score.evidence_words if score else "",
            )
        )
    return found
