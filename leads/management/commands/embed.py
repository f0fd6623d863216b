from django.core.management.base import BaseCommand

from leads.embedding import active
from leads.embedding import services as embeddings
from leads.models import Company
from leads.scoring import services as scores


class Command(BaseCommand):
    help = "Embed every company without a current vector: here and now, or --queue it for the workers."

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="store_true", help="send batches to the Celery workers instead")
        parser.add_argument(
            "--search-words",
            action="store_true",
            help="only read the search words of every embedded company again (after changing SEARCH_LANGUAGES)",
        )

    def handle(self, *args, queue, search_words, **options):
        if search_words:
            self.stdout.write(f"Read the search words of {embeddings.refill_search_words()} companies again.")
            return
        if queue:
            self.stdout.write(f"Queued {embeddings.queue_pending_embeddings()} batches.")
            return
        ids = list(Company.objects.needing_embedding(active.model_name()).values_list("pk", flat=True))
        done = embeddings.embed_and_score(ids)
        scores.catch_up()
        self.stdout.write(f"Embedded {len(done)} companies; scores are up to date.")
