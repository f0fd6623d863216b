"""Owners and notes, read: a company's notes, the latest note of many companies, who may own
companies, and an owner named in a filter or a form."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Count, Q, QuerySet

from leads.accounts import roles
from leads.models import CompanyNote

NOTES_SHOWN = 50  # on a company page and in the API's company: the newest


def company_notes(company_id: int, *, limit: int = NOTES_SHOWN) -> list[CompanyNote]:
    """A company's notes, newest first, with their authors."""
    return list(CompanyNote.objects.filter(company_id=company_id).select_related("author")[:limit])


@dataclass(frozen=True)
class NoteSummary:
    count: int
    latest: str  # the newest note's text
    latest_by: str  # its author's username ("" once the account is deleted)
    latest_at: datetime


def note_summaries(company_ids: Iterable[int]) -> dict[int, NoteSummary]:
    """For the companies of `company_ids` that have notes: how many, and the newest. Two queries
    however many companies (an export batch)."""
    ids = list(company_ids)
    counts = dict(
        CompanyNote.objects.filter(company_id__in=ids)
        .values("company_id")
        .annotate(n=Count("pk"))
        .values_list("company_id", "n")
    )
    newest = (
        CompanyNote.objects.filter(company_id__in=ids)
        .order_by("company_id", "-created_at", "-pk")
        .distinct("company_id")
        .values_list("company_id", "text", "author__username", "created_at")
    )
    return {
        company_id: NoteSummary(counts[company_id], text, username or "", created_at)
        for company_id, text, username, created_at in newest
    }


def possible_owners() -> QuerySet:
    """The accounts a company can be given to: active ones whose role may own companies (sales
    reps and managers, or a superuser), by username."""
    claim = Permission.objects.filter(content_type__app_label="leads", codename=roles.CLAIM.split(".")[1])
    users = get_user_model().objects.filter(is_active=True)
    return (
        users.filter(Q(is_superuser=True) | Q(groups__permissions__in=claim) | Q(user_permissions__in=claim))
        .distinct()
        .order_by("username")
    )


class UnknownOwner(ValueError):
    """An owner named in a filter or a form that is nobody's username; the message says so."""


# What a filter or a form may say instead of a username.
ME, NOBODY = "me", ("none", "unassigned")


def owner_named(value: str, *, user) -> object | None:
    """The user `value` names: "me" (`user`), "none" or "unassigned" (None), or a username."""
    value = value.strip()
    if value.lower() == ME:
        return user
    if value.lower() in NOBODY:
        return None
    found = get_user_model().objects.filter(username=value).first() if "\x00" not in value else None
    if found is None:
        raise UnknownOwner(f"owner must be me, none or a username; nobody is called {value!r}")
    return found
