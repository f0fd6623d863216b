"""Saved views: a named combination of the dashboard's filters, search and order, shared by link."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class SavedView(models.Model):
    """A dashboard view a rep or manager named; the team sees every one (a link opens it)."""

    name = models.CharField(max_length=100)
    # The dashboard's URL query ("show=unlabelled&band=strong&q=payments"): only its known filters.
    query = models.CharField(max_length=2000, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = [Lower("name"), "pk"]
        constraints = [models.UniqueConstraint(Lower("name"), name="one_saved_view_per_name")]

    def __str__(self) -> str:
        return self.name


class SavedViewVisit(models.Model):
    """When a user last opened a view: its companies added since are "new" to them."""

    view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="visits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    visited_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["view", "user"], name="one_visit_per_view_and_user")]
