"""The record ids a company has in the team's CRMs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from leads.crm import names
from leads.models.companies import Company


class CrmRecord(models.Model):
    """A company's record in one CRM: HubSpot's "Record ID", Salesforce's "Account ID", Pipedrive's
    "Organization ID". One record id names one company in its CRM (Meta); a company may have a
    record in several CRMs (or, after a merge there, several in one)."""

    MAX_RECORD_ID = names.MAX_RECORD_ID

    # No index of its own: crm_record_company (Meta).
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="crm_records", db_index=False)
    crm = models.CharField(max_length=40)  # a slug of leads.crm.names
    record_id = models.CharField(max_length=MAX_RECORD_ID)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["crm", "record_id"]
        # record_id first: the same index finds a record id typed in a search, whatever its CRM.
        constraints = [models.UniqueConstraint(fields=["record_id", "crm"], name="one_company_per_crm_record")]
        indexes = [models.Index(fields=["company", "crm"], name="crm_record_company")]

    @property
    def crm_label(self) -> str:
        """The CRM's name as people write it: 'HubSpot', 'Zoho crm'."""
        return names.crm_label(self.crm)

    def __str__(self) -> str:
        return f"{self.crm}:{self.record_id}"
