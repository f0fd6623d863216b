"""Webhooks' writes: registering endpoints, and delivering, retrying, replaying and giving up.
The one way in for WebhookEndpoint and WebhookDelivery (events.py makes the deliveries).

A delivery is sent by the `leads.deliver_webhook` task after the transaction that made it
commits, and again by the sweep while it is due, so a lost task is a late delivery, never a lost
one. A conditional UPDATE claims it before each attempt: two workers (a retry and the sweep's
task) never send it at once, and its message id stays the same on every attempt, so a receiver
that keeps messages by id keeps each once."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leads.core.queue import enqueue_on_commit, send
from leads.models import Profile, WebhookDelivery, WebhookEndpoint, WebhookEvent
from leads.models.webhooks import new_secret
from leads.profiles import selectors as profiles
from leads.scoring import bands
from leads.webhooks import addresses, backoff, outbound
from leads.webhooks.selectors import failed_deliveries

log = logging.getLogger(__name__)

DELIVER_TASK = "leads.deliver_webhook"
SUBSCRIBABLE = [event for event in WebhookEvent if event != WebhookEvent.TEST]
Status = WebhookDelivery.Status


class InvalidEndpoint(ValueError):
    """What is wrong with an endpoint's settings, in one sentence that says what to change."""


# --- Endpoints ------------------------------------------------------------------------------


def check_url(url: str) -> str:
    """The URL, stripped, if the SSRF rule lets webhooks go there (addresses.check)."""
    try:
        addresses.check(url, allowed_hosts=settings.WEBHOOK_ALLOWED_HOSTS)
    except addresses.Refused as refused:
        raise InvalidEndpoint(str(refused)) from None
    return url.strip()


def _events(events: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(str(e).strip() for e in events if str(e).strip()))
    known = [e.value for e in SUBSCRIBABLE]
    unknown = [e for e in chosen if e not in known]
    if unknown:
        raise InvalidEndpoint(f"unknown event {unknown[0]!r}: choose from {', '.join(known)}")
    if not chosen:
        raise InvalidEndpoint(f"choose at least one event: {', '.join(known)}")
    return chosen


def _bands(keys: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(str(k).strip().lower() for k in keys if str(k).strip()))
    unknown = [k for k in chosen if k not in bands.BY_KEY]
    if unknown:
        raise InvalidEndpoint(f"unknown band {unknown[0]!r}: choose from {', '.join(bands.BY_KEY)} (none: every band)")
    return chosen


def _profiles(chosen: Sequence[str | int]) -> list[int]:
    """Profile ids or names (any case) as ids; none: every profile."""
    ids = []
    for value in chosen:
        if str(value).strip():
            try:
                ids.append(profiles.named(str(value)))
            except profiles.UnknownProfile:
                names = ", ".join(f"{p.pk} ({p.name})" for p in Profile.objects.all())
                raise InvalidEndpoint(f"unknown profile {value!r}: choose from {names} (none: every profile)") from None
    return sorted(set(ids))


def endpoint_create(
    *,
    url: str,
    events: Sequence[str],
    bands: Sequence[str] = (),
    profiles: Sequence[str | int] = (),
    description: str = "",
    user=None,
):
    """Register an endpoint with a new secret (whsec_...). Raises InvalidEndpoint."""
    return WebhookEndpoint.objects.create(
        url=check_url(url),
        events=_events(events),
        bands=_bands(bands),
        profiles=_profiles(profiles),
        description=description.strip()[:200],
        created_by=user if getattr(user, "pk", None) else None,
    )


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    events: Sequence[str],
    bands: Sequence[str],
    description: str,
    enabled: bool,
    profiles: Sequence[str | int] = (),
) -> WebhookEndpoint:
    """Change an endpoint; enabling a disabled one forgets why it was disabled and its failures."""
    endpoint.url, endpoint.events, endpoint.bands = check_url(url), _events(events), _bands(bands)
    endpoint.profiles = _profiles(profiles)
    endpoint.description = description.strip()[:200]
    if enabled and not endpoint.enabled:
        endpoint.disabled_reason, endpoint.failing_since = "", None
    endpoint.enabled = enabled
    endpoint.save()
    return endpoint


def endpoint_new_secret(*, endpoint: WebhookEndpoint) -> str:
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint.secret


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log."""
    endpoint.delete()


# --- Sending --------------------------------------------------------------------------------


def body_of(delivery: WebhookDelivery) -> bytes:
    """The bytes signed and sent: the payload as compact JSON, the same on every attempt."""
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def queue_deliveries(ids: Sequence[int]) -> None:
    """Send each delivery's task once the caller's transaction commits."""
    for pk in ids:
        enqueue_on_commit(DELIVER_TASK, pk)


def send_test(*, endpoint: WebhookEndpoint, user=None) -> WebhookDelivery:
    """A webhook.test message to this endpoint, enabled or not (to try it before enabling it)."""
    delivery = WebhookDelivery(endpoint=endpoint, event=WebhookEvent.TEST)
    delivery.payload = {
        "type": WebhookEvent.TEST.value,
        "timestamp": timezone.now().isoformat(),
        "data": {"endpoint": endpoint.pk, "sent_by": getattr(user, "username", "") or "command line",
                 "message_id": delivery.message_id},
    }  # fmt: skip
    delivery.save()
    queue_deliveries([delivery.pk])
    return delivery


def _claim(pk: int) -> WebhookDelivery | None:
    """Take the delivery for one attempt if it is due and nobody holds it; None otherwise."""
    now = timezone.now()
    lease = now + timedelta(seconds=4 * settings.WEBHOOK_TIMEOUT_SECONDS + 30)
    claimed = _due(now).filter(pk=pk).update(claimed_until=lease)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("endpoint").get(pk=pk)


def deliver(pk: int) -> str | None:
    """One attempt at a due delivery: its status after it, or None when it was not due or is
    held by another worker. Never raises for what the receiver does."""
    delivery = _claim(pk)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    body = body_of(delivery)
    try:
        target = addresses.check(endpoint.url, allowed_hosts=settings.WEBHOOK_ALLOWED_HOSTS)
    except addresses.Refused as refused:  # its DNS changed since it was registered, or the settings did
        outcome = outbound.Outcome(False, None, error=f"refused: {refused}")
    else:
        headers = outbound.signed_headers(endpoint.secret, delivery.message_id, body)
        timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        outcome = outbound.post(target, body, headers, connect_timeout=timeout, timeout=timeout)
    _record(delivery, outcome)
    return delivery.status


@transaction.atomic
def _record(delivery: WebhookDelivery, outcome: outbound.Outcome) -> None:
    now = timezone.now()
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_attempt_at, delivery.claimed_until = now, None
    delivery.response_status, delivery.response_body = outcome.status, outcome.body
    delivery.error = outcome.error[:2000]
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
    if outcome.ok:
        delivery.status, delivery.delivered_at = Status.DELIVERED, now
        if endpoint.failing_since is not None:  # it works again
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
    else:
        _failed(delivery, endpoint, now)
    delivery.save()


def _failed(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now) -> None:
    """Schedule the next attempt, or give up after WEBHOOK_RETRY_SECONDS; an endpoint whose every
    delivery has failed for that long is disabled."""
    retry_seconds = settings.WEBHOOK_RETRY_SECONDS
    if backoff.gives_up((now - delivery.first_attempt_at).total_seconds(), retry_seconds=retry_seconds):
        delivery.status = Status.FAILED
    else:
        delay = backoff.delay_after(delivery.attempts, scale=settings.WEBHOOK_BACKOFF_SCALE)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        enqueue_on_commit(DELIVER_TASK, delivery.pk, countdown=delay)
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
    elif endpoint.enabled and backoff.gives_up(
        (now - endpoint.failing_since).total_seconds(), retry_seconds=retry_seconds
    ):
        _disable(
            endpoint,
            f"Disabled {now:%Y-%m-%d %H:%M} UTC: every delivery since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
            f" failed (the last: {delivery.error or 'no answer'}). Fix the receiver, then enable the endpoint"
            " and replay its failed deliveries.",
        )
        if delivery.status == Status.PENDING:
            delivery.status = Status.FAILED


def _disable(endpoint: WebhookEndpoint, reason: str) -> None:
    log.warning("webhook endpoint %s (%s) disabled: %s", endpoint.pk, endpoint.url, reason)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason=reason)
    endpoint.deliveries.filter(status=Status.PENDING).update(
        status=Status.FAILED, error="not sent: its endpoint was disabled", claimed_until=None
    )


def send_due(*, limit: int = 500) -> int:
    """The sweep's part: send a task for every pending delivery that is due and held by nobody (its
    task was lost to a Redis outage, or its worker died); returns how many were sent."""
    due = _due(timezone.now()).order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    return sum(send(DELIVER_TASK, pk) for pk in due)


def _due(now):
    """Pending deliveries whose attempt is due and that no worker holds (its lease ran out, or none)."""
    return WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


# --- Replays --------------------------------------------------------------------------------


def replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now, with its message id and body, and a new day of retries. A
    receiver that keeps messages by id ignores a replay of one it already kept."""
    _replay([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def replay_failed(*, endpoint: WebhookEndpoint | None = None) -> int:
    """Replay every failed delivery (of one endpoint, or all), oldest first; returns how many."""
    ids = failed_deliveries(endpoint)
    _replay(ids)
    return len(ids)


@transaction.atomic
def _replay(ids: Sequence[int]) -> None:
    """Due now, a new day of retries, held by nobody: one UPDATE, their tasks after the commit."""
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=Status.PENDING, next_attempt_at=timezone.now(), first_attempt_at=None, claimed_until=None
    )
    queue_deliveries(ids)
