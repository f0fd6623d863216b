"""HTTP for the map ("Companies in space"): the page, its points and verdicts given on it.

The JSON endpoints sit under /map/, not /api/ (whose middleware authenticates with API tokens):
they are the page's own, with the rep's session and CSRF token. Errors are JSON with an "error"
message, a 401 included when the session has expired, so that the page can say what went wrong."""

from __future__ import annotations

import functools
import gzip
import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.gzip import re_accepts_gzip
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from leads.accounts import roles
from leads.api.views import error_response
from leads.map import selectors as map_selectors
from leads.map import services as maps
from leads.profiles import selectors as profiles
from leads.scoring.labels import InvalidVerdict

MAX_BODY_BYTES = 256 * 1024  # MAX_SELECTION ids and verdicts take ~100 kB


class BadRequest(ValueError):
    pass


def _json_requires(permission: str):
    """roles.required for the page's JSON: a 401 the page can explain, not a redirect to HTML,
    and a JSON 403 that says which role is needed."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return error_response("Your session has expired: reload the page and log in again.", 401)
            return roles.forbidden_json(request.user, permission) or view(request, *args, **kwargs)

        return wrapper

    return decorate


@roles.required(roles.VIEW)
@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "leads/map.html",
        {
            "status": map_selectors.map_status(),
            "max_points": map_selectors.MAX_POINTS,
            "max_selection": maps.MAX_SELECTION,
        },
    )


@_json_requires(roles.VIEW)
@require_GET
@never_cache
def points(request: HttpRequest) -> HttpResponse:
    """GET /map/points.json[?limit=N]: the points to draw (see map_selectors.map_points), gzipped
    as cached (map_selectors.map_points_json) for every client that takes gzip."""
    try:
        limit = int(request.GET.get("limit", map_selectors.MAX_POINTS))
    except ValueError:
        return error_response(f"limit must be a whole number from 1 to {map_selectors.MAX_POINTS:,}", 400)
    if not 1 <= limit <= map_selectors.MAX_POINTS:
        return error_response(f"limit must be a whole number from 1 to {map_selectors.MAX_POINTS:,}", 400)
    body = map_selectors.map_points_json(profile_id=profiles.current_id(request), limit=limit)
    response = HttpResponse(content_type="application/json")
    patch_vary_headers(response, ["Accept-Encoding"])
    if re_accepts_gzip.search(request.headers.get("Accept-Encoding", "")):
        response["Content-Encoding"] = "gzip"
        response.content = body
    else:
        response.content = gzip.decompress(body)
    return response


@_json_requires(roles.LABEL)
@require_POST
def label(request: HttpRequest) -> JsonResponse:
    """POST /map/label {"ids": [...], "verdict": "like" | "dislike" | "clear"}: the verdict for every
    company of a lasso selection. Answers {"changed": n, "previous": [[id, verdict], ...]}: the
    verdicts the changed companies had, which POST /map/undo gives back."""
    try:
        body = _body(request)
        ids = _company_ids(body.get("ids"))
        verdict = body.get("verdict")
        return _set(request, [(company_id, verdict) for company_id in ids])
    except BadRequest as error:
        return error_response(str(error), 400)


@_json_requires(roles.LABEL)
@require_POST
def undo(request: HttpRequest) -> JsonResponse:
    """POST /map/undo {"verdicts": [[id, verdict], ...]}: give companies back the verdicts a
    /map/label answered with. Answers like /map/label (so an undo can be undone)."""
    try:
        verdicts = _body(request).get("verdicts")
        if not isinstance(verdicts, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in verdicts):
            raise BadRequest('verdicts must be a list of [company id, verdict] pairs, as "previous" in /map/label')
        _company_ids([company_id for company_id, _ in verdicts])
        return _set(request, [(company_id, verdict) for company_id, verdict in verdicts])
    except BadRequest as error:
        return error_response(str(error), 400)


def _set(request: HttpRequest, verdicts: list[tuple[int, object]]) -> JsonResponse:
    try:
        previous = maps.set_verdicts(profile_id=profiles.current_id(request), verdicts=verdicts, user=request.user)
    except (InvalidVerdict, maps.MapError) as error:
        raise BadRequest(str(error)) from None
    return JsonResponse({"changed": len(previous), "previous": previous})


def _body(request: HttpRequest) -> dict:
    if len(request.body) > MAX_BODY_BYTES:
        raise BadRequest(f"the body is over {MAX_BODY_BYTES // 1024} kB: send at most {maps.MAX_SELECTION:,} ids")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest('the body must be JSON, for example {"ids": [1, 2], "verdict": "like"}') from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _company_ids(value: object) -> list[int]:
    if not isinstance(value, list) or not value:
        raise BadRequest("ids must be a non-empty list of company ids")
    if len(value) > maps.MAX_SELECTION:
        raise BadRequest(f"at most {maps.MAX_SELECTION:,} companies at a time (got {len(value):,})")
    # bool is an int in Python, and JSON's true is no company id.
    if not all(type(i) is int and 0 < i < 2**63 for i in value):
        raise BadRequest("ids must be company ids: positive whole numbers")
    return value
