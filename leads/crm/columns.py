"""Which column of a file holds a CRM's record ids, and which CRM it came from. Pure: no Django.

Each CRM exports its companies with a header of its own: HubSpot "Record ID", Salesforce "Account
ID" (or "Id" in a Data Loader export), Pipedrive "Organization - ID" (or "ID"). A bare "Id" or
"ID" is every other vendor's row number too, so it only counts when the other headers (or, for
Salesforce, the values: Account ids start with 001) say which CRM wrote the file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Headers, folded (see fold), that name one CRM's record id whatever else the file holds.
OWN_HEADERS = {
    "record id": "hubspot",
    "record id company": "hubspot",  # a multi-object export's company column
    "hubspot id": "hubspot",
    "account id": "salesforce",
    "salesforce id": "salesforce",
    "organization id": "pipedrive",  # "Organization - ID"
    "organisation id": "pipedrive",
    "pipedrive id": "pipedrive",
}
BARE_ID = {"id"}
# Headers that, beside a bare "ID", say a file came from this CRM.
_SALESFORCE_SIGNS = {
    "account name", "account site", "account owner", "billingcity", "billing city", "ownerid", "systemmodstamp",
    "masterrecordid", "isdeleted", "createdbyid", "lastmodifiedbyid", "parentid", "parent account",
}  # fmt: skip
_PIPEDRIVE_SIGNS = {
    "organization name", "organisation name", "people", "open deals", "closed deals", "won deals", "lost deals",
    "next activity date", "last activity date", "visible to", "activities to do", "done activities",
    "email messages count", "organization owner", "organisation owner",
}  # fmt: skip
# An Account id: 15 characters (case-sensitive) or 18 (with a checksum), starting with the Account prefix.
_ACCOUNT_ID = re.compile(r"001[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")


@dataclass(frozen=True)
class Detected:
    """The column of record ids (its index) and the CRM (a slug of leads.crm.names)."""

    index: int
    crm: str


def fold(header: str) -> str:
    """'Organization - ID' -> 'organization id', 'Record ID' -> 'record id'."""
    return " ".join(re.findall(r"[a-z0-9]+", header.casefold()))


def detect(headers: Sequence[str], rows: Sequence[Sequence[str]] = ()) -> Detected | None:
    """The record id column of a CRM's own export, or None when the headers do not say which CRM."""
    folded = [fold(h) for h in headers]
    for index, header in enumerate(folded):
        if header in OWN_HEADERS:
            return Detected(index, OWN_HEADERS[header])
    bare = [i for i, header in enumerate(folded) if header in BARE_ID]
    if len(bare) != 1:
        return None  # no "ID", or several: which one is not ours to guess
    index, present = bare[0], set(folded)
    values = [row[index].strip() for row in rows if index < len(row) and row[index].strip()]
    if present & _SALESFORCE_SIGNS or (values and all(_ACCOUNT_ID.fullmatch(v) for v in values)):
        return Detected(index, "salesforce")
    if {"organization name", "organisation name"} & present or len(present & _PIPEDRIVE_SIGNS) >= 2:
        return Detected(index, "pipedrive")
    return None
