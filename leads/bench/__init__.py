"""The benchmark harnesses behind `manage.py bench_scoring`, `bench_plot` and `bench_embedding`.

Not imported by the app: they build throw-away databases (noisy copies of real company
embeddings, or real companies for the embedding pipeline) and time the real services, pages and
queries against them (docs/benchmarks.md). What the commands share is here."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def progress_log(verbosity: int) -> Callable[[str], None]:
    """A logger to stderr that stamps each line with the seconds since it was made (silent at -v 0)."""
    started = time.perf_counter()

    def log(message: str) -> None:
        if verbosity:
            print(f"[{time.perf_counter() - started:7.1f} s] {message}", file=sys.stderr, flush=True)

    return log


def rounded(value):
    """Four significant digits, in nested dicts and lists too: the noise between runs is larger."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value
