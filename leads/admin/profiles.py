"""Ideal-customer profiles in the admin, for managers: make one, rename it, archive it (read-only,
hidden from reps, its labels and scores kept) or restore it, and limit reps to some profiles. A
profile is never deleted: its verdicts are the team's history."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.utils import timezone

from leads.models import CurrentVerdict, Profile, ProfileAccess, Score


class ProfileAccessInline(admin.TabularInline):
    model = ProfileAccess
    extra = 0
    autocomplete_fields = ["user"]
    verbose_name = "rep limited to this profile"
    verbose_name_plural = "reps limited to this profile (a rep listed under no profile works in every active one)"


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "labelled", "scored", "archived", "created_at"]
    fields = ["name", "archived_at", "created_at"]
    readonly_fields = ["archived_at", "created_at"]
    search_fields = ["name"]
    inlines = [ProfileAccessInline]
    actions = ["archive", "restore"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(has_scores=Exists(Score.objects.filter(profile_id=OuterRef("pk"))))
        )

    @admin.display(description="labelled companies")
    def labelled(self, profile):
        return CurrentVerdict.objects.filter(profile_id=profile.pk).count()

    @admin.display(description="scored", boolean=True)
    def scored(self, profile):
        return profile.has_scores

    @admin.display(description="archived", boolean=True, ordering="archived_at")
    def archived(self, profile):
        return profile.archived_at is not None

    @admin.action(description="Archive the selected profiles (read-only, hidden from reps, labels kept)")
    def archive(self, request, queryset):
        active = Profile.objects.filter(archived_at__isnull=True)
        if not active.exclude(pk__in=queryset.values("pk")).exists():
            self.message_user(request, "Keep one profile active: the team needs one to work in.", level="error")
            return
        changed = queryset.filter(archived_at__isnull=True).update(archived_at=timezone.now())
        self.message_user(request, f"{changed} profiles archived: reps no longer see them; their labels are kept.")

    @admin.action(description="Restore the selected profiles")
    def restore(self, request, queryset):
        changed = queryset.exclude(archived_at__isnull=True).update(archived_at=None)
        self.message_user(request, f"{changed} profiles restored.")

    def has_delete_permission(self, request, obj=None):
        return False  # archive instead: a profile's verdicts are the team's history
