"""Webhooks: the endpoints managers register and the log of what was sent to them."""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone


class WebhookEvent(models.TextChoices):
    """What an endpoint can subscribe to: the `type` of the payload."""

    BAND_CHANGED = "company.band_changed", "A company entered or left a band (batched per rescore)"
    LABELLED = "company.labelled", "A verdict was given or cleared"
    IMPORT_FINISHED = "import.finished", "An import finished"
    TEST = "webhook.test", "A test event (sent from the webhooks page or the command)"


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id() -> str:
    """A message id: the webhook-id header a receiver de-duplicates by, the same on every retry."""
    return "msg_" + secrets.token_urlsafe(18)


class WebhookEndpoint(models.Model):
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100, default=new_secret)
    events = ArrayField(models.CharField(max_length=40))  # WebhookEvent values
    # Band keys (scoring.bands): only band changes into or out of these; empty: every band.
    bands = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    # The ideal-customer profiles whose verdicts and band changes it gets (ids; empty: every profile).
    profiles = ArrayField(models.BigIntegerField(), default=list, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)  # why the app disabled it, shown to managers
    # The first failed attempt since the last delivered one; None while deliveries succeed.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url

    def wants_band(self, old: str | None, new: str | None) -> bool:
        return not self.bands or bool({old, new} & set(self.bands))


class WebhookDelivery(models.Model):
    """One message to one endpoint, with everything tried so far: the delivery log. Its
    message id stays the same on every retry and replay, so a receiver keeps each once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its next attempt
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"  # gave up (a day of failures), or its endpoint was disabled

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=40, unique=True, default=new_message_id)
    event = models.CharField(max_length=40)  # WebhookEvent value
    payload = models.JSONField()  # the body, as signed and sent
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # The start of the current day of retries: the first attempt, or the last replay.
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A worker sending it holds it until then (a conditional UPDATE claims it): no two send at once,
    # and a worker killed mid-send lets it go once this passes.
    claimed_until = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)  # the first outbound.EXCERPT characters
    error = models.TextField(blank=True)  # what went wrong with the last attempt

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The sweep's "what is due": the pending ones only.
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due", condition=Q(status="pending")),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.event} -> {self.endpoint_id}"
