"""Plot bench_scoring results (JSON lines) against N on log-log axes.

python manage.py bench_plot docs/bench-results.jsonl --out docs/benchmarks-scoring.png
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leads.bench import plot


class Command(BaseCommand):
    help = "Plot bench_scoring results (one JSON object per line) against the number of companies."

    def add_arguments(self, parser):
        parser.add_argument("results", type=Path, help="JSONL file, one bench_scoring result per line")
        parser.add_argument("--out", type=Path, default=Path("docs/benchmarks-scoring.png"))

    def handle(self, *args, results, out, **options):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CommandError("bench_plot needs matplotlib: pip install -e '.[dev]'") from None
        if not results.exists():
            raise CommandError(f"{results}: no such file")
        runs = plot.load(results)
        if not runs:
            raise CommandError(f"{results}: no results")
        plot.draw(runs, out)
        sizes = ", ".join(f"{run['companies']:,}" for run in runs)
        self.stdout.write(f"{out}: {len(runs)} sizes ({sizes})")
