"""Owners and notes: the only code that writes Company.owner or CompanyNote.

Who may do what (leads.accounts.roles): a sales rep takes a company nobody owns, or releases
their own (CLAIM); a sales manager gives any company to anyone, or to nobody (ASSIGN); both write
notes (NOTE). Admins and accounts without a role write none of it. Each refusal is a sentence
that says what to do instead."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q

from leads.accounts import roles
from leads.models import Company, CompanyNote
from leads.models.lookups import Ids


class Refused(PermissionError):
    """The user's role may not do this (a 403); the message says whom to ask."""


class InvalidNote(ValueError):
    """The note's text cannot be kept as given (a 400); the message says what to fix."""


def _allowed(*, owner, by) -> Q:
    """Which companies `by` may give to `owner` (None: to nobody), or Refused."""
    if by.has_perm(roles.ASSIGN):
        return Q()
    if not by.has_perm(roles.CLAIM):
        raise Refused(roles.missing(by, roles.CLAIM))
    if owner is not None and owner.pk != by.pk:
        raise Refused(
            f"A sales rep assigns companies to themselves only: ask a sales manager to assign it to {owner.get_username()}."
        )
    return Q(owner__isnull=True) | Q(owner=by)


def _check_owner(owner) -> None:
    if owner is not None and not (owner.is_active and owner.has_perm(roles.CLAIM)):
        raise Refused(f"{owner.get_username()} cannot own companies: only active sales reps and sales managers can.")


@transaction.atomic
def assign_company(*, company: Company, owner, by) -> Company:
    """Make `owner` (a user, or None to unassign) the owner of `company`, as `by` asks. One
    conditional UPDATE, so that two reps taking the same company at once cannot both get it:
    the second is told whose it is."""
    allowed = _allowed(owner=owner, by=by)
    _check_owner(owner)
    changed = Company.objects.filter(allowed, pk=company.pk).update(owner=owner)
    if not changed:
        current = Company.objects.filter(pk=company.pk).values_list("owner__username", flat=True).first()
        raise Refused(f"{company.name} is {current}'s: ask a sales manager to reassign it.")
    company.owner = owner
    return company


@transaction.atomic
def assign_companies(*, ids: Sequence[int], owner, by) -> int:
    """Give every company of `ids` to `owner` (None: unassign them), as `by` asks: a manager's
    bulk action. A rep may do it for themselves; companies other reps own are left alone.
    Returns how many companies changed owner."""
    allowed = _allowed(owner=owner, by=by)
    _check_owner(owner)
    selected = Company.objects.filter(allowed, pk__any_of=Ids(ids))
    keep = Q(owner__isnull=True) if owner is None else Q(owner=owner)
    return selected.exclude(keep).update(owner=owner)


def clean_note(text: object) -> str:
    """The note as it is kept: line ends made \\n, blank edges trimmed; or InvalidNote."""
    if not isinstance(text, str):
        raise InvalidNote("A note is text: send it as a string.")
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text or all(unicodedata.category(c) in ("Cf", "Zs", "Zl", "Zp", "Cc") for c in text):
        raise InvalidNote("The note is empty: write something.")  # a zero-width space shows nothing either
    if "\x00" in text:
        raise InvalidNote("The note holds a NUL character (\\x00), which cannot be stored: remove it.")
    if len(text) > CompanyNote.MAX_CHARS:
        raise InvalidNote(
            f"A note holds at most {CompanyNote.MAX_CHARS:,} characters; this one has {len(text):,}: shorten it."
        )
    return text


@transaction.atomic
def add_note(*, company: Company, author, text: object) -> CompanyNote:
    """Keep a note on `company`, written by `author` now."""
    if not author.has_perm(roles.NOTE):
        raise Refused(roles.missing(author, roles.NOTE))
    return CompanyNote.objects.create(company=company, author=author, text=clean_note(text))
