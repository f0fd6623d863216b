import time
import unicodedata

from django.core.management.base import BaseCommand, CommandError

from leads.companies.identity import BIDI_CONTROLS
from leads.crm import names as crm_names
from leads.imports import csvfiles, dry_runs, jobs
from leads.imports import services as imports
from leads.imports.csvfiles import UnreadableFile
from leads.imports.jobs import ImportFailed
from leads.imports.selectors import import_progress
from leads.imports.services import create_job, run_import
from leads.management.progress import ProgressBar
from leads.models import ImportJob
from leads.profiles import selectors as profiles

# Line and paragraph separators, which some terminals break lines at, and bidirectional controls,
# which reorder what follows them; control characters (Cc) are escaped too.
_UNSHOWN = set("\u2028\u2029") | set(BIDI_CONTROLS)


def shown(text: object) -> str:
    """Text from the file (names, headers, values in reasons) as the terminal should show it:
    an ESC sequence could rewrite the screen or the title, a CR hide what came before it, so
    such characters are written as Python escapes (\\x1b, \\r)."""
    return "".join(repr(ch)[1:-1] if unicodedata.category(ch) == "Cc" or ch in _UNSHOWN else ch for ch in str(text))


class Command(BaseCommand):
    help = (
        "Import companies from a CSV file (any common encoding and delimiter) or an Excel workbook (.xlsx); "
        "the worker embeds and scores them. The job shows on the web import page too."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the CSV or .xlsx file to import")
        parser.add_argument(
            "--column",
            action="append",
            default=[],
            metavar='FIELD="HEADER"',
            help='which column is which, e.g. --column description="Column A" (name, website, description, '
            "industry, country, label, crm_id, ignore or extra:NAME); repeat it, several description columns are combined",
        )
        parser.add_argument(
            "--crm",
            metavar="NAME",
            help="the CRM the crm_id column's record ids come from: HubSpot, Salesforce, Pipedrive or any other name "
            "(a HubSpot, Salesforce or Pipedrive export is recognised by its columns)",
        )
        parser.add_argument("--sheet", metavar="NAME", help="the workbook's sheet to import (the first by default)")
        parser.add_argument("--profile", help="where a label column's verdicts go: " + profiles.PROFILE_OPTION_HELP)
        parser.add_argument(
            "--dry-run", action="store_true", help="print the mapping, the first rows and the rejects; write nothing"
        )
        parser.add_argument("--wait", action="store_true", help="then follow embedding and scoring until done")
        parser.add_argument("--follow", type=int, metavar="JOB", help="follow an import started elsewhere (web)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, file, column, sheet, dry_run, wait, follow, no_progress, crm, profile, **options):
        try:
            profile_id = profiles.named(profile)
        except profiles.UnknownProfile as error:
            raise CommandError(str(error)) from None
        if follow is not None:
            job = ImportJob.objects.filter(pk=follow).first()
            if job is None:
                raise CommandError(f"There is no import #{follow}.")
            if job.state == ImportJob.State.PENDING:
                raise CommandError(f"Import #{follow} waits for someone to confirm its preview on the web page.")
            return self._follow(job)
        if not file:
            raise CommandError("Name the CSV or Excel file to import, or --follow JOB to watch an import.")
        choices = [_choice(text) for text in column]
        if dry_run:
            return self._dry_run(file, sheet, choices, crm)
        job = self._import(file, sheet, choices, no_progress, crm, profile_id)
        if wait:
            self._follow(job)

    def _dry_run(self, file: str, sheet: str | None, choices: list[tuple[str, str]], crm: str | None) -> None:
        try:
            result = dry_runs.dry_run(path=file, sheet=sheet, choices=choices, crm=crm)
        except (FileNotFoundError, IsADirectoryError):
            raise CommandError(f"{shown(file)}: no such file") from None
        except UnreadableFile as error:
            raise CommandError(shown(error)) from None
        dialect = result.dialect
        self.stdout.write(f"Dry run of {shown(file)} ({_described(dialect, result.sheets)}): nothing is written.")
        self.stdout.write("Columns:")
        for index, header in enumerate(dialect.headers):
            self.stdout.write(f"  {shown(header or f'(column {index + 1})')} -> {result.mapping.get(index, 'ignore')}")
        if result.crm:
            self.stdout.write(f"CRM record ids from: {shown(crm_names.crm_label(result.crm))}")
        self.stdout.write(f"The first {len(result.records)} companies as they would be stored:")
        for record in result.records:
            self.stdout.write(f"  line {record.line}: {shown(record.name)}")
            for name in ("crm_id", "website", "industry", "country", "verdict", "description"):
                if value := getattr(record, name):
                    self.stdout.write(f"    {name}: {shown(value if len(value) <= 200 else value[:197] + '...')}")
            for key, value in record.extra.items():
                self.stdout.write(f"    extra {shown(key)}: {shown(value)}")
        self.stdout.write(f"{result.rows_read:,} rows read, {result.rejected_count:,} would be rejected.")
        if "description" not in result.mapping.values():
            self.stdout.write(csvfiles.NO_DESCRIPTION_NOTE)
        for rejected in result.rejected:
            self.stderr.write(f"  line {rejected.line}: {shown(rejected.reason)}")

    def _import(
        self,
        file: str,
        sheet: str | None,
        choices: list[tuple[str, str]],
        no_progress: bool,
        crm: str | None,
        profile_id: int,
    ) -> ImportJob:
        try:
            job = create_job(path=file, sheet=sheet)
            jobs.choose_profile(job, profile_id)
        except (FileNotFoundError, IsADirectoryError):
            raise CommandError(f"{shown(file)}: no such file") from None
        except UnreadableFile as error:
            raise CommandError(shown(error)) from None
        try:
            if crm is not None:
                imports.choose_crm(job, crm)
            if choices:
                imports.choose_columns(job, choices)
            else:
                imports.check_mapping(job, job.column_mapping())
        except UnreadableFile as error:
            raise CommandError(shown(error)) from None
        self.stdout.write(
            f"Import #{job.pk}: {shown(job.original_name)} ({_described(job.dialect(), imports.sheet_names(job))})"
        )
        if "description" not in job.column_mapping().values():
            self.stdout.write(csvfiles.NO_DESCRIPTION_NOTE)
        bar = ProgressBar(self.stdout, "Reading", "rows")
        progress = None if no_progress else lambda j: bar.update(j.rows_read, job.rows_estimate, approximate=True)
        try:
            job = run_import(job, progress=progress)
        except (ImportFailed, UnreadableFile) as error:
            raise CommandError(shown(error)) from None
        if progress:
            bar.update(job.rows_read, job.rows_read)
            bar.finish()
        self.stdout.write(
            f"{job.rows_read:,} rows: {job.created:,} created, {job.updated:,} updated, {job.unchanged:,} unchanged, "
            f"{job.duplicates:,} duplicates merged, {job.rejected:,} rejected, {job.labels:,} labels"
        )
        if job.unreadable_sentence:
            self.stdout.write(job.unreadable_sentence)
        if job.crm_summary:
            self.stdout.write(job.crm_summary)
        for row in job.rejected_rows:
            self.stderr.write(f"  line {row['line']}: {shown(row['reason'])}")
        if job.rejected:
            self.stderr.write(
                f"All {job.rejected:,} rejected rows, with the reason for each: {shown(job.rejected_file.path)}"
            )
        return job

    def _follow(self, job: ImportJob) -> None:
        """Draw the embedding and scoring bars until the worker is done (Ctrl-C stops watching, not the work)."""
        embedded = ProgressBar(self.stdout, "Embedding", "companies")
        while True:
            progress = import_progress(job, profile_id=job.profile_id or profiles.first_id())
            if progress["state"] == ImportJob.State.FAILED:
                raise CommandError(f"Import #{job.pk} failed: {shown(progress['error'])}")
            if progress["state"] == ImportJob.State.DONE:
                embedded.update(progress["embedded"], progress["companies"])
            if progress["finished"]:
                break
            time.sleep(1)
        embedded.finish()
        if progress["scoring"]:
            self.stdout.write(f"Scored {progress['scored']:,} of {progress['companies']:,} companies.")
        else:
            self.stdout.write("No company is labelled yet: like or dislike some to get scores.")


def _choice(text: str) -> tuple[str, str]:
    """'description=Column A' -> ('description', 'Column A')."""
    target, equals, header = text.partition("=")
    if not equals or not target.strip() or not header.strip():
        raise CommandError(f'--column {shown(text)}: write it as FIELD="HEADER", e.g. --column description="About".')
    return target.strip(), header


def _described(dialect, sheets: list[str]) -> str:
    if sheets:
        return f"Excel workbook, sheet {shown(sheets[dialect.sheet])!r}"
    return f"{dialect.encoding}, {csvfiles.DELIMITER_NAMES.get(dialect.delimiter, dialect.delimiter)}"
