from django.core.management.base import BaseCommand, CommandError

from leads.companies.exports import write_scores
from leads.companies.selectors import BadFilter, best_first
from leads.crm import exports as crm_exports
from leads.crm import names as crm_names
from leads.profiles import selectors as profiles


class Command(BaseCommand):
    help = (
        "Write companies with label, score and neighbours to a CSV file that Excel opens; with --for CRM, "
        "the file that CRM's import takes to update its existing records (README: Scores back into your CRM)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--show", default="all", help="all, unlabelled, labelled, liked or disliked")
        parser.add_argument("--profile", help=profiles.PROFILE_OPTION_HELP)
        parser.add_argument("--no-bom", action="store_true", help="plain UTF-8 without the byte-order mark")
        parser.add_argument(
            "--for",
            dest="crm",
            metavar="CRM",
            help=f"write that CRM's update import instead: {', '.join(crm_exports.SHAPES)} "
            "(only companies with a record id there; UTF-8 without a byte-order mark)",
        )

    def handle(self, *args, file, show, no_bom, crm, profile, **options):
        try:
            profile_id = profiles.named(profile)
        except profiles.UnknownProfile as error:
            raise CommandError(str(error)) from None
        try:
            shape = None if crm is None else crm_exports.shape_for(crm)
            companies = best_first(profile_id=profile_id, show=show)
        except (BadFilter, crm_exports.UnknownCrm) as error:
            raise CommandError(str(error)) from None
        with open(file, "w", newline="", encoding="utf-8") as stream:
            if shape is None:
                count = write_scores(stream, companies, profile_id=profile_id, excel_bom=not no_bom)
            else:
                tally = crm_exports.write_crm_file(stream, companies, shape, profile_id=profile_id)
        if shape is None:
            self.stdout.write(f"Wrote {count} companies to {file}.")
            return
        crm_name = crm_names.crm_label(shape.crm)
        self.stdout.write(
            f"Wrote {tally.rows:,} {crm_name} records of {tally.companies:,} companies to {file}; "
            f"skipped {tally.skipped:,} companies with no {crm_name} record id."
        )
