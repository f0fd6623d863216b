"""Draw bench_scoring results against N, log-log, one panel per kind of figure, targets dotted."""

from __future__ import annotations

import json
from pathlib import Path

TARGET_N = 1_000_000
# (panel title, unit, [(key, label)], [(target value at 1M, label)])
PANELS = [
    ("Full rescore and in-memory baselines", "s", [
        ("full_rescore_s", "full rescore, database to database"), ("knn_scores_in_memory_s", "leads.scoring.knn in memory"),
        ("numpy_floor_s", "numpy floor"), ("sklearn_s", "scikit-learn"),
    ], [(60, "full rescore target")]),
    ("Full rescore / numpy floor", "ratio", [("ratio_full_to_floor", "ratio")], [(2.0, "target")]),
    ("One label change, saved to scores written", "s", [
        ("incremental_p50_s", "p50"), ("incremental_p95_s", "p95"), ("incremental_max_s", "max"),
    ], [(2.0, "p95 target")]),
    ("Pages and queries, p95", "ms", [
        ("dashboard_p95_ms", "dashboard"), ("search_p95_ms", "search"), ("company_page_p95_ms", "company page"),
        ("similar_p95_ms", "similar companies"),
    ], [(100, "page target"), (20, "similar target")]),
    ("Filling the benchmark database", "s", [("fill_s", "COPY companies + vectors"), ("hnsw_build_s", "HNSW build")], []),
    ("Peak RSS of the benchmark process", "MB", [
        ("peak_rss_mb_db_path", "database path"), ("peak_rss_mb", "with in-memory baselines"),
    ], [(4000, "target")]),
]  # fmt: skip


def load(path: Path) -> list[dict]:
    """The last result for each N, in order of N."""
    by_size = {}
    for line in path.read_text().splitlines():
        if line.strip():
            result = json.loads(line)
            by_size[result["companies"]] = result
    return [by_size[n] for n in sorted(by_size)]


def draw(results: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, 2, figsize=(12, 13))
    for ax, (title, unit, series, targets) in zip(axes.flat, PANELS):
        for key, label in series:
            points = [(r["companies"], r[key]) for r in results if r.get(key)]
            if points:
                ax.plot(*zip(*points), marker="o", label=label)
        for value, label in targets:  # the targets hold at N = 1M: a dotted line, and a star there
            ax.axhline(value, linestyle=":", color="grey")
            ax.plot([TARGET_N], [value], marker="*", markersize=12, color="grey", linestyle="none")
            ax.annotate(f"{label} at 1M", (0.02, value), xycoords=("axes fraction", "data"), fontsize=8, color="grey")
        ax.set(xscale="log", yscale="log", title=title, xlabel="companies (N)", ylabel=unit, xlim=(5e3, 2e6))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    labels = sorted({(r["labels"], r["k"]) for r in results})
    figure.suptitle("bench_scoring: " + ", ".join(f"L = {lab:,}, k = {k}" for lab, k in labels))
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
