"""Admins of records written elsewhere (labels by the labels service, deals by their import):
shown, searched and filtered, never added, changed or deleted here."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
