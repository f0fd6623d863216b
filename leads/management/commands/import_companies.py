from django.core.management.base import BaseCommand, CommandError

from leads.csvfiles import UnreadableFile
from leads.services.imports import ImportFailed, create_job, run_import


class Command(BaseCommand):
    help = "Import companies from a CSV file (any common encoding and delimiter); the worker embeds them."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--quiet-progress", action="store_true", help="no progress bar")

    def handle(self, *args, file, quiet_progress, **options):
        try:
            job = create_job(path=file)
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except UnreadableFile as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Import #{job.pk}: {job.original_name} ({job.encoding}, delimiter {job.delimiter!r})")
        try:
            job = run_import(job, progress=None if quiet_progress else self._progress)
        except (ImportFailed, UnreadableFile) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"\r{job.rows_read} rows: {job.created} created, {job.updated} updated, {job.unchanged} unchanged, "
            f"{job.duplicates} duplicates merged, {job.rejected} rejected, {job.labels} labels"
        )
        for row in job.rejected_rows:
            self.stderr.write(f"  line {row['line']}: {row['reason']}")
        if job.rejected > len(job.rejected_rows):
            self.stderr.write(f"  ... all {job.rejected} rejected rows: {job.rejected_file.path}")
        self.stdout.write("The worker is embedding and scoring them now (`celery -A leads worker`).")

    def _progress(self, job):
        self.stdout.write(f"\r  {job.rows_read:,} rows read", ending="")
        self.stdout.flush()
