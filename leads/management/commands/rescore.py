from django.core.management.base import BaseCommand

from leads.scoring import services as scores


class Command(BaseCommand):
    help = "Recompute every score: here and now (no worker needed), or --queue chunk tasks for the workers."

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="store_true", help="split into chunk tasks that every worker shares")

    def handle(self, *args, queue, **options):
        if queue:
            chunks = sum(scores.queue_full_rescore(profile_id) for profile_id in scores.scoring_profiles())
            self.stdout.write(f"Queued a full rescore in {chunks} chunks.")
            return
        scored = sum(scores.rescore_all(profile_id) for profile_id in scores.scoring_profiles())
        self.stdout.write(f"Scored {scored} companies.")
