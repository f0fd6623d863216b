from django.core.management.base import BaseCommand, CommandError

from leads.companies.exports import write_scores
from leads.companies.selectors import BadFilter, best_first


class Command(BaseCommand):
    help = "Write companies with label, score and neighbours to a CSV file that Excel opens."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--show", default="all", help="all, unlabelled, labelled, liked or disliked")
        parser.add_argument("--no-bom", action="store_true", help="plain UTF-8 without the byte-order mark")

    def handle(self, *args, file, show, no_bom, **options):
        try:
            companies = best_first(show=show)
        except BadFilter as error:
            raise CommandError(str(error)) from None
        with open(file, "w", newline="", encoding="utf-8") as stream:
            count = write_scores(stream, companies, excel_bom=not no_bom)
        self.stdout.write(f"Wrote {count} companies to {file}.")
