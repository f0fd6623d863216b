"""Imports of a CSV file or a workbook."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from leads.imports import csvfiles, numbers, tabular


class ImportJob(models.Model):
    """One CSV import: the original file, who ran it, what it did and what it rejected."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=300)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)  # a CSV's
    sheet = models.PositiveSmallIntegerField(null=True, blank=True)  # a workbook's (encoding "xlsx"): its index
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)  # {"<column index>": "name" | "extra:x" | "ignore"}
    size_bytes = models.PositiveBigIntegerField(default=0)
    rows_estimate = models.PositiveIntegerField(default=0)  # from the sample; drives the first progress bar
    rows_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    labels = models.PositiveIntegerField(default=0)
    # Values of the typed columns that could not be read as numbers, by column ({"employees": 3});
    # their text is kept in the companies' extra.
    unreadable = models.JSONField(default=dict, blank=True)
    # [{"line": 7, "reason": "...", "values": [...]}]: the first few, for display.
    rejected_rows = models.JSONField(default=list, blank=True)
    rejected_file = models.FileField(blank=True)  # every rejected row: line, reason, original cells
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_state_display()})"

    @property
    def unreadable_sentence(self) -> str:
        """How many values of each typed column could not be read as numbers, in words ('' for none)."""
        return numbers.unreadable_sentence(self.unreadable)

    def column_mapping(self) -> dict[int, str]:
        """The mapping by column index: what each column of the file holds."""
        return {int(i): target for i, target in self.mapping.items()}

    def dialect(self) -> csvfiles.Dialect:
        """How the file is read: a workbook's sheet, or a CSV's encoding and delimiter."""
        if self.encoding == tabular.XLSX:
            return csvfiles.Dialect(encoding=self.encoding, delimiter="", headers=self.headers, sheet=self.sheet or 0)
        return csvfiles.Dialect(encoding=self.encoding, delimiter=self.delimiter, headers=self.headers)
