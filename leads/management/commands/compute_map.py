from django.core.management.base import BaseCommand, CommandError

from leads.core.queue import send
from leads.map import services as maps


class Command(BaseCommand):
    help = "Place companies on the map: those without a point, here and now (--refit: redraw it), or --queue it."

    def add_arguments(self, parser):
        parser.add_argument("--refit", action="store_true", help="fit a new projection and place every company")
        parser.add_argument("--method", choices=maps.METHODS, default="auto", help="auto: UMAP if installed, else PCA")
        parser.add_argument("--queue", action="store_true", help="send a leads.compute_map task to the workers")

    def handle(self, *args, refit, method, queue, **options):
        if queue:
            self.stdout.write("Queued leads.compute_map." if send("leads.compute_map") else "Could not queue it.")
            return
        try:
            run = maps.compute_map(refit=refit, method=method)
        except maps.MapError as error:
            raise CommandError(str(error)) from None
        if run is None:
            self.stdout.write("Another compute_map is running: it places the companies.")
            return
        redrawn = f", redrawn with a new {run.method.upper()} projection" if run.refitted else ""
        self.stdout.write(
            f"Placed {run.placed:,} companies, dropped {run.dropped:,} stale points{redrawn} ({run.seconds:.1f} s)."
        )
