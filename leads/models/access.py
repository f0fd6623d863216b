"""API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# The permissions Company declares (codename, name), beside Django's add/change/delete/view.
APP_PERMISSIONS = [
    ("label_company", "Can like, dislike and clear companies"),
    ("import_companies", "Can import companies"),
    ("review_labels", "Can review labels and scored companies"),
    ("change_scoring_settings", "Can change scoring settings"),
    ("open_admin", "Can open the admin site"),
    ("claim_company", "Can assign a company to themselves and release their own"),
    ("assign_company", "Can assign companies to anyone"),
    ("note_company", "Can write notes on companies"),
]


class ApiToken(models.Model):
    """A rep's key for the JSON API (one per rep). Only a hash of the key is stored: the key is
    shown once, when made, and a leaked database or admin page gives nobody API access.

    A key is 160 random bits, so a fast SHA-256 is enough: a slow password hash guards against
    guessing, and nobody can guess a random key."""

    PREFIX_LENGTH = 8  # characters of the key kept in the clear, to tell tokens apart

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    key_hash = models.CharField(max_length=64, unique=True)  # hex SHA-256 of the key
    prefix = models.CharField(max_length=PREFIX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    # The plain key: set only on the instance issue() returns, never stored.
    key = ""

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()

    @classmethod
    def issue(cls, *, user) -> ApiToken:
        """A new key for user, replacing (so revoking) any key they had. The returned token's
        `key` is the only copy of the plain key: show it to the rep now."""
        key = secrets.token_hex(20)
        token, _ = cls.objects.update_or_create(
            user=user,
            defaults={
                "key_hash": cls.hash(key),
                "prefix": key[: cls.PREFIX_LENGTH],
                "created_at": timezone.now(),
                "last_used_at": None,
            },
        )
        token.key = key
        return token

    @classmethod
    def revoke(cls, *, user) -> bool:
        """Whether user had a token; it no longer works."""
        deleted, _ = cls.objects.filter(user=user).delete()
        return bool(deleted)

    @classmethod
    def user_for(cls, key: str):
        """The active user whose key this is, or None; any junk (a NUL byte, 10 kB) is just a wrong key."""
        token = cls.objects.select_related("user").filter(key_hash=cls.hash(key)).first()
        if token is None or not token.user.is_active:
            return None
        now = timezone.now()
        # One write a minute at most, not one per request: "last used" is for spotting stale tokens.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user
