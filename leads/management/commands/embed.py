from django.core.management.base import BaseCommand

from leads.embedding import active
from leads.embedding import services as embeddings
from leads.models import Company
from leads.scoring import services as scores


class Command(BaseCommand):
    help = "Embed every company without a current vector: here and now, or --queue it for the workers."

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="store_true", help="send batches to the Celery workers instead")

    def handle(self, *args, queue, **options):
        if queue:
            self.stdout.write(f"Queued {embeddings.queue_pending_embeddings()} batches.")
            return
        ids = list(Company.objects.needing_embedding(active.model_name()).values_list("pk", flat=True))
        done = embeddings.embed_and_score(ids)
        scores.catch_up()
        self.stdout.write(f"Embedded {len(done)} companies; scores are up to date.")
