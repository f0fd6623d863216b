"""Label review decisions: a manager's "keep: this is right". Relabelling and clearing go through
scoring.labels like every other verdict."""

from __future__ import annotations

from django.db import transaction

from leads.models import Company, CurrentVerdict, ReviewDecision
from leads.review import selectors as review


class StaleEntry(ValueError):
    """The entry's companies were labelled again since the page showed it: look again."""


@transaction.atomic
def review_keep(
    *,
    profile_id: int,
    company: Company,
    kind: ReviewDecision.Kind | str,
    user,
    label_id: int | None,
    other: Company | None = None,
    other_label_id: int | None = None,
) -> ReviewDecision:
    """Remember that `user` found this entry right as labelled in the profile: it stays off the
    review page while `label_id` (and, for a near-duplicate pair, `other_label_id`) are the
    companies' latest labels there. The company's verdict there is kept with the decision.

    The label ids are the ones the page showed: a keep never covers a label the manager did not see."""
    kind = ReviewDecision.Kind(kind)
    if (kind == ReviewDecision.Kind.DUPLICATE) != (other is not None):
        raise ValueError("a near-duplicate entry is a pair: give the other company (and only then)")
    latest = review.latest_labels([company.pk] + ([other.pk] if other else []), profile_id)
    if latest.get(company.pk) != label_id or (other is not None and latest.get(other.pk) != other_label_id):
        raise StaleEntry(f"{company.name} was labelled again since this page was shown: look at it again.")
    verdict = CurrentVerdict.objects.filter(profile_id=profile_id, company=company).values_list("verdict", flat=True)
    return ReviewDecision.objects.create(
        company=company,
        other=other,
        kind=kind,
        label_id=label_id,
        other_label_id=other_label_id if other is not None else None,
        verdict=verdict.first() or "",
        user=user,
    )
