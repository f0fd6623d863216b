"""Dashboard and company pages for sales reps."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leads import selectors
from leads.models import ApiToken, Company, LabelSource
from leads.services import exports, queue
from leads.services.labels import InvalidVerdict, label_company

PAGE_SIZE = 50
# The dashboard counts (and pages through) at most this many companies: filter or search for more.
COUNT_LIMIT = 10_000


def _bad_request(message: str) -> HttpResponseBadRequest:
    # Plain text: the message quotes the user's input, which must not be rendered as HTML.
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "all")
    query = request.GET.get("q", "")
    try:
        companies = selectors.best_first(show=show, query=query, count_limit=COUNT_LIMIT)
    except selectors.BadFilter as error:
        return _bad_request(str(error))
    page = Paginator(companies, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "leads/dashboard.html",
        {
            "page": page,
            "show": show,
            "query": query,
            "filters": list(selectors.LABEL_FILTERS),
            "count_is_capped": companies.count_is_capped,
        },
    )


@login_required
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_object_or_404(Company.objects.select_related("score"), pk=pk)
    neighbours = selectors.score_explanation(company)
    return render(
        request,
        "leads/company_detail.html",
        {
            "company": company,
            "labels": company.labels.select_related("user")[:50],
            "neighbours": neighbours,
            "explanation": selectors.explanation_sentence(company, neighbours),
            "is_embedded": selectors.is_embedded(company),
            "similar": selectors.similar_companies(company, unlabelled=True),  # [] until it is embedded
            "website_url": _website_url(company),
        },
    )


def _website_url(company: Company) -> str:
    """An http(s) link to the website: 'example.com' gets https://, other schemes (javascript:) no link."""
    website = company.website.strip()
    if re.match(r"https?://", website, re.IGNORECASE):
        return website
    return f"https://{website}" if company.domain and "://" not in website else ""


@login_required
@require_POST
def label(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_object_or_404(Company, pk=pk)
    try:
        label_company(
            company=company, user=request.user, source=LabelSource.CLICK, verdict=request.POST.get("verdict", "")
        )
    except InvalidVerdict as error:
        return _bad_request(str(error))
    done = f"{company.name}: {_past_tense(company.verdict)}."
    if queue.queue_is_down():  # the label is saved; the sweep rescores once Redis is back
        messages.warning(request, f"{done} The task queue is unreachable: scores update once it is back.")
    else:
        messages.success(request, f"{done} Scores update in a moment.")
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("dashboard")


def _past_tense(verdict: str) -> str:
    return {"like": "liked", "dislike": "disliked"}.get(verdict, "label cleared")


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """A rep's API token: make, replace or revoke it. Only a hash of the key is stored, so the
    key is shown once, in the answer to the POST that made it (not cached, not redirected)."""
    action = request.POST.get("action")
    if action == "revoke":
        if ApiToken.revoke(user=request.user):
            messages.success(request, "Your API token was revoked: it no longer works.")
        return redirect("api-token")
    if action == "new":
        replaced = ApiToken.objects.filter(user=request.user).exists()
        token = ApiToken.issue(user=request.user)
        return render(request, "leads/api_token.html", {"token": token, "key": token.key, "replaced": replaced})
    if request.method == "POST":
        return _bad_request("action must be new or revoke")
    token = ApiToken.objects.filter(user=request.user).first()
    return render(request, "leads/api_token.html", {"token": token})


@login_required
@require_GET
def export_scores(request: HttpRequest) -> HttpResponse:
    """The dashboard's current view as CSV that Excel opens (UTF-8 with BOM, formulas neutralised)."""
    show, query = request.GET.get("show", "all"), request.GET.get("q", "")
    try:
        companies = selectors.best_first(show=show, query=query, embedding_status=False)
    except selectors.BadFilter as error:
        return _bad_request(str(error))
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    response = StreamingHttpResponse(exports.stream_scores(companies), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="leads-scores-{show}-{stamp}.csv"'
    return response
