"""The managers' webhooks pages: endpoints (add, edit, delete, a test event, a new secret), the
delivery log of each, one delivery's payload and response, and replay."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leads.accounts import roles
from leads.core.params import page_number, whole_number
from leads.core.responses import bad_request
from leads.models import Profile, WebhookDelivery, WebhookEndpoint
from leads.scoring import bands
from leads.webhooks import selectors, services

# Webhooks are the team's settings: who may change scoring settings (sales managers) manages them.
MANAGE = roles.SETTINGS


def _form_context(values: dict | None = None) -> dict:
    return {
        "event_choices": services.SUBSCRIBABLE,
        "band_choices": bands.BANDS,
        "profile_choices": list(Profile.objects.all()) if Profile.objects.count() > 1 else [],
        "values": values or {},
        "allowed_hosts": settings.WEBHOOK_ALLOWED_HOSTS,
    }


def _posted(request: HttpRequest) -> dict:
    return {
        "url": request.POST.get("url", ""),
        "description": request.POST.get("description", ""),
        "events": request.POST.getlist("events"),
        "bands": request.POST.getlist("bands"),
        # As given: the service refuses a value that names no profile (a checkbox re-checks by id).
        "profiles": [p if (n := whole_number(p)) is None else n for p in request.POST.getlist("profiles")],
    }


@roles.required(MANAGE)
@require_http_methods(["GET", "POST"])
def endpoints(request: HttpRequest) -> HttpResponse:
    """The endpoints and the form that adds one."""
    values, error, status = {"events": [e.value for e in services.SUBSCRIBABLE]}, "", 200
    if request.method == "POST":
        values = _posted(request)
        try:
            endpoint = services.endpoint_create(user=request.user, **values)
        except services.InvalidEndpoint as invalid:
            error, status = str(invalid), 400
        else:
            messages.success(request, "Endpoint added. Its signing secret is below: give it to the receiver.")
            return redirect("webhook-endpoint", endpoint.pk)
    context = {"rows": selectors.endpoint_rows(), "error": error, **_form_context(values)}
    return render(request, "leads/webhooks.html", context, status=status)


@roles.required(MANAGE)
@require_http_methods(["GET", "POST"])
def endpoint(request: HttpRequest, pk: int) -> HttpResponse:
    """One endpoint: its settings (changed here), its secret and its delivery log."""
    found = get_object_or_404(WebhookEndpoint, pk=pk)
    values = {
        "url": found.url,
        "description": found.description,
        "events": found.events,
        "bands": found.bands,
        "profiles": found.profiles,
    }
    error, status = "", 200
    if request.method == "POST":
        values = _posted(request)
        try:
            services.endpoint_update(endpoint=found, enabled=request.POST.get("enabled") == "on", **values)
        except services.InvalidEndpoint as invalid:
            error, status = str(invalid), 400
            found.refresh_from_db()
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("webhook-endpoint", found.pk)
    try:
        page = page_number(request.GET.get("page"))
    except ValueError as error:
        return bad_request(f"{error}.")
    wanted = request.GET.get("status", "")
    wanted = wanted if wanted in WebhookDelivery.Status.values else ""
    log, older = selectors.delivery_log(found, page=page, status=wanted)
    context = {
        "endpoint": found,
        "error": error,
        "log": log,
        "page": page,
        "older": older,
        "status": wanted,
        "statuses": WebhookDelivery.Status.choices,
        **_form_context(values),
    }
    return render(request, "leads/webhook_endpoint.html", context, status=status)


@roles.required(MANAGE)
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(WebhookEndpoint, pk=pk)
    services.endpoint_delete(endpoint=found)
    messages.success(request, f"Endpoint {found.url} deleted, with its delivery log.")
    return redirect("webhooks")


@roles.required(MANAGE)
@require_POST
def send_test(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(WebhookEndpoint, pk=pk)
    delivery = services.send_test(endpoint=found, user=request.user)
    messages.success(request, f"Test event {delivery.message_id} queued: its attempt shows in the log below.")
    return _back(request, "webhooks")


@roles.required(MANAGE)
@require_POST
def new_secret(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(WebhookEndpoint, pk=pk)
    services.endpoint_new_secret(endpoint=found)
    messages.success(request, "New secret made: the old one no longer signs. Give the new one to the receiver.")
    return _back(request, "webhooks")


@roles.required(MANAGE)
@require_GET
def delivery(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk)
    return render(request, "leads/webhook_delivery.html", {"delivery": found, "body": services.body_of(found).decode()})


@roles.required(MANAGE)
@require_POST
def replay(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(WebhookDelivery, pk=pk)
    services.replay(delivery=found)
    messages.success(request, f"{found.message_id} queued again, with the same id and body.")
    return _back(request, "webhooks")


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """To the page the form was on (`next`, a path of this site), else `default`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)
