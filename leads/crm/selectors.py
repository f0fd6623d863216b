"""Companies by their CRM record ids."""

from __future__ import annotations

from collections.abc import Iterable

from leads.models import CrmRecord
from leads.models.lookups import Ids


def companies_by_record(crm: str, record_ids: Iterable[str]) -> dict[str, int]:
    """record id -> company id, for the ids `crm` (a slug of leads.crm.names) has on file."""
    wanted = {str(r).strip() for r in record_ids if str(r).strip()}
    if not wanted:
        return {}
    rows = CrmRecord.objects.filter(crm=crm, record_id__in=wanted).values_list("record_id", "company_id")
    return dict(rows)


def records_of(company_ids: Iterable[int]) -> dict[int, list[CrmRecord]]:
    """company id -> its CRM records (by CRM, then record id), in one query."""
    found: dict[int, list[CrmRecord]] = {}
    for record in CrmRecord.objects.filter(company_id__any_of=Ids(list(company_ids))).order_by("crm", "record_id"):
        found.setdefault(record.company_id, []).append(record)
    return found


def record_ids_text(records: Iterable[CrmRecord]) -> str:
    """A company's records in one cell, as the CSV export writes them: 'hubspot:9001; salesforce:0015g00000XyZab'."""
    return "; ".join(str(record) for record in records)
