"""The company admin's CRM records: a company's record ids, read-only (imports keep them), and the
filter by the CRM a company has a record in. Searching a record id is the company search's."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef

from leads.crm import names
from leads.models import CrmRecord


class CrmRecordInline(admin.TabularInline):
    model = CrmRecord
    extra = 0
    fields = ["crm_name", "record_id", "created_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name = "CRM record"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="CRM")
    def crm_name(self, record: CrmRecord) -> str:
        return record.crm_label


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
