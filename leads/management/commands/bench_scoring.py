"""Benchmark the scoring path at N companies in a throw-away database; one JSON object out.

    python manage.py bench_scoring --companies 100000 --labels 1000 --k 10 [--seed 7] [--json-only]
    python manage.py bench_scoring --companies 100000 --labels 1000 --profiles 5   # several profiles (issue #28)

Fills its own database (default leads_bench, in the same Postgres server; never the app's) with
N noisy copies of really embedded companies, then times the full rescore database to database,
single label changes (incremental rescore), the dashboard, search, company and similar-company
queries, and the same scores in memory (numpy floor, scikit-learn). With --profiles P, then P - 1
more profiles of L labels each: label changes in each while the others' reps label, a full rescore
of one against its numpy floor, the pages in another profile, the in-memory thresholds and the
scores' disk per profile (leads/bench/multi_profile.py). Progress goes to stderr; the figures are
the last line of stdout (docs/benchmarks.md says what each means)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leads.bench import progress_log, rounded, scoring


class Command(BaseCommand):
    help = "Benchmark scoring (full and incremental rescore, pages, similar companies) at N companies."

    def add_arguments(self, parser):
        parser.add_argument("--companies", type=int, default=100_000, help="N, the companies to fill")
        parser.add_argument("--labels", type=int, default=1_000, help="L, the companies labelled")
        parser.add_argument("--k", type=int, default=10, help="neighbours per score")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--json-only", action="store_true", help="print only the JSON object on stdout")
        parser.add_argument("--database", default="leads_bench", help="the benchmark's database (name has 'bench')")
        parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
        parser.add_argument(
            "--reuse", action="store_true", help="reuse a database filled for the same N and seed; keep it"
        )
        parser.add_argument(
            "--base-vectors", type=Path, help=".npy of base vectors to copy (tests); default: real companies, embedded"
        )
        parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
        parser.add_argument("--changes", type=int, default=20, help="label changes of each kind")
        parser.add_argument("--similar-queries", type=int, default=50, help="companies to find similar ones for")
        parser.add_argument("--repeats", type=int, default=3, help="in-memory timings: best of this many runs")
        parser.add_argument("--profiles", type=int, default=1, help="P, ideal-customer profiles of L labels each")
        parser.add_argument(
            "--other-verdict-every",
            type=float,
            default=2.0,
            help="with --profiles: seconds between the other profiles' verdicts while one profile's are timed",
        )

    def handle(self, *args, **options):
        log = progress_log(options["verbosity"])
        if options["profiles"] < 1 or options["other_verdict_every"] <= 0:
            raise CommandError("--profiles must be at least 1, --other-verdict-every above 0")

        figures = scoring.run(
            companies=options["companies"],
            labels_count=options["labels"],
            k=options["k"],
            seed=options["seed"],
            database_name=options["database"],
            reuse=options["reuse"],
            keep=options["keep"],
            base_vectors=options["base_vectors"],
            requests=options["requests"],
            changes=options["changes"],
            similar_queries=options["similar_queries"],
            repeats=options["repeats"],
            log=log,
            profiles_count=options["profiles"],
            other_verdict_every=options["other_verdict_every"],
        )
        if not options["json_only"]:
            for key in ("full_rescore_s", "numpy_floor_s", "ratio_full_to_floor", "incremental_p95_s"):
                self.stdout.write(f"{key:>24}: {figures[key]:.3g}")
            if options["profiles"] > 1:
                self._profiles_summary(figures)
        self.stdout.write(json.dumps(rounded(figures)))

    def _profiles_summary(self, figures: dict) -> None:
        worst, memory, disk = figures["profiles_worst"], figures["thresholds_memory"], figures["score_disk"]
        lines = {
            "worst incremental_p95_s": worst["incremental_p95_s"],
            "profile ratio to floor": figures["profile_full_rescore"]["ratio_full_to_floor"],
            "worst page p95_ms": worst["page_p95_ms"],
            "thresholds MB": memory["after_labelling"]["bytes"] / 1e6,
            "scores MB per profile": disk["bytes_per_profile"] / 1e6,
        }
        for key, value in lines.items():
            self.stdout.write(f"{key:>24}: {value:.3g}")
