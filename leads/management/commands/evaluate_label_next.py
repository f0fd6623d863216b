"""Simulated reps on the 4,663 YC companies: label-next against the top of the list and random.

python manage.py evaluate_label_next [--profiles fintech ...] [--seeds 1 2 3] [--budgets 20 50 100]
    [--out docs/evaluation-label-next.png] [--json]

The companies are embedded once with the real model and cached (leads.bench.base); see
docs/evaluation.md for what the figures mean.
"""

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leads.bench import base, evaluation


class Command(BaseCommand):
    help = "How fast label-next teaches the kNN scorer, against the top of the list and random labels (simulated reps)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--profiles", nargs="+", choices=list(evaluation.PROFILES), default=list(evaluation.PROFILES)
        )
        parser.add_argument(
            "--strategies", nargs="+", choices=evaluation.STRATEGIES, default=list(evaluation.STRATEGIES)
        )
        parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
        parser.add_argument(
            "--budgets", nargs="+", type=int, default=[20, 50, 100], help="labels, seed labels included"
        )
        parser.add_argument("--every", type=int, default=5, help="label-next re-ranks after this many labels")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--out", type=Path, default=Path("docs/evaluation-label-next.png"))
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print every figure as JSON instead of the table"
        )

    def handle(self, *args, profiles, strategies, seeds, budgets, every, k, out, as_json, **options):
        try:
            import matplotlib  # noqa: F401
            import sklearn  # noqa: F401
        except ImportError:
            raise CommandError(
                "evaluate_label_next needs scikit-learn and matplotlib: pip install -e '.[dev]'"
            ) from None

        if not base.YC_CSV.exists():
            raise CommandError(f"{base.YC_CSV}: not found (the YC directory with its tags is what the profiles need)")
        companies = base.load(None, log=self.stderr.write)
        tags = evaluation.read_tags(base.YC_CSV)
        if len(tags) != len(companies):
            raise CommandError(f"{len(tags)} rows of tags for {len(companies)} embedded companies")
        targets = evaluation.targets(tags, [evaluation.PROFILES[name] for name in profiles])
        prevalence = {name: float(liked.mean()) for name, liked in targets.items()}
        prevalence["all"] = sum(prevalence.values()) / len(prevalence)
        started = time.perf_counter()
        measurements = evaluation.evaluate(
            companies.vectors, targets, strategies=strategies, seeds=seeds, budgets=budgets, k=k, every=every,
            log=self.stderr.write,
        )  # fmt: skip
        summary = evaluation.summarise(measurements)
        evaluation.draw(summary, out, prevalence=prevalence)
        config = {"companies": len(companies), "source": companies.source, "seeds": seeds, "budgets": budgets,
                  "every": every, "k": k, "prevalence": prevalence, "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
        if as_json:
            self.stdout.write(json.dumps(evaluation.as_json(measurements, summary, **config), indent=1))
            return
        self.stdout.write(evaluation.format_table(summary, prevalence))
        if "label-next" in strategies and len(strategies) > 1:
            self.stdout.write("\n" + evaluation.format_paired(evaluation.paired(measurements)))
        self.stdout.write(f"\n{len(companies):,} companies, seeds {seeds}, {config['seconds']} s; plot: {out}")
