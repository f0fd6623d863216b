"""The CRMs leads knows by name, in one vocabulary. Pure: no Django.

A record id belongs to one CRM: HubSpot's "Record ID" 123 and Pipedrive's "Organization ID" 123 are
different companies. A CRM leads has no export shape for keeps the name a manager gives it
("Attio", "Close"), as a slug."""

from __future__ import annotations

import re

# slug -> the name shown on pages and in files
KNOWN = {"hubspot": "HubSpot", "salesforce": "Salesforce", "pipedrive": "Pipedrive"}
MAX_SLUG = 40
MAX_RECORD_ID = 100  # characters: HubSpot and Pipedrive ids are numbers, Salesforce's 18 characters


def crm_slug(name: str) -> str:
    """'HubSpot' -> 'hubspot', 'Zoho CRM' -> 'zoho-crm'; '' when the name holds no letter or digit."""
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "").strip().lower()).strip("-")
    return slug[:MAX_SLUG].strip("-")


def crm_label(slug: str) -> str:
    """How a CRM is named to a person: 'hubspot' -> 'HubSpot', 'zoho-crm' -> 'Zoho crm'."""
    return KNOWN.get(slug) or slug.replace("-", " ").capitalize()


def crm_choice(name: str) -> str:
    """The slug of a CRM a person named ('HubSpot', 'Zoho CRM'); ValueError saying what to fix."""
    slug = crm_slug(name)
    if not slug:
        named = f" ({name.strip()!r} holds no letter or digit)" if name.strip() else ""
        raise ValueError(
            f"Name the CRM the record ids come from{named}: HubSpot, Salesforce, Pipedrive, or any other name."
        )
    return slug
