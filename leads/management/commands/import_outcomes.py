import json
import os

from django.core.management.base import BaseCommand, CommandError

from leads.imports.csvfiles import UnreadableFile
from leads.imports.headers import find_column
from leads.imports.jobs import ImportFailed
from leads.management.commands.import_companies import shown
from leads.outcomes import deals as deal_rows
from leads.outcomes import services as outcomes
from leads.outcomes.matching import read_file


class Command(BaseCommand):
    help = ("Import won and lost deals (a HubSpot, Salesforce or Pipedrive deals export, CSV or .xlsx) as outcomes: "
            "each deal's company by CRM record id, domain or name; re-importing a file updates, never duplicates.")  # fmt: skip

    def add_arguments(self, parser):
        parser.add_argument("file", help="the deals file")
        parser.add_argument("--crm", default="", help="whose record ids the file holds (hubspot, salesforce, "
                            "pipedrive, or any name); by default read off the headers")  # fmt: skip
        parser.add_argument("--column", action="append", default=[], metavar="FIELD=HEADER",
                            help=f"which column is which ({', '.join(deal_rows.FIELDS)}); repeat it")  # fmt: skip
        parser.add_argument("--stage", action="append", default=[], metavar="VALUE=won|lost|open",
                            help="what a stage of your own means, e.g. --stage Signed=won; repeat it")  # fmt: skip
        parser.add_argument("--dry-run", action="store_true", help="say what would be imported; write nothing")

    def handle(self, *args, file, crm, column, stage, dry_run, **options):
        try:
            with open(file, "rb") as stream:
                job = outcomes.describe(stream, name=file, size=os.path.getsize(file), crm=crm)
                outcomes.choose(job, columns=_columns(job.headers, column), stages=dict(map(_stage, stage)), save=False)
                if not job.crm:
                    raise CommandError("Say whose record ids the file holds: --crm hubspot, salesforce or pipedrive.")
                if dry_run:
                    return self._dry_run(job, read_file(job, stream=stream))
        except (FileNotFoundError, IsADirectoryError):
            raise CommandError(f"{shown(file)}: no such file") from None
        except UnreadableFile as problem:
            raise CommandError(shown(problem)) from None
        if not deal_rows.reads_stage(job.column_mapping()):
            self.stderr.write(deal_rows.NO_STAGE)
        job = outcomes.create_import(path=file, crm=job.crm)
        outcomes.choose(job, columns=_columns(job.headers, column), stages=dict(map(_stage, stage)))
        try:
            job = outcomes.run_import(job)
        except (ImportFailed, UnreadableFile):
            raise CommandError(shown(job.error)) from None
        self.stdout.write(f"Imported {shown(file)}: {job.created} new deals, {job.updated} updated, "
                          f"{job.unchanged} unchanged, {job.rejected} rejected; matched by {_matched(job.matched)}.")  # fmt: skip
        for rejected in job.rejected_rows[:20]:
            self.stdout.write(f"  line {rejected['line']}: {shown(rejected['reason'])}")
        if unread := job.matched.get("amount_unread"):
            deals = "its deal was" if unread == 1 else "their deals were"
            self.stdout.write(
                f"{unread} amount{'' if unread == 1 else 's'} could not be read: {deals} imported without one."
            )

    def _dry_run(self, job, reading) -> None:
        self.stdout.write(f"Dry run ({job.crm}): nothing is written. {reading.rows} rows, {len(reading.matched)} "
                          f"deals match a company, by {_matched(reading.counts)}; {len(reading.rejected)} rejected.")  # fmt: skip
        self.stdout.write("Stages: " + json.dumps(reading.stages))
        if not deal_rows.reads_stage(job.column_mapping()):
            self.stdout.write(deal_rows.NO_STAGE)
        if reading.unknown_stages:
            listed = ", ".join(shown(s) for s in reading.unknown_stages)
            self.stdout.write(f"Read as open (say otherwise with --stage VALUE=won): {listed}")
        for rejected in reading.rejected[:20]:
            self.stdout.write(f"  line {rejected.line}: {shown(rejected.reason)}")
        for kept in reading.unread_amounts[:20]:
            self.stdout.write(f"  line {kept.line}: {shown(kept.reason)}")


def _matched(counts: dict) -> str:
    return ", ".join(f"{key} {counts.get(key, 0)}" for key in ("record", "domain", "name"))


def _columns(headers: list[str], given: list[str]) -> dict[int, str]:
    chosen = {}
    for text in given:
        target, _, header = text.partition("=")
        if target.strip() not in deal_rows.FIELDS:
            raise CommandError(f"--column {shown(text)}: the field is one of {', '.join(deal_rows.FIELDS)}")
        try:
            chosen[find_column(headers, header.strip().strip('"'))] = target.strip()
        except ValueError as problem:
            raise CommandError(shown(problem)) from None
    return chosen


def _stage(text: str) -> tuple[str, str]:
    try:
        return deal_rows.parse_stage_choice(text)
    except ValueError as problem:
        raise CommandError(str(problem)) from None
