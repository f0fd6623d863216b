from django.core.management.base import BaseCommand

from leads.scoring import services as scores


class Command(BaseCommand):
    help = "Recompute every score: here and now (no worker needed), or --queue chunk tasks for the workers."

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="store_true", help="split into chunk tasks that every worker shares")

    def handle(self, *args, queue, **options):
        if queue:
            self.stdout.write(f"Queued a full rescore in {scores.queue_full_rescore()} chunks.")
            return
        self.stdout.write(f"Scored {scores.rescore_all()} companies.")
