"""The project's own middleware, in the order settings.MIDDLEWARE runs it: pages when the
database cannot answer, every error under /api/ as JSON, admin addresses holding a NUL, a
profile the request may not use (a `?profile=` the user may not work in, a verdict into an archived one)."""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template import loader
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from leads.api.views import ENDPOINTS, PREFIX, error_response
from leads.core.responses import bad_request
from leads.profiles.selectors import UnknownProfile
from leads.scoring.labels import ArchivedProfile

log = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """Pages (not the API: ApiErrorsMiddleware) when the database cannot answer: a 503 that says
    to try again, instead of a 500 that says something is broken."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        log.warning("%s %s: the database did not answer: %s", request.method, request.path, exception)
        # Rendered without a request: the context processors would ask the database for the user.
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = "60"
        return response


class ApiErrorsMiddleware:
    """Every answer under /api/ is JSON, errors included, with a message that says what to fix.

    Views answer their own 400s and 404s; this covers what happens around them: an unknown URL
    or an id that is not a whole number (Django's 404 page), a wrong method (405), a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE, the database being down, and any other error page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path_info.startswith(PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replaced = error_response(
            _message_for(request, response.status_code, response.get("Allow", "")), response.status_code
        )
        if response.has_header("Allow"):
            replaced["Allow"] = response["Allow"]
        return replaced

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path_info.startswith(PREFIX):
            return None
        if isinstance(exception, RequestDataTooBig):
            limit_mb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
            return error_response(f"request body too large: send at most {limit_mb:g} MB", 413)
        if isinstance(exception, OperationalError | InterfaceError):
            log.warning("API request %s %s: database unavailable: %s", request.method, request.path, exception)
            response = error_response("the database is unavailable; try again in a minute", 503)
            response["Retry-After"] = "60"
            return response
        return None


class UnknownProfileMiddleware:
    """A profile the request may not use, wherever a view meets it: a `?profile=` naming no profile
    the user may work in (profiles.selectors.UnknownProfile: a 400 that lists the ones there are), or
    a verdict written into an archived profile (scoring.labels.ArchivedProfile, raised by the one
    writer of labels, whichever page or action sent it: a bulk action, an undo, the admin).
    JSON under /api/; plain text to htmx, which shows it as a toast; a form posted from one of the
    app's pages goes back there with the sentence as an error message."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UnknownProfile | ArchivedProfile):
            return None
        sentence = str(exception)[0].upper() + str(exception)[1:] + "."
        if request.path_info.startswith(PREFIX):
            return error_response(str(exception), 400)
        referer = request.META.get("HTTP_REFERER", "")
        if (
            isinstance(exception, ArchivedProfile)
            and request.method == "POST"
            and not request.headers.get("HX-Request")
            and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()})
        ):
            messages.error(request, sentence)
            return redirect(referer)
        return bad_request(sentence)


def _message_for(request: HttpRequest, status: int, allowed: str) -> str:
    if status == 404:
        return f"no API endpoint at {request.path}: the endpoints are {ENDPOINTS}, where <id> is a company's id (a whole number)"
    if status == 405:
        return f"{request.method} is not allowed on {request.path}; use {allowed}"
    if status == 400:
        return "bad request: check the URL, the headers and the body"
    if status >= 500:
        return "internal server error; it has been logged, try again later"
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:  # not a standard status
        return f"error {status}"


class NulQueryMiddleware:
    """Refuses admin pages whose query string holds a NUL character (?verdict=%00, ?q=%00).

    Postgres text cannot hold NUL, so a list filter value with one fails inside the query as a
    500. Django's admin checks its search box for NUL but passes filter values straight to the
    database, for every model (ours, users, groups): so any parameter with a NUL is refused
    here, one rule for all, before an admin view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(reverse("admin:index")) and _holds_nul(request.GET):
            return bad_request("The address holds a NUL character (%00), which nothing can match: remove it.")
        return self.get_response(request)


def _holds_nul(params) -> bool:
    return any("\x00" in name or any("\x00" in value for value in values) for name, values in params.lists())
