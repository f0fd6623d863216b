import time

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from leads.embedding import active
from leads.embedding import encoders as embedding
from leads.embedding import services as embeddings
from leads.embedding import switching as encoders
from leads.models import Company
from leads.scoring import services as scores


class Command(BaseCommand):
    help = (
        "Move scoring to another encoder without downtime: every company is embedded with it in the"
        " background (old scores stay visible), then scoring switches over in one step and the old"
        " vectors are dropped. NAME: minilm, multilingual, or a sentence-transformers model."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "name", help=f"the encoder: {', '.join(embedding.ENCODERS)} or a sentence-transformers model"
        )
        parser.add_argument(
            "--here", action="store_true", help="embed in this process instead of waiting for the workers"
        )
        parser.add_argument("--no-wait", action="store_true", help="start the switch and return; the workers finish it")
        parser.add_argument("--every", type=float, default=5.0, help="seconds between progress lines (default 5)")

    def handle(self, *args, name, here, no_wait, every, **options):
        try:
            encoders.start(name)
        except (encoders.SwitchError, ImproperlyConfigured) as problem:
            raise CommandError(str(problem)) from problem
        self.stdout.write(
            f"Embedding every company with {name!r} in the background; scores stay as they are meanwhile."
        )
        if no_wait:
            self.stdout.write("Follow it on any import's progress page, or run this command again to wait.")
            return
        while not encoders.finish():
            if active.target() is None:
                raise CommandError("The switch was called off (another switch_model started).")
            self._report()
            if here:
                self._embed_a_batch()
            else:
                time.sleep(every)
        self.stdout.write(self.style.SUCCESS(f"Switched: scores, search and similar companies now use {name!r}."))
        if here:
            scores.catch_up()
            self.stdout.write("Every company is rescored.")
        else:
            self.stdout.write("A full rescore is under way on the workers.")

    def _report(self) -> None:
        progress = active.progress()
        self.stdout.write(
            f"  {progress.embedded:,} of {progress.total:,} companies embedded with {progress.target!r} ({progress.percent}%)"
        )

    @staticmethod
    def _embed_a_batch() -> None:
        spec = active.target()
        if spec is None:
            return
        ids = Company.objects.needing_embedding(spec.stored_name).values_list("pk", flat=True)
        embeddings.embed_companies(list(ids[: active.batch_size(spec) * 8]), target=True)
