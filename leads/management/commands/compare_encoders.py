"""Encoders side by side on the same real companies: throughput, load time, peak memory, and how
near and how good the other encoders' vectors are against the first's; one JSON object out.

    python manage.py compare_encoders --companies 1000 [--batch 32] [--encoders minilm,minilm-int8]
        [--rounds 2] [--seeds 1 2 3 4 5] [--labels 50] [--k 10] [--sample-seed 7] [--data FILE]

The companies are a sample of ../shared/data's YC directory (else the demo CSV), or of the file
--data names (leads/bench/data: activity descriptions in other languages, with section labels).
Each encoder runs in a child process of its own (leads.bench.encoder_comparison says how).
Progress goes to stderr; the figures are the last line of stdout."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leads.bench import encoder_comparison, progress_log, rounded


class Command(BaseCommand):
    help = "Compare encoders on the same companies: throughput, cosine to the first, kNN ranking quality."

    def add_arguments(self, parser):
        parser.add_argument(
            "--companies", type=int, help="companies encoded by each encoder (default 1000; with --data, every row)"
        )
        parser.add_argument("--batch", type=int, default=32, help="texts per encode call")
        parser.add_argument(
            "--encoders", default="minilm,minilm-int8", help="comma-separated; the first is the reference"
        )
        parser.add_argument("--rounds", type=int, default=2, help="timed encodes per encoder, order alternating")
        parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5], help="simulated reps' seeds")
        parser.add_argument("--labels", type=int, default=50, help="labels revealed per profile and seed")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--sample-seed", type=int, default=7, help="which companies are sampled")
        parser.add_argument(
            "--data",
            type=Path,
            help="an evaluation file with labels of its own (leads/bench/data/*.csv: name, description, labels)"
            " instead of the YC directory; a simulated rep per common label",
        )

    def handle(self, *args, **options):
        names = [name.strip() for name in options["encoders"].split(",") if name.strip()]
        if len(names) < 2 or len(set(names)) != len(names):
            raise CommandError("--encoders needs at least two different encoders, e.g. minilm,minilm-int8")
        if options["batch"] < 1 or options["rounds"] < 1 or options["k"] < 1:
            raise CommandError("--batch, --rounds and --k must be at least 1")
        try:
            import sklearn  # noqa: F401  (leads.bench.evaluation's ROC AUC)
        except ImportError:
            raise CommandError("compare_encoders needs scikit-learn: pip install -e '.[dev]'") from None
        figures = encoder_comparison.run(
            companies=options["companies"],
            batch=options["batch"],
            encoders=names,
            rounds=options["rounds"],
            seeds=options["seeds"],
            labels=options["labels"],
            k=options["k"],
            sample_seed=options["sample_seed"],
            data=options["data"],
            log=progress_log(options["verbosity"]),
        )
        self.stdout.write(json.dumps(rounded(figures)))
