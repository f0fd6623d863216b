from django.core.management.base import BaseCommand

from leads.services.scores import rescore_all


class Command(BaseCommand):
    help = "Recompute every score now, synchronously (no worker needed)."

    def handle(self, *args, **options):
        self.stdout.write(f"Scored {rescore_all()} companies.")
