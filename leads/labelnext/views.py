"""Label next's page: the unlabelled companies where a verdict teaches the scorer most. A verdict
given on it comes back as label next's own row (companies.views.row_response)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from leads.accounts import roles
from leads.companies.listed import listed
from leads.companies.views import PAGE_SIZE
from leads.labelnext import selectors as labelnext_selectors
from leads.models import Company
from leads.profiles import selectors as profiles


@roles.required(roles.VIEW)
@require_GET
def label_next(request: HttpRequest) -> HttpResponse:
    """Unlabelled companies where a verdict teaches the scorer most, each with its reason; with no
    labels yet, a sample spread over the companies (and the way to import a customer list)."""
    profile_id = profiles.current_id(request)
    labelled = Company.objects.labelled(profile_id).exists()
    suggestions = (
        labelnext_selectors.label_next(limit=PAGE_SIZE, profile_id=profile_id)
        if labelled
        else labelnext_selectors.cold_start_sample(PAGE_SIZE, profile_id=profile_id)
    )
    rows = listed(profile_id, [suggestion.company for suggestion in suggestions], why=suggestions, embedded=True)
    return render(request, "leads/label_next.html", {"rows": rows, "cold_start": not labelled})
