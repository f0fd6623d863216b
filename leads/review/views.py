"""The label review page for managers (staff only) and its one-click fixes: relabel or clear
(through scoring.labels, source admin, so every fix is in the history) and "keep"."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from leads.accounts import roles
from leads.core.params import whole_number
from leads.models import Company, LabelSource, ReviewDecision, Verdict
from leads.outcomes import selectors as outcome_selectors
from leads.profiles import selectors as profiles
from leads.review import figures as review_quality
from leads.review import selectors as review
from leads.review import services as review_service
from leads.scoring import labels

SECTIONS = ("quality", "suspicious", "conflicts", "duplicates", "far", "outcomes")


@roles.required(roles.REVIEW)
@require_GET
def review_page(request: HttpRequest) -> HttpResponse:
    profile_id = profiles.current_id(request)
    suspicious, suspicious_total = review.suspicious_labels(profile_id=profile_id)
    conflicts, conflicts_total = review.conflicts(profile_id=profile_id)
    duplicates, duplicates_total = review.near_duplicates(profile_id=profile_id)
    far, far_total, far_threshold = review.low_confidence(profile_id=profile_id)
    against_outcomes, against_outcomes_total = outcome_selectors.disagreements(profile_id=profile_id)
    # One set of figures: headline, which k, today's point.
    report = review.labelled_quality(profile_id=profile_id).report
    by_k = review_quality.quality_by_k(report)
    return render(
        request,
        "leads/review.html",
        {
            "labelled": report.labels,
            "by_k": by_k,
            "headline": by_k.headline,
            "trend": review_quality.quality_trend(report, profile_id=profile_id),
            "scoring_k": settings.SCORING_K,
            "suspicious": suspicious,
            "suspicious_total": suspicious_total,
            "suspicious_score": review.SUSPICIOUS_SCORE,
            "conflicts": conflicts,
            "conflicts_total": conflicts_total,
            "agreement": review.rep_agreement(profile_id),
            "duplicates": duplicates,
            "duplicates_total": duplicates_total,
            "duplicate_distance": settings.REVIEW_DUPLICATE_DISTANCE,
            "far": far,
            "far_total": far_total,
            "far_threshold": far_threshold,
            "against_outcomes": against_outcomes,
            "against_outcomes_total": against_outcomes_total,
        },
    )


@roles.required(roles.REVIEW)
@require_POST
def relabel(request: HttpRequest, pk: int) -> HttpResponse:
    """Like, dislike or clear a company from the review page, as the manager, source admin."""
    company = get_object_or_404(Company, pk=pk)
    profile_id = profiles.current_id(request)
    try:
        verdict = labels.parse_verdict(request.POST.get("verdict", ""))
        labels.label_company(
            profile_id=profile_id, company=company, user=request.user, verdict=verdict, source=LabelSource.ADMIN
        )
    except labels.InvalidVerdict as problem:  # not a verdict, or an archived profile
        messages.error(request, str(problem))
        return _back(request)
    done = "cleared" if verdict == Verdict.CLEAR else f"marked {verdict.label.lower()}"
    messages.success(request, f"{company.name}: {done}.")
    return _back(request)


@roles.required(roles.REVIEW)
@require_POST
def keep(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Keep: this is right": the entry leaves the page until its companies are labelled again."""
    profile_id = profiles.current_id(request)
    company = get_object_or_404(Company, pk=pk)
    other = None
    if request.POST.get("other"):
        other = get_object_or_404(Company, pk=_number(request.POST["other"]) or 0)
    try:
        review_service.review_keep(
            profile_id=profile_id,
            company=company,
            kind=request.POST.get("kind", ""),
            user=request.user,
            label_id=_number(request.POST.get("label")),
            other=other,
            other_label_id=_number(request.POST.get("other_label")),
        )
    except ValueError as problem:  # StaleEntry, an unknown kind or a pair without its other half
        messages.error(
            request, str(problem) if isinstance(problem, review_service.StaleEntry) else "Not a review entry."
        )
        return _back(request)
    kind = ReviewDecision.Kind(request.POST["kind"])
    messages.success(request, f"{company.name}: kept as labelled ({kind.label.lower()}).")
    return _back(request)


def _number(value: str | None) -> int | None:
    """A database id from a form field; None for anything else."""
    return whole_number(value)


def _back(request: HttpRequest) -> HttpResponse:
    section = request.POST.get("section", "")
    return redirect(reverse("review") + (f"#{section}" if section in SECTIONS else ""))
