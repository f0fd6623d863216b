"""Notes reps write on companies: who wrote what, when."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from leads.models.companies import Company


class CompanyNote(models.Model):
    """A short note on a company ("called, call back in May"); a company may have several, shown
    newest first. Written only by leads/owners/services.py (add_note), which checks the text."""

    MAX_CHARS = 2000  # a note, not a document: what fits on a company page at a glance

    # No index of its own: note_company_newest (Meta) starts with it.
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="notes", db_index=False)
    # None once the author's account is deleted: the note stays, "by a deleted account".
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # A company's notes newest first, and the latest note of each company of an export batch.
        indexes = [models.Index(fields=["company", "-created_at", "-id"], name="note_company_newest")]

    def __str__(self) -> str:
        return f"{self.company}: {self.text[:40]}"
