"""Imports of a CSV file or a workbook."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from leads.crm import names as crm_names
from leads.imports import csvfiles, numbers, tabular


class ImportState(models.TextChoices):
    """Where an uploaded table's import is (imports.jobs): waiting for the user to confirm it, then
    queued for a worker, running, and done or failed."""

    PENDING = "pending", "Waiting for confirmation"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed"


class UploadedTable(models.Model):
    """A CSV file or workbook someone uploaded to be read row by row (companies, deals): who brought
    it, how imports.tabular reads it (the preview's choices) and when it was done. Each kind keeps
    its file in its own folder (`file`'s upload_to); both run the same way (imports.jobs), so share
    their states and the counts of what the run did."""

    State = ImportState

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # The profile the file's verdicts go to (a `label` column, or deals while outcomes count as
    # verdicts), chosen on the preview or with --profile; None: the first active profile.
    profile = models.ForeignKey("leads.Profile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField()
    original_name = models.CharField(max_length=300)
    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)  # a CSV's
    sheet = models.PositiveSmallIntegerField(null=True, blank=True)  # a workbook's (encoding "xlsx"): its index
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)  # {"<column index>": the field it holds}
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    rows_estimate = models.PositiveIntegerField(default=0)  # from the sample; drives the first progress bar
    rows_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # why a run failed, in a sentence
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_state_display()})"

    def column_mapping(self) -> dict[int, str]:
        """The mapping by column index: what each column of the file holds."""
        return {int(i): target for i, target in self.mapping.items()}

    def dialect(self) -> csvfiles.Dialect:
        """How the file is read: a workbook's sheet, or a CSV's encoding and delimiter."""
        if self.encoding == tabular.XLSX:
            return csvfiles.Dialect(encoding=self.encoding, delimiter="", headers=self.headers, sheet=self.sheet or 0)
        return csvfiles.Dialect(encoding=self.encoding, delimiter=self.delimiter, headers=self.headers)


class ImportJob(UploadedTable):
    """One companies import: the original file, who ran it, what it did and what it rejected."""

    file = models.FileField(upload_to="imports/%Y/%m/")
    size_bytes = models.PositiveBigIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    labels = models.PositiveIntegerField(default=0)
    # Values of the typed columns that could not be read as numbers, by column ({"employees": 3});
    # their text is kept in the companies' extra.
    unreadable = models.JSONField(default=dict, blank=True)
    # [{"line": 7, "reason": "...", "values": [...]}]: the first few, for display.
    rejected_rows = models.JSONField(default=list, blank=True)
    rejected_file = models.FileField(blank=True)  # every rejected row: line, reason, original cells
    # The CRM the file's record ids belong to (a slug of leads.crm.names; '' for a file without them),
    # the record ids this import gave companies, and the rows whose record id named one company and
    # whose website or name another: the record id decided ([{"line", "record_id", "company", "other"}]).
    crm = models.CharField(max_length=40, blank=True)
    crm_records = models.PositiveIntegerField(default=0)
    crm_conflicts = models.PositiveIntegerField(default=0)
    crm_conflict_rows = models.JSONField(default=list, blank=True)

    @property
    def rows_counted_on_upload(self) -> bool:
        """Whether rows_estimate is the file's rows counted on upload (a CSV up to
        tabular.EXACT_COUNT_BYTES), not an estimate: a workbook's is the size its sheet declares."""
        return not tabular.is_workbook(self.dialect()) and tabular.rows_counted(self.size_bytes)

    @property
    def unreadable_sentence(self) -> str:
        """How many values of each typed column could not be read as numbers, in words ('' for none)."""
        return numbers.unreadable_sentence(self.unreadable)

    @property
    def crm_summary(self) -> str:
        """What the import did with the CRM's record ids, in words ('' for a file without them)."""
        if not self.crm or (not self.crm_records and not self.crm_conflicts):
            return ""
        crm = crm_names.crm_label(self.crm)
        ids = "id" if self.crm_records == 1 else "ids"
        said = f"{self.crm_records:,} new {crm} record {ids} kept."
        if self.crm_conflicts:
            lines = ", ".join(str(row["line"]) for row in self.crm_conflict_rows[:10])
            more = "" if self.crm_conflicts <= 10 else f" and {self.crm_conflicts - 10:,} more"
            rows = "row's record id" if self.crm_conflicts == 1 else "rows' record ids"
            said += (
                f" {self.crm_conflicts:,} {rows} named one company and the website another (line {lines}{more}):"
                " the record id decided, the other company is unchanged."
            )
        return said


class ImportedCompany(models.Model):
    """A company an import created or changed, kept for good: the import's progress, its "See the
    N companies" and `?import=` list the same companies after a later import changes them too
    (Company.import_job names only the last). Written with the import's upsert (imports/loading).
    No foreign key to the company: a deleted company leaves a row that no read joins to, and a
    million-company import writes no second index."""

    pk = models.CompositePrimaryKey("job", "company")
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="+", db_index=False)  # the key leads
    company = models.ForeignKey(
        "leads.Company", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.job_id}: {self.company_id}"
