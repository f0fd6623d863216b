"""The score change log's pages: the poll the dashboard and label next make after a verdict
(`/scores/changes`: done yet, how many changed, the page's rows made fresh) and the changes page
(`/changes/`: what moved since a verdict, from what to what, because of which)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from leads.accounts import roles
from leads.companies import changes as company_changes
from leads.companies.listed import listed
from leads.companies.views import COUNT_LIMIT, PAGE_SIZE, page_path
from leads.core import words
from leads.core.params import page_number
from leads.core.responses import bad_request
from leads.models import Company
from leads.profiles import selectors as profiles
from leads.scoring import reads
from leads.scoring import services as scores


@roles.required(roles.VIEW)
@require_GET
def score_changes(request: HttpRequest) -> JsonResponse:
    """Polled by the dashboard and label next after a verdict: whether the rescore is done, how many
    scores changed since `since`, and the page's rows as they are now (`ids`): every row's score
    cell (a rank, a band or "top N% of M" moves without its fit moving), and, for a row whose
    verdict is not the one the page shows (`shown`: each id's verdict there, "" for none; another
    rep's verdict), that verdict and its buttons."""
    try:
        since = _since(request.GET.get("since", ""))
        ids = [int(i) for i in request.GET.get("ids", "").split(",") if i][:PAGE_SIZE]
    except ValueError:
        return JsonResponse({"error": f"{SINCE_RULE}, ids whole numbers separated by commas"}, status=400)
    shown = dict(zip(ids, request.GET.get("shown", "").split(","))) if "shown" in request.GET else {}
    profile_id = profiles.current_id(request)
    changes = company_changes.score_changes(profile_id=profile_id, since=since)
    on_page = Company.objects.in_profile(profile_id).in_bulk(ids)
    cells, verdicts = {}, {}
    for row in listed(profile_id, [on_page[i] for i in ids if i in on_page]):
        company = row.company
        cells[company.pk] = render_to_string("leads/_score.html", {"company": company, "row": row}, request)
        if company.pk in shown and shown[company.pk] != company.verdict:
            context = {"company": company, "page_path": page_path(request) or reverse("dashboard")}
            buttons = render_to_string("leads/_label_buttons.html", context, request)
            verdicts[company.pk] = {"verdict": company.verdict, "buttons": buttons}
    changed = changes.order_by()[:COUNT_LIMIT].count()
    recomputed = reads.recomputed_since(profile_id, since)
    return JsonResponse(
        {
            "done": reads.scores_are_current(profile_id),
            "changed": changed,
            "recomputed": recomputed,  # a full rescore since: every score rewritten, not logged one by one
            # What the dashboard's and the admin's notes say: "1 score changed", "10,000+ scores
            # changed", "every score recomputed".
            "changed_words": words.scores_changed(changed, at_most=COUNT_LIMIT, recomputed=recomputed),
            "cells": cells,
            "verdicts": verdicts,
            "link": f"{reverse('score-changes-page')}?{urlencode({'since': since.isoformat()})}",
        }
    )


# What `since=` takes on the changes page and its poll; changes are kept a day (company_changes).
SINCE_RULE = "since must be an ISO date and time from 2000 to tomorrow, such as 2026-12-07T10:00:00"
SINCE_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def _since(text: str) -> datetime:
    """`since=` as an aware time (UTC when it names no zone); ValueError outside SINCE_RULE (a year
    9999 overflowed when the page showed it in the server's time zone: a 500)."""
    since = datetime.fromisoformat(text.strip())
    since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    try:
        since = since.astimezone(UTC)
    except OverflowError:
        raise ValueError(SINCE_RULE) from None
    if not SINCE_EARLIEST <= since <= timezone.now() + timedelta(days=1):
        raise ValueError(SINCE_RULE)
    return since


@roles.required(roles.VIEW)
@require_GET
def score_changes_page(request: HttpRequest) -> HttpResponse:
    """What changed since a verdict: which companies moved, from what to what, because of which."""
    try:
        since = _since(request.GET["since"]) if "since" in request.GET else timezone.now() - timedelta(hours=1)
    except ValueError:
        return bad_request(f"{SINCE_RULE[0].upper()}{SINCE_RULE[1:]}.")
    try:
        page = page_number(request.GET.get("page"))
    except ValueError as error:
        return bad_request(f"{error}.")
    profile_id = profiles.current_id(request)
    return render(
        request,
        "leads/score_changes.html",
        {
            "recomputed": reads.recomputed_since(profile_id, since),
            "most_one_by_one": scores.MAX_INCREMENTAL_CHANGES,
            "since": since,
            "since_given": "since" in request.GET,
            "page": company_changes.explained_changes(profile_id=profile_id, since=since, page=page),
            "since_param": since.isoformat(),
        },
    )
