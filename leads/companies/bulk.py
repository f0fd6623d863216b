"""The dashboard's selection (`POST /companies/bulk`): like, dislike, clear, assign or export the
companies a rep ticked, through the labels and owners services."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from leads.accounts import roles
from leads.companies import exports, selectors
from leads.companies.views import WATCH_SINCE, back
from leads.core import words
from leads.core.responses import bad_request
from leads.models import Company, LabelSource
from leads.owners import selectors as owner_selectors
from leads.owners import services as owner_services
from leads.profiles import selectors as profiles
from leads.scoring import labels as label_service

# The most companies one bulk action takes: the selection is of one page (at most PAGE_SIZE).
BULK_LIMIT = 500
BULK_VERDICTS = {"like": "liked", "dislike": "disliked", "clear": "cleared"}


@roles.required(roles.VIEW)
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """The dashboard's selected companies (`ids`): like, dislike or clear them all (the labels
    service, one pass for all), or download them as the export's CSV (`action`)."""
    action = request.POST.get("action", "")
    try:
        ids = sorted({int(value) for value in request.POST.getlist("ids")})
    except ValueError:
        return bad_request("ids must be company numbers")
    if len(ids) > BULK_LIMIT:
        return bad_request(f"Select at most {BULK_LIMIT} companies at once (got {len(ids)}).")
    if action not in (*BULK_VERDICTS, "assign", "export"):
        return bad_request(f"action must be one of: {', '.join([*BULK_VERDICTS, 'assign', 'export'])}")
    profile_id = profiles.current_id(request)
    companies = Company.objects.in_profile(profile_id).filter(pk__any_of=ids)
    if action == "export":
        rows = selectors.BestFirst(selectors.Selection(companies, profile_id))
        response = StreamingHttpResponse(
            exports.stream_scores(rows, profile_id=profile_id), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.localtime().strftime("%Y-%m-%d")
        response["Content-Disposition"] = f'attachment; filename="leads-scores-selected-{stamp}.csv"'
        return response
    if action == "assign":
        return _bulk_assign(request, ids)
    if not request.user.has_perm(roles.LABEL):
        return HttpResponse(
            roles.missing(request.user, roles.LABEL), status=403, content_type="text/plain; charset=utf-8"
        )
    if not ids:
        return back(request, messages.WARNING, NOTHING_SELECTED)
    found = list(companies.values_list("pk", flat=True))
    given_at = timezone.now()
    changed = label_service.label_companies(
        profile_id=profile_id, verdicts=[(pk, action) for pk in found], user=request.user, source=LabelSource.CLICK
    )
    note = f"{words.companies(len(found))} {BULK_VERDICTS[action]}"
    note += (
        f" ({changed} changed); their neighbours' scores update in a moment." if changed else ": no verdict changed."
    )
    if changed:  # the page it goes back to watches the pass, as after one verdict (dashboard.js)
        request.session[WATCH_SINCE] = given_at.isoformat()
    return back(request, messages.SUCCESS, note)


NOTHING_SELECTED = "Select companies first: tick their boxes (x on the keyboard)."


def _bulk_assign(request: HttpRequest, ids: list[int]) -> HttpResponse:
    """The selection to the owner the bar names (`owner`: me, none or a username), through the
    owners service: a rep takes unowned ones or releases their own, a manager gives any to anyone."""
    try:
        owner = owner_selectors.owner_named(request.POST.get("owner", "me"), user=request.user)
        if not ids:
            return back(request, messages.WARNING, NOTHING_SELECTED)
        changed = owner_services.assign_companies(ids=ids, owner=owner, by=request.user)
    except owner_selectors.UnknownOwner as error:
        return bad_request(str(error))
    except owner_services.Refused as error:
        return HttpResponse(str(error), status=403, content_type="text/plain; charset=utf-8")
    whom = "nobody" if owner is None else "you" if owner == request.user else owner.get_username()
    skipped = len(ids) - changed
    note = f"{words.companies(changed)} now assigned to {whom}"
    note += f"; {skipped} left as they were (already so, or another rep's)." if skipped else "."
    return back(request, messages.SUCCESS, note)
