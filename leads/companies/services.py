"""Editing and deleting companies outside an import (the admin), keeping vectors and scores true."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from leads.companies.identity import read_website
from leads.core.queue import enqueue_on_commit
from leads.models import Company
from leads.scoring.services import drop_scores, labelled_changed


def text_changed(companies: Iterable[Company]) -> list[int]:
    """These companies' text no longer matches their vector: drop their scores (they show as
    'waiting for embedding' until the worker re-embeds them) and, for labelled ones, take them
    out of the labelled set (a label change). Call inside the transaction that changed them."""
    ids = [company.pk for company in companies]
    drop_scores(ids)
    labelled_changed(ids)
    return ids


class DuplicateCompany(ValueError):
    """Another company already has this one's dedupe key: its domain, or without a website its name
    and country. `existing` is that company, for a page to name and link."""

    def __init__(self, existing: Company, *, by_website: bool):
        self.existing = existing
        self.by_website = by_website
        what = f"the website {existing.domain}" if by_website else "this name and country (and no website)"
        super().__init__(f"{existing.name} (company {existing.pk}) already has {what}")


def duplicate_of(company: Company) -> DuplicateCompany | None:
    """The error saving `company` (edited or new, not yet saved) would meet: another company with
    the key Company.save() will give it, which the database's one_company_per_dedupe_key refuses."""
    existing = Company.objects.filter(dedupe_key=company.key_to_save()).exclude(pk=company.pk).first()
    return DuplicateCompany(existing, by_website=bool(read_website(company.website).domain)) if existing else None


@transaction.atomic
def save_company(company: Company) -> Company:
    """Save an edited or new company; a new text queues its (re-)embedding. Raises DuplicateCompany
    when another company has its website (or, without one, its name and country)."""
    if duplicate := duplicate_of(company):
        raise duplicate
    old_hash = Company.objects.filter(pk=company.pk).values_list("text_hash", flat=True).first() if company.pk else None
    company.save()
    if old_hash != company.text_hash:
        if old_hash is not None:
            text_changed([company])
        enqueue_on_commit("leads.embed_companies", [company.pk])
    return company


@transaction.atomic
def delete_companies(companies: Iterable[Company]) -> int:
    """Delete companies; a labelled one leaves the labelled set, so the scores citing it change."""
    companies = list(companies)
    ids = [company.pk for company in companies]
    labelled_changed(ids)
    drop_scores(ids)  # through the scores' writer, not the cascade: the profiles' distributions move with them
    Company.objects.filter(pk__in=ids).delete()
    return len(companies)
