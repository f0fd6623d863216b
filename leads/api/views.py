"""JSON API for scripts and integrations: session or token auth.

curl -H "Authorization: Token $KEY" http://127.0.0.1:8000/api/companies/?label=like
"""

from __future__ import annotations

import functools
import json
import logging

from django.contrib.auth.models import AnonymousUser
from django.core.paginator import EmptyPage, Paginator
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leads.accounts import roles
from leads.companies import distribution as fit_distribution
from leads.companies import nearest, orderings, ranges, search, selectors
from leads.core import queue
from leads.crm import selectors as crm_selectors
from leads.models import ApiToken, Company, CompanyNote, CrmRecord, LabelSource
from leads.owners import selectors as owner_selectors
from leads.owners import services as owner_services
from leads.profiles import selectors as profiles
from leads.scoring.labels import InvalidVerdict, label_company

logger = logging.getLogger(__name__)

PREFIX = "/api/"
ENDPOINTS = (
    "GET /api/companies/, GET /api/companies/<id>, POST /api/companies/<id>/label, "
    "POST or PATCH /api/companies/<id>/owner, POST /api/companies/<id>/notes, GET /api/companies/<id>/similar"
    " and GET /api/profiles/; every one takes ?profile=<id>"
)
MAX_PAGE_SIZE = 500
MAX_SIMILAR = 100
# "-fit" (the default) is the dashboard's order, best fit first; "-score" orders by the plain kNN score.


def error_response(message: str, status: int) -> JsonResponse:
    """An API error: JSON with a message that says what to fix (core.middleware answers the rest so)."""
    return JsonResponse({"error": message}, status=status)


def api_auth(permission: str):
    """Authenticate by 'Authorization: Token <key>' (no CSRF needed) or by session (CSRF checked),
    then check the user's role has `permission` (leads.accounts.roles): a JSON 403 that says which if not."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            header = request.headers.get("Authorization", "")
            if header:
                scheme, _, key = header.partition(" ")
                if scheme.lower() not in ("token", "bearer") or not key.strip():
                    return error_response("Authorization header must be 'Token <your API token>'", 401)
                user = ApiToken.user_for(key.strip())
                if user is None:
                    return error_response("invalid API token; get yours at /account/token", 401)
                request.user = user
            elif isinstance(request.user, AnonymousUser) or not request.user.is_authenticated:
                return error_response("authentication required: log in or send 'Authorization: Token <key>'", 401)
            elif request.method not in ("GET", "HEAD", "OPTIONS"):
                from django.middleware.csrf import CsrfViewMiddleware

                reason = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
                if reason is not None:
                    return error_response("CSRF check failed: send the X-CSRFToken header with a session", 403)
            return roles.forbidden_json(request.user, permission) or view(request, *args, **kwargs)

        return csrf_exempt(wrapper)

    return decorate


def company_json(company: Company, *, profile_id: int, embedded: bool | None, records: list[CrmRecord]) -> dict:
    """One company as the API serves it, read in the profile (Company.objects.in_profile);
    `records`: its CRM records (crm.selectors.records_of). A labelled company has no score: its old
    one lives on until the pass its verdict queued (~1 s), and said "like" beside "strong" meanwhile."""
    score = None if company.verdict else company.score
    distribution = fit_distribution.score_distribution(profile_id)
    return {
        "id": company.pk,
        "name": company.name,
        "website": company.website,
        "domain": company.domain,
        "industry": company.industry,
        "country": company.country,  # ISO 3166-1 alpha-2 ('DE'), or the value as given when it names no country we know
        "country_name": company.country_name,  # 'Germany'
        "country_as_given": company.country_as_given,  # what the import or the form said: 'Deutschland'
        "description": company.description,
        "label": company.verdict or None,
        "score": None if score is None else round(score.value, 6),  # the plain kNN score
        # What the dashboard sorts by: the score weighed by close evidence (leads/scoring/evidence.py).
        "fit": None if score is None else round(score.fit, 6),
        "evidence": None if score is None else round(score.evidence, 6),
        # strong / likely / unsure / unlikely / unexplored, and "top 3% of 48,000" (leads/scoring/bands.py)
        "band": None if score is None else fit_distribution.band_of(score, distribution).key,
        "rank": None if score is None else distribution.rank_text(score.fit),
        "embedded": embedded,
        "neighbours": [] if score is None else score.neighbours,
        "extra": company.extra,  # every other column as given: employees '51-200', founded '2015-03-01'
        # extra's employees, founded and revenue as numbers (a range's lower bound; null: none or unreadable)
        "employees": company.employees,
        "founded": company.founded,
        "revenue": company.revenue,  # whole units of the currency the file gave, not converted
        # The owner's username (None: unassigned); the listing loads owners with the companies.
        "owner": company.owner.get_username() if company.owner_id else None,
        # Its record ids in the team's CRMs: [{"crm": "hubspot", "record_id": "9001"}] (crm: a slug of leads.crm.names)
        "crm_records": [{"crm": record.crm, "record_id": record.record_id} for record in records],
    }


def _records(company: Company) -> list[CrmRecord]:
    return list(company.crm_records.all())  # by CRM, then record id (CrmRecord.Meta)


def note_json(note: CompanyNote) -> dict:
    return {
        "id": note.pk,
        "text": note.text,
        "author": note.author.get_username() if note.author_id else None,  # None: a deleted account
        "created_at": note.created_at.isoformat(),
    }


# GET /api/companies/'s parameters: the dashboard's filters, order and pages. Any other is refused,
# so that a misspelt or unsupported filter never answers every company as if it had applied.
COMPANY_PARAMS = ("labelled", "label", "q", "owner", "band", "industry", "country", "import", *ranges.PARAMS,
                  "ordering", "page", "page_size", profiles.PARAM)  # fmt: skip


@require_GET
@api_auth(roles.VIEW)
def companies(request: HttpRequest) -> JsonResponse:
    params = request.GET
    unknown = sorted(set(params) - set(COMPANY_PARAMS))
    if unknown:
        return error_response(f"unknown parameter {', '.join(unknown)}: use {', '.join(COMPANY_PARAMS)}", 400)
    if params.get("label", "").strip() and params.get("labelled", "").strip():
        return error_response("give label or labelled, not both (label=none is labelled=false)", 400)
    show = _show_from(params)
    if show is None:
        return error_response("labelled must be true/false and label must be like, dislike or none", 400)
    ordering = params.get("ordering", orderings.DEFAULT_ORDERING)
    if ordering not in orderings.ORDERINGS:
        return error_response(f"ordering must be one of: {', '.join(orderings.ORDERINGS)}", 400)
    try:
        size = min(int(params.get("page_size", 50)), MAX_PAGE_SIZE)
        number = int(params.get("page", 1))
    except ValueError:
        return error_response("page and page_size must be whole numbers", 400)
    if size < 1 or number < 1:
        return error_response("page and page_size must be at least 1", 400)
    profile_id = profiles.current_id(request)
    try:
        listing = selectors.listing(
            profile_id=profile_id,
            ordering=ordering,
            show=show,
            query=params.get("q", ""),
            owner=params.get("owner", ""),
            user=request.user,
            band=params.get("band", ""),
            industry=params.get("industry", ""),
            country=params.get("country", ""),
            import_job=params.get("import", ""),
            **{name: params.get(name, "") for name in ranges.PARAMS},  # employees_min=50&revenue_max=...
        )
    except selectors.BadFilter as error:
        return error_response(str(error), 400)
    paginator = Paginator(listing, size)
    try:
        page = paginator.page(number)
    except EmptyPage:
        return error_response(f"page {number} is past the last page ({paginator.num_pages})", 404)
    vectors = selectors.embedded_ids([company.pk for company in page])
    records = crm_selectors.records_of(company.pk for company in page)
    return JsonResponse(
        {
            "count": paginator.count,
            "page": number,
            "pages": paginator.num_pages,
            "next": number + 1 if page.has_next() else None,
            "results": [
                company_json(c, profile_id=profile_id, embedded=c.pk in vectors, records=records.get(c.pk, []))
                for c in page
            ],
        }
    )


def _show_from(params) -> str | None:
    label = params.get("label", "").lower()
    labelled = params.get("labelled", "").lower()
    if label in ("like", "liked"):
        return "liked"
    if label in ("dislike", "disliked"):
        return "disliked"
    if label in ("none", "unlabelled"):
        return "unlabelled"
    if label:
        return None
    if not labelled.strip():
        return "all"
    return {True: "labelled", False: "unlabelled", None: None}[_yes_no(labelled)]


def with_company(*related: str):
    """For an endpoint on one company: the company of the URL's `pk` read in the request's profile
    (its verdict and score there; `related` loaded too), or the API's JSON 404."""

    def wrap(view):
        @functools.wraps(view)
        def inner(request: HttpRequest, pk: int, *args, **kwargs):
            companies = Company.objects.in_profile(profiles.current_id(request)).select_related(*related)
            found = companies.filter(pk=pk).first()
            if found is None:
                return error_response(f"no company with id {pk}", 404)
            return view(request, found, *args, **kwargs)

        return inner

    return wrap


def _limit(request: HttpRequest) -> int | None:
    """The `limit` of a nearest-companies list (default 10), or None when it is not 1 to MAX_SIMILAR."""
    try:
        limit = int(request.GET.get("limit", 10))
    except ValueError:
        return None
    return limit if 1 <= limit <= MAX_SIMILAR else None


@require_POST
@api_auth(roles.LABEL)
@with_company()
def label(request: HttpRequest, company: Company) -> JsonResponse:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, too deeply nested
        return error_response(f'body must be JSON like {{"verdict": "like"}}: {error}', 400)
    if not isinstance(body, dict) or "verdict" not in body:
        return error_response('body must be JSON like {"verdict": "like" | "dislike" | "clear"}', 400)
    try:
        created = label_company(
            profile_id=profiles.current_id(request),
            company=company,
            user=request.user,
            source=LabelSource.API,
            verdict=body["verdict"],
        )
    except InvalidVerdict as error:
        return error_response(str(error), 400)
    # "delayed": saved, but the task queue is unreachable; the sweep rescores once it is back.
    rescore = "delayed" if queue.queue_is_down() else "queued"
    return JsonResponse(
        {"id": company.pk, "label": company.verdict or None, "label_id": created.pk, "rescore": rescore}, status=201
    )


@require_GET
@api_auth(roles.VIEW)
@with_company("owner")
def company(request: HttpRequest, found: Company) -> JsonResponse:
    """One company as the listing gives it, with its notes (newest first, at most NOTES_SHOWN)."""
    notes = owner_selectors.company_notes(found.pk)
    profile_id = profiles.current_id(request)
    return JsonResponse(
        {
            **company_json(
                found, profile_id=profile_id, embedded=selectors.is_embedded(found), records=_records(found)
            ),
            "notes": [note_json(note) for note in notes],
        }
    )


@require_http_methods(["POST", "PATCH"])
@api_auth(roles.CLAIM)
@with_company()
def owner(request: HttpRequest, found: Company) -> JsonResponse:
    """Give the company to `owner`: "me", a username, or null (unassigned); the web's role rules."""
    body, problem = _body(request, '{"owner": "me" | "<username>" | null}', "owner")
    if problem:
        return problem
    try:
        named = None if body["owner"] is None else owner_selectors.owner_named(str(body["owner"]), user=request.user)
        owner_services.assign_company(company=found, owner=named, by=request.user)
    except owner_selectors.UnknownOwner as error:
        return error_response(str(error), 400)
    except owner_services.Refused as error:
        return error_response(str(error), 403)
    return JsonResponse({"id": found.pk, "owner": named.get_username() if named else None})


@require_POST
@api_auth(roles.NOTE)
@with_company()
def notes(request: HttpRequest, found: Company) -> JsonResponse:
    """Keep a note on the company: {"text": "..."}; 201 with the note."""
    body, problem = _body(request, '{"text": "Called; call back in May."}', "text")
    if problem:
        return problem
    try:
        note = owner_services.add_note(company=found, author=request.user, text=body["text"])
    except owner_services.InvalidNote as error:
        return error_response(str(error), 400)
    except owner_services.Refused as error:
        return error_response(str(error), 403)
    return JsonResponse(note_json(note), status=201)


def _body(request: HttpRequest, example: str, key: str) -> tuple[dict, JsonResponse | None]:
    """The JSON object of the request's body, which must hold `key`; or an error that shows `example`."""
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, too deeply nested
        return {}, error_response(f"body must be JSON like {example}: {error}", 400)
    if not isinstance(body, dict) or key not in body:
        return {}, error_response(f"body must be JSON like {example}", 400)
    return body, None


@require_GET
@api_auth(roles.VIEW)
@with_company()
def similar(request: HttpRequest, company: Company) -> JsonResponse:
    """The nearest companies by cosine distance of their current vectors, nearest first."""
    unlabelled = _yes_no(request.GET.get("unlabelled", "false"))
    if unlabelled is None:
        return error_response("unlabelled must be true or false", 400)
    limit = _limit(request)
    if limit is None:
        return error_response(f"limit must be a whole number from 1 to {MAX_SIMILAR}", 400)
    profile_id = profiles.current_id(request)
    found = nearest.similar_companies(company, profile_id=profile_id, limit=limit, unlabelled=unlabelled)
    return JsonResponse(
        {"id": company.pk, "embedded": selectors.is_embedded(company), "results": _similar_json(found, profile_id)}
    )


@require_GET
@api_auth(roles.VIEW)
def profile_list(request: HttpRequest) -> JsonResponse:
    """The ideal-customer profiles this user may work in (`?profile=<id>` on any endpoint picks one;
    without it, the user's last choice or the first), and which one a request without it uses."""
    current = profiles.current_id(request)
    return JsonResponse(
        {
            "current": current,
            "results": [
                {"id": p.pk, "name": p.name, "archived": p.archived_at is not None, "current": p.pk == current}
                for p in profiles.visible_to(request.user)
            ],
        }
    )


@require_GET
@api_auth(roles.VIEW)
def by_meaning(request: HttpRequest) -> JsonResponse:
    """Search by meaning: the companies nearest to a description (`about`), nearest first, as the
    dashboard's "Or describe a company…" lists them (`limit`, 1 to MAX_SIMILAR, default 10)."""
    limit = _limit(request)
    if limit is None:
        return error_response(f"limit must be a whole number from 1 to {MAX_SIMILAR}", 400)
    profile_id = profiles.current_id(request)
    try:
        found = search.by_meaning(request.GET.get("about", ""), profile_id=profile_id, limit=limit)
    except search.BadDescription as error:
        return error_response(f"about: {error}", 400)
    return JsonResponse({"about": request.GET["about"], "results": _similar_json(found, profile_id)})


def _yes_no(value: str) -> bool | None:
    """'true' / '1' / 'yes' -> True, 'false' / '0' / 'no' (or nothing) -> False, else None."""
    value = value.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    return None


def _similar_json(found: list[nearest.SimilarCompany], profile_id: int) -> list[dict]:
    """Each nearest company (read in the profile) with its plain score and, as everywhere a score
    is served, the fit the team sorts by, the evidence it stands on and its band."""
    distribution = fit_distribution.score_distribution(profile_id)
    rows = []
    for similar in found:
        company = similar.company
        score = None if company.verdict else company.score
        rows.append(
            {
                "id": company.pk,
                "name": company.name,
                "domain": company.domain,
                "label": company.verdict or None,
                "score": None if score is None else round(score.value, 6),
                "fit": None if score is None else round(score.fit, 6),
                "evidence": None if score is None else round(score.evidence, 6),
                "band": None if score is None else fit_distribution.band_of(score, distribution).key,
                "distance": round(similar.distance, 6),  # cosine, 0..2
                "similarity": round(similar.similarity, 6),  # 1 - distance
            }
        )
    return rows
