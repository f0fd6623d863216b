"""The company page's and the dashboard row's owner and note forms. The writes are the services'
(leads/owners/services.py), which also say who may do what."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from leads.accounts import roles
from leads.companies import views as company_views
from leads.models import Company
from leads.owners import selectors, services
from leads.profiles import selectors as profiles


@roles.required(roles.CLAIM)
@require_POST
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Give the company to `owner` ("me", a username, or "none"), as the company page's form or a
    dashboard row's button (htmx: the row comes back) asks."""
    company = get_object_or_404(Company.objects.select_related("owner"), pk=pk)
    try:
        owner = selectors.owner_named(request.POST.get("owner", ""), user=request.user)
        services.assign_company(company=company, owner=owner, by=request.user)
    except selectors.UnknownOwner as error:
        return _refused(request, str(error), 400)
    except services.Refused as error:
        return _refused(request, str(error), 403)
    done = f"{company.name} is now {owner.get_username()}'s." if owner else f"{company.name} is unassigned."
    if request.htmx:
        return company_views.row_response(request, company, done)
    messages.success(request, done)
    return _back(request, company)


@roles.required(roles.NOTE)
@require_POST
def add_note(request: HttpRequest, pk: int) -> HttpResponse:
    """Keep a note on the company; a refused one comes back on the page with its text and why."""
    # Read in the request's profile: a refused note shows the company page again.
    company = get_object_or_404(Company.objects.in_profile(profiles.current_id(request)).select_related("owner"), pk=pk)
    text = request.POST.get("text", "")
    try:
        services.add_note(company=company, author=request.user, text=text)
    except services.InvalidNote as error:
        context = company_views.detail_context(request, company, note_error=str(error), note_text=text)
        return render(request, "leads/company_detail.html", context, status=400)
    except services.Refused as error:  # the decorator already checked the role: a race with a role change
        return render(request, "403.html", {"reason": str(error)}, status=403)
    messages.success(request, "Note kept.")
    return _back(request, company, anchor="#notes")


def _refused(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    """Plain text (the dashboard shows a refused request's text as its toast; a bad value only
    comes from a hand-made request), or the 403 page that says whom to ask."""
    if request.htmx or status != 403:
        return HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
    return render(request, "403.html", {"reason": reason}, status=403)


def _back(request: HttpRequest, company: Company, *, anchor: str = "") -> HttpResponse:
    """To the page the form was on (`next`), else the company's page (at `anchor`)."""
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("company-detail", args=[company.pk]) + anchor
    return redirect(next_url)
