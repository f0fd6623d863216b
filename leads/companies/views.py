"""Dashboard and company pages for sales reps."""

from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leads.accounts import roles
from leads.companies import across_profiles, exports, nearest, orderings, ranges, search, selectors
from leads.companies import distribution as fit_distribution
from leads.companies import filters as filter_choices
from leads.companies.listed import listed
from leads.core import queue, words
from leads.core.params import page_number
from leads.core.responses import bad_request
from leads.crm import exports as crm_exports
from leads.crm import names as crm_names
from leads.models import ApiToken, Company, CompanyNote, LabelSource
from leads.outcomes import selectors as outcome_selectors
from leads.owners import selectors as owner_selectors
from leads.profiles import selectors as profiles
from leads.savedviews import services as saved_views
from leads.scoring import bands, explanations
from leads.scoring import labels as label_service
from leads.scoring.labels import InvalidVerdict, label_company

PAGE_SIZE = 50
# The session key that tells the next list page (the dashboard, the admin's company list) to watch
# for the scores a bulk verdict changes.
WATCH_SINCE = "watch_scores_since"
# The dashboard counts (and pages through) at most this many companies: filter or search for more.
COUNT_LIMIT = 10_000


# The dashboard's filters, all in the URL so that a view can be shared: name -> default.
FILTERS = {
    "profile": "",  # the profile's id, with more than one: a link opens the same profile (profiles.selectors)
    "show": "all", "band": "", "industry": "", "country": "", "import": "", "owner": "", "q": "",
    "ordering": orderings.DEFAULT_ORDERING,
    **dict.fromkeys(ranges.PARAMS, ""),  # employees_min, employees_max, founded_min ...: "More filters"
}  # fmt: skip
# The dashboard's controls a phone folds away until asked (the label chips and the search stay).
CONTROLS = ("band", "industry", "country", "owner", "ordering", *ranges.PARAMS)
# The table's columns a rep sorts by clicking their heading: column -> its ascending ordering.
SORTABLE = {"name": "name", "industry": "industry", "country": "country", "fit": "fit"}


def _filters(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, default) for name, default in FILTERS.items()}


def _page_number(request: HttpRequest) -> int:
    try:
        return page_number(request.GET.get("page"))
    except ValueError as error:
        raise selectors.BadFilter(str(error)) from None


def _listing(filters: dict[str, str], user, profile_id: int, **options) -> selectors.BestFirst | selectors.Sorted:
    return selectors.listing(
        profile_id=profile_id, ordering=filters["ordering"], show=filters["show"], query=filters["q"], band=filters["band"],
        industry=filters["industry"], country=filters["country"], import_job=filters["import"],
        owner=filters["owner"], user=user, **{name: filters[name] for name in ranges.PARAMS}, **options,
    )  # fmt: skip


def _query(filters: dict[str, str], **changed: str) -> str:
    """The URL query of these filters with some changed, defaults left out (a shareable view)."""
    chosen = {**filters, **changed}
    return urlencode({k: v for k, v in chosen.items() if v and v != FILTERS[k]})


def _sort_links(filters: dict[str, str]) -> dict[str, dict]:
    """Per sortable column: the query that sorts by it (ascending, or descending when it is
    already ascending; fit the other way round: best first) and the arrow it shows now."""
    links = {}
    for column, ascending in SORTABLE.items():
        descending = f"-{ascending}"
        first, second = (descending, ascending) if column == "fit" else (ascending, descending)
        now = filters["ordering"]
        arrow = "↑" if now == ascending else "↓" if now == descending else ""
        links[column] = {"query": _query(filters, ordering=second if now == first else first), "arrow": arrow}
    return links


@roles.required(roles.VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    about = request.GET.get("about", "")
    profile_id = profiles.current_id(request)
    try:
        if about.strip():  # search by meaning: the nearest companies, none of the filters
            found = search.by_meaning(about, profile_id=profile_id)
            page = Paginator([row.company for row in found], len(found) or 1).get_page(1)
        else:
            found = _listing(filters, request.user, profile_id, count_limit=COUNT_LIMIT)
            page = Paginator(found, PAGE_SIZE).get_page(_page_number(request))
    except (selectors.BadFilter, search.BadDescription) as error:
        # The page again, every value as the rep typed it, the list saying what to fix.
        filter_error, found, page = str(error), None, Paginator([], 1).get_page(1)
    else:
        filter_error = ""
    companies = list(page)
    if filter_error:
        why = []
    elif about.strip():
        why = found  # each row's similarity to the description
    else:
        matches = search.search_matches([company.pk for company in companies], filters["q"]) if filters["q"] else {}
        why = [matches.get(company.pk) for company in companies]
    rows = listed(profile_id, companies, why=why)
    distribution = fit_distribution.score_distribution(profile_id)
    values = {field: filter_choices.filter_values(field) for field in filter_choices.FILTER_FIELDS}
    listed_views = saved_views.views_for(request.user, profile_id=profile_id)
    watch_since = request.session.pop(WATCH_SINCE, "")  # a bulk verdict just given: show its changes too
    return render(
        request,
        "leads/dashboard.html",
        {
            "page": page,
            "watch_since": watch_since,
            "rows": rows,
            "about": about,
            "meaning_max_chars": search.MEANING_MAX_CHARS,
            "filters": filters,
            "query_string": _query(filters),
            # The export menu: this view's scores as each CRM's update import (crm/exports.py).
            "crm_exports": [(slug, crm_names.crm_label(slug)) for slug in crm_exports.SHAPES],
            "saved_views": listed_views,
            "new_in_views": any(listed.new for listed in listed_views),
            "current_view_query": saved_views.view_query(_query(filters)),
            # Filters beyond the label chips and the word search that are on: a phone shows them all then.
            "controls_on": sum(1 for key in CONTROLS if filters.get(key) and filters[key] != FILTERS.get(key))
            + bool(about.strip()),
            "orderings": orderings.OFFERED_ORDERINGS,
            "ordering": orderings.ORDERINGS.get(filters["ordering"]),
            "sort_links": _sort_links(filters),
            # The import filter (from an import's "See the companies"): which import, and the way out.
            "import_job": selectors.filtered_import(filters["import"]),
            "without_import": _query(filters, **{"import": ""}),
            "label_filters": list(selectors.LABEL_FILTERS),
            "bands": bands.BANDS,
            "histogram": distribution.histogram(),
            "histogram_max": max([h["count"] for h in distribution.histogram()] + [1]),
            "scored_total": distribution.total,
            # Nothing scored and nothing labelled: say how to start instead of a list of "not scored".
            "cold_start": not distribution.total and not Company.objects.labelled(profile_id).exists(),
            "count_is_capped": bool(found) and not about.strip() and found.count_is_capped,
            "filter_error": filter_error,
            "filter_values": values,
            "owners": owner_selectors.possible_owners().values_list("username", flat=True),
            "number_filters": _number_filters(filters),
            "numbers_on": sum(1 for name in ranges.PARAMS if filters[name].strip()),
            # A filter value that matches nothing: the existing values it may have meant.
            "did_you_mean": [] if rows or filter_error else _did_you_mean(filters, values),
        },
        status=400 if filter_error else 200,
    )


# "More filters": each number column's range inputs, with what its numbers are.
_NUMBER_LABELS = {
    "employees": ("Employees", "Head count; a range such as 51-200 is stored as its lower bound"),
    "founded": ("Founded", "The year the company was founded"),
    "revenue": ("Revenue", "Whole units of the currency the import gave (not converted)"),
}


def _number_filters(filters: dict[str, str]) -> list[dict]:
    return [
        {
            "column": column,
            "label": label,
            "help": help,
            "min": filters[f"{column}_min"],
            "max": filters[f"{column}_max"],
        }
        for column, (label, help) in _NUMBER_LABELS.items()
    ]


def _did_you_mean(filters: dict[str, str], values: dict[str, list[str]]) -> list[dict]:
    """For each of industry and country typed but matching nothing as typed, the page with an
    existing value instead (`values`: filter_choices.filter_values of each): [{"field", "value", "query"}]."""
    suggestions = []
    for field in filter_choices.FILTER_FIELDS:
        typed = filters[field].strip()
        if not typed or typed.casefold() in (value.casefold() for value in values[field]):
            continue
        for value in filter_choices.close_values(values[field], typed):
            suggestions.append({"field": field, "value": value, "query": _query(filters, **{field: value})})
    return suggestions


@roles.required(roles.VIEW)
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_object_or_404(Company.objects.in_profile(profiles.current_id(request)).select_related("owner"), pk=pk)
    return render(request, "leads/company_detail.html", detail_context(request, company))


def detail_context(request: HttpRequest, company: Company, **extra) -> dict:
    """The company page's context (the company read in the request's profile); `extra` adds to it
    (a note refused, with its text kept)."""
    profile_id = profiles.current_id(request)
    row = listed(profile_id, [company])[0]
    neighbours = explanations.score_explanation(company)
    reach = explanations.close_reach(profile_id=profile_id)
    return {
        "company": company,
        "labels": company.labels.filter(profile_id=profile_id).select_related("user")[:50],
        "neighbours": neighbours,
        "explanation": explanations.explanation_sentence(company, neighbours, reach),
        "evidence": explanations.evidence_text(company, neighbours, reach),
        "tally": explanations.neighbour_tally(neighbours),
        "row": row,
        "is_embedded": row.is_embedded,
        "in_profiles": across_profiles.in_every_profile(company.pk, request.user),  # [] with one profile: nothing shows
        "similar": nearest.similar_companies(company, profile_id=profile_id, unlabelled=True),  # [] until embedded
        "website_url": _website_url(company),
        "notes": owner_selectors.company_notes(company.pk),
        "outcomes": (outcomes := outcome_selectors.company_outcomes(company.pk)),  # apart from the verdicts
        "outcomes_count": bool(outcomes) and outcome_selectors.outcomes_count(profile_id),  # said only beside deals
        # Plain text, not links: a record's address needs the team's HubSpot portal, Salesforce
        # instance or Pipedrive subdomain, which leads does not know.
        "crm_records": list(company.crm_records.all()),
        "note_max_chars": CompanyNote.MAX_CHARS,
        # A manager's choice of owner; a rep only takes or releases (nothing to list).
        "owners": owner_selectors.possible_owners() if request.user.has_perm(roles.ASSIGN) else [],
        **extra,
    }


def _website_url(company: Company) -> str:
    """An http(s) link to the website: 'example.com' gets https://, other schemes (javascript:) no link."""
    website = company.website.strip()
    if re.match(r"https?://", website, re.IGNORECASE):
        return website
    return f"https://{website}" if company.domain and "://" not in website else ""


@roles.required(roles.LABEL)
@require_POST
def label(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_object_or_404(Company, pk=pk)
    given_at = timezone.now()  # before the label: the rescore it queues can only start later
    try:
        label_company(
            profile_id=profiles.current_id(request),
            company=company,
            user=request.user,
            source=LabelSource.CLICK,
            verdict=request.POST.get("verdict", ""),
        )
    except InvalidVerdict as error:
        return bad_request(str(error))
    return _labelled(request, company, f"{company.name}: {_past_tense(company.verdict)}.", given_at)


def back(request: HttpRequest, level: int, note: str) -> HttpResponse:
    """Back to the page the form was on (`next`, this site only), with a note."""
    messages.add_message(request, level, note)
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("dashboard")


@roles.required(roles.LABEL)
@require_POST
def undo(request: HttpRequest) -> HttpResponse:
    """Take back this rep's last verdict: the company gets the verdict it had before (a new label
    in the history, so nothing is lost)."""
    # This session's undo stack: labels already taken back, and the labels the undos made.
    skip = request.session.get("undo_skip", [])
    given_at = timezone.now()
    profile_id = profiles.current_id(request)
    undone = label_service.undo_last(profile_id=profile_id, user=request.user, source=LabelSource.CLICK, skip=skip)
    if isinstance(undone, label_service.Undo):
        request.session["undo_skip"] = [*skip, undone.undid, undone.label.pk][-200:]
    elif isinstance(undone, label_service.Superseded):
        request.session["undo_skip"] = [*skip, undone.undid][-200:]
    elif isinstance(undone, label_service.BatchUndo):
        request.session["undo_skip"] = [*skip, undone.undid, *([undone.made] if undone.made else [])][-200:]
        return _batch_undone(request, undone, given_at)
    if not isinstance(undone, label_service.Undo):
        note = "Nothing to undo."
        if undone is not None:
            who = undone.by or "an import"
            note = (
                f"Your last verdict, on {undone.company.name}, was changed since by {who}: theirs stands. "
                "Undo again to take back the one before it."
            )
        if request.htmx:
            return toast(request, note, status=200)
        messages.info(request, note)
        return redirect("dashboard")
    company = Company.objects.in_profile(profile_id).select_related("owner").get(pk=undone.label.company_id)
    return _labelled(
        request,
        company,
        f"Undone: {company.name} is {_past_tense(company.verdict)} again."
        if company.verdict
        else f"Undone: {company.name} has no label again.",
        given_at,
    )


def _batch_undone(request: HttpRequest, undone: label_service.BatchUndo, given_at: datetime) -> HttpResponse:
    """A bulk verdict or a lasso taken back: many rows change, so the page loads again (HX-Refresh
    for the keyboard's undo) with the note, and watches the pass as after a bulk verdict."""
    if not undone.restored:
        note = (
            f"Your last verdicts, on {words.companies(undone.kept)}, were changed since by {words.names(undone.by)}: "
            "theirs stand. Undo again to take back the one before them."
        )
    else:
        note = f"Undone: {words.companies(undone.restored)} got back the verdicts they had before."
        if undone.kept:
            keep = "keeps its verdict" if undone.kept == 1 else "keep their verdicts"
            note += f" {words.companies(undone.kept)} labelled since by {words.names(undone.by)} {keep}."
        note += " Scores update in a moment."
        request.session[WATCH_SINCE] = given_at.isoformat()
    if request.htmx:  # the keyboard's undo (dashboard.js) loads the page again, which shows the note
        messages.success(request, note)
        return HttpResponse(status=204, headers={"HX-Refresh": "true"})
    return back(request, messages.SUCCESS, note)


def row_response(request: HttpRequest, company: Company, toast: str, *, status: int = 200) -> HttpResponse:
    """The row again (after an htmx action on it), with a note for the toast: label next's row on
    label next (its columns, the verdict where its reason was), the dashboard's anywhere else."""
    profile_id = profiles.current_id(request)
    row = listed(profile_id, [Company.objects.in_profile(profile_id).select_related("owner").get(pk=company.pk)])[0]
    context = {"row": row, "company": row.company, "toast": toast, "page_path": page_path(request)}
    on_label_next = urlsplit(request.htmx.current_url or "").path == reverse("label-next") if request.htmx else False
    template = "leads/_label_next_row.html" if on_label_next else "leads/_company_row.html"
    return render(request, template, context, status=status)


def page_path(request: HttpRequest) -> str | None:
    """The page a fragment is rendered for (htmx's current URL, or the referring page of a script's
    request), as path and query: what its forms' `next` sends the rep back to without JavaScript,
    not the fragment's own URL. None when not said or not this site."""
    url = (request.htmx.current_url if request.htmx else None) or request.headers.get("Referer", "")
    if not url or not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        return None
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _labelled(request: HttpRequest, company: Company, done: str, given_at: datetime) -> HttpResponse:
    if queue.queue_is_down():  # the label is saved; the sweep rescores once Redis is back
        note, level = f"{done} The task queue is unreachable: scores update once it is back.", messages.WARNING
    else:
        note, level = f"{done} Scores update in a moment.", messages.SUCCESS
    if request.htmx:  # the dashboard: the row again, and the note; the page stays where it is
        response = row_response(request, company, note)
        # The page asks for the score changes since then (ScoreChange.changed_at: when the pass took the verdict).
        response["HX-Trigger"] = json.dumps({"labelled": {"company": company.pk, "at": given_at.isoformat()}})
        return response
    return back(request, level, note)


def toast(request: HttpRequest, note: str, status: int = 200) -> HttpResponse:
    response = render(request, "leads/_toast.html", {"toast": note}, status=status)
    response["HX-Reswap"] = "none"
    return response


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
        return bad_request("action must be new or revoke")
    token = ApiToken.objects.filter(user=request.user).first()
    return render(request, "leads/api_token.html", {"token": token})


@roles.required(roles.VIEW)
@require_GET
def export_scores(request: HttpRequest) -> HttpResponse:
    """The dashboard's current view as CSV that Excel opens (UTF-8 with BOM, formulas neutralised);
    with `for=hubspot|salesforce|pipedrive`, as that CRM's update import (crm/exports.py)."""
    unknown = sorted(set(request.GET) - set(FILTERS) - {"for", "page"})
    if unknown:  # a mistyped parameter would export another view than the one asked for, without a word
        return bad_request(
            f"{', '.join(unknown)}: not a parameter of the export. It takes the dashboard's filters "
            f"({', '.join(name for name in FILTERS if name != 'profile')}), and for= one of "
            f"{', '.join(crm_exports.SHAPES)} for a CRM's import file."
        )
    filters = _filters(request)
    show = filters["show"]
    try:
        shape = crm_exports.shape_for(request.GET["for"]) if "for" in request.GET else None
        profile_id = profiles.current_id(request)
        companies = _listing(filters, request.user, profile_id)
    except (selectors.BadFilter, crm_exports.UnknownCrm) as error:
        return bad_request(str(error))
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    # The file says which view it holds: the CRM it is for, the label filter, and the band when one is picked.
    band = re.sub(r"[^a-z0-9]+", "-", filters["band"].lower()).strip("-")
    name = "-".join(part for part in ("leads-scores", shape and shape.crm, show, band, stamp) if part)
    if shape is None:
        rows = exports.stream_scores(companies, profile_id=profile_id)
    else:
        rows = crm_exports.stream_crm_file(companies, shape, profile_id=profile_id)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
