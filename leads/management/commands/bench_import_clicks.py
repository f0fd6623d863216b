"""Benchmark verdicts during an import: click → changed scores, and what clicks cost the import.

    python manage.py bench_import_clicks --companies 100000 [--click-every 2] [--rounds 1] [--json-only]

On its own throw-away database (default leads_bench_import_clicks, in the same Postgres server)
and Redis, with a bulk worker and an interactive worker as `make run` starts them: clicks with
nothing running, then imports of --companies companies alone and with a rep clicking every
--click-every seconds. Prints p50/p95 of click → changed scores (idle and during the import)
beside the import's embedding throughput alone and with clicks. Progress goes to stderr; the
figures are the last line of stdout (docs/benchmarks.md)."""

import json

from django.core.management.base import BaseCommand

from leads.bench import import_clicks, progress_log, rounded


class Command(BaseCommand):
    help = "Benchmark verdicts during an import: click-to-scores latency and the import's throughput."

    def add_arguments(self, parser):
        parser.add_argument("--companies", type=int, default=100_000, help="companies in each import")
        parser.add_argument("--click-every", type=float, default=2.0, help="seconds between a rep's clicks")
        parser.add_argument("--idle-clicks", type=int, default=30, help="clicks timed with nothing else running")
        parser.add_argument("--labels", type=int, default=50, help="companies labelled before the first click")
        parser.add_argument(
            "--rounds", type=int, default=1, help="pairs of imports (alone, with clicks), the order alternating"
        )
        parser.add_argument("--seed", type=int, default=7, help="which companies are labelled and clicked")
        parser.add_argument(
            "--database", default="leads_bench_import_clicks", help="the benchmark's database (name has 'bench')"
        )
        parser.add_argument("--timeout", type=float, default=7200, help="seconds to wait for one import")
        parser.add_argument("--json-only", action="store_true", help="print only the JSON object on stdout")

    def handle(self, *args, **options):
        figures = import_clicks.run(
            companies=options["companies"],
            click_every=options["click_every"],
            idle_clicks=options["idle_clicks"],
            labelled=options["labels"],
            rounds=options["rounds"],
            seed=options["seed"],
            database_name=options["database"],
            timeout_s=options["timeout"],
            log=progress_log(options["verbosity"]),
        )
        if not options["json_only"]:
            for key in ("idle", "during_import"):
                self.stdout.write(
                    f"click -> scores {key}: p50 {figures[key]['p50']:.2f} s, p95 {figures[key]['p95']:.2f} s"
                )
            self.stdout.write(
                f"import: {figures['alone_per_s']:.1f}/s alone, {figures['with_clicks_per_s']:.1f}/s with clicks"
                f" ({figures['slowdown']:+.1%} slower)"
            )
        self.stdout.write(json.dumps(rounded(figures)))
