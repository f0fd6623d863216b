"""The company admin's CRM records: a company's record ids on its page, read-only (imports keep
them), and the filter by the CRM a company has a record in. A record id typed in the admin's search
finds its company through the company search (CompanyQuerySet.with_record_id)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.utils.html import format_html, format_html_join

from leads.crm import names
from leads.models import CrmRecord


def records_html(company) -> str:
    """A company's CRM records for its admin page, read-only: imports keep them (a read-only inline
    would make every change form post its management form, as admin/owners.py's notes say)."""
    records = list(company.crm_records.all()) if company.pk else []  # the add page: none yet
    if not records:
        return "None."
    return format_html(
        '<ul class="crm-records">{}</ul>',
        format_html_join("", "<li>{} <code>{}</code></li>", ((r.crm_label, r.record_id) for r in records)),
    )


NONE = "-none"  # never a slug: slugs start with a letter or digit


class CrmFilter(admin.SimpleListFilter):
    """The companies with a record in one CRM, or in none."""

    title = "CRM record"
    parameter_name = "crm"

    def lookups(self, request, model_admin):
        # The CRMs known by name, then any other an import named (a few rows: one per CRM).
        others = CrmRecord.objects.exclude(crm__in=names.KNOWN).values_list("crm", flat=True).distinct()
        slugs = [*names.KNOWN, *sorted(others)]
        return [*((slug, names.crm_label(slug)) for slug in slugs), (NONE, "No CRM record")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        records = CrmRecord.objects.filter(company=OuterRef("pk"))
        if value == NONE:
            return queryset.filter(~Exists(records))
        return queryset.filter(Exists(records.filter(crm=value)))
