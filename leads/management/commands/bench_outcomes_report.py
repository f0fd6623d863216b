"""Benchmark the outcomes report: `--companies` scored companies in `--days` daily snapshots and
`--deals` decided deals; the report read from the snapshots and with each deal's band kept. One
JSON object on the last line of stdout (docs/benchmarks.md)."""

import json

from django.core.management.base import BaseCommand

from leads.bench import outcomes, progress_log, rounded


class Command(BaseCommand):
    help = "Benchmark the 'Does it find customers?' report at a team's size."

    def add_arguments(self, parser):
        parser.add_argument("--companies", type=int, default=1_000_000, help="scored companies a snapshot holds")
        parser.add_argument("--days", type=int, default=90, help="daily snapshots the deals close over")
        parser.add_argument("--deals", type=int, default=2_000, help="decided deals")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--database", default="leads_bench_outcomes", help="the benchmark's database ('bench' in it)"
        )

    def handle(self, *args, **options):
        figures = outcomes.run(
            companies=options["companies"],
            days=options["days"],
            deals=options["deals"],
            database_name=options["database"],
            seed=options["seed"],
            log=progress_log(options["verbosity"]),
        )
        self.stdout.write(json.dumps(rounded(figures)))
