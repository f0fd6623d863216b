"""Benchmark embedding: companies through the whole pipeline against a bare encode; one JSON object out.

    python manage.py bench_embedding --companies 1000 --workers 2 [--labels 50] [--seed 7] [--json-only]

Embeds a sample of real companies (../shared/data, else the demo CSV) through the queue, real
`celery -A leads worker` processes and its own throw-away database (default leads_bench_embedding,
in the same Postgres server; never the app's), and encodes the same texts in the same batches
in this process. `ratio` is pipeline_per_s / bare_per_s. Progress goes to stderr; the figures
are the last line of stdout (docs/benchmarks.md says what each means)."""

import json

from django.core.management.base import BaseCommand

from leads.bench import embedding, progress_log, rounded


class Command(BaseCommand):
    help = "Benchmark embedding: the whole pipeline (queue, workers, database) against a bare encode."

    def add_arguments(self, parser):
        parser.add_argument("--companies", type=int, default=1000, help="companies timed")
        parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
        parser.add_argument(
            "--labels", type=int, default=50, help="labelled companies the timed ones are scored against"
        )
        parser.add_argument("--seed", type=int, default=7, help="which companies are sampled")
        parser.add_argument(
            "--database", default="leads_bench_embedding", help="the benchmark's database (name has 'bench')"
        )
        parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the workers")
        parser.add_argument("--bare-only", action="store_true", help="the encoder alone: no database, queue or worker")
        parser.add_argument("--json-only", action="store_true", help="print only the JSON object on stdout")

    def handle(self, *args, **options):
        log = progress_log(options["verbosity"])

        figures = embedding.run(
            companies=options["companies"],
            workers=options["workers"],
            labelled=options["labels"],
            seed=options["seed"],
            database_name=options["database"],
            timeout_s=options["timeout"],
            bare_only=options["bare_only"],
            log=log,
        )
        if not options["json_only"]:
            for key in ("pipeline_per_s", "bare_per_s", "ratio"):
                if key in figures:
                    self.stdout.write(f"{key:>16}: {figures[key]:.3g}")
        self.stdout.write(json.dumps(rounded(figures)))
