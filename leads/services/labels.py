"""Giving and clearing verdicts."""

from __future__ import annotations

from django.db import transaction

from leads.models import Company, Label, Verdict
from leads.services.scores import request_rescore


class InvalidVerdict(ValueError):
    pass


def parse_verdict(value: object) -> Verdict:
    try:
        return Verdict(str(value).strip().lower())
    except ValueError:
        raise InvalidVerdict(f"verdict must be one of: like, dislike, clear (got {value!r})") from None


@transaction.atomic
def label_company(*, company: Company, user, verdict: Verdict | str) -> Label:
    """Record a verdict (or a clear) in the history, make it current and queue a rescore."""
    verdict = parse_verdict(verdict)
    label = Label.objects.create(company=company, user=user, verdict=verdict)
    company.verdict = "" if verdict == Verdict.CLEAR else verdict.value
    Company.objects.filter(pk=company.pk).update(verdict=company.verdict)
    request_rescore()
    return label
