"""Does labelling what label-next suggests teach the scorer faster than labelling the top of the
list (what reps do) or at random? A simulated rep, for `manage.py evaluate_label_next`.

Pure numpy and scikit-learn, no Django: the command hands it the real embeddings of the YC
companies and, per target profile, which of them a rep with that profile likes (from their tags).

For each profile and seed, one setup shared by every strategy: a held-out test set (a quarter of
the companies, never labelled) and a few seed labels (SEED_LIKES likes, SEED_DISLIKES dislikes).
Then the rep labels one company at a time, chosen by the strategy, and the kNN scores (k = 10, as
in the app) are measured after each budget of labels (seeds included):

- on the held-out test set, the same companies for every strategy (the headline figures);
- on every company not labelled yet (`*_unlabelled`): what a rep sees, but a strategy that labels
  the easy likes (top of the list) also removes them from what it is measured on.

Metrics: ROC AUC (does a like score above a dislike) and average precision (how well the likes
come first: the dashboard's order), both from scikit-learn."""

from __future__ import annotations

import ast
import csv
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from leads.labelnext import choice as labelnext
from leads.scoring.knn import knn_scores, normalise_rows

SEED_LIKES, SEED_DISLIKES = 2, 3
TEST_FRACTION = 0.25
STRATEGIES = ("label-next", "top-of-list", "random")


@dataclass(frozen=True)
class Profile:
    """What a sales team is after, over YC tags: liked iff the company has one of `any_of` (when
    given) and all of `all_of`."""

    name: str
    any_of: frozenset[str] = frozenset()
    all_of: frozenset[str] = frozenset()

    def likes(self, tags: Iterable[str]) -> bool:
        tags = set(tags)
        return (not self.any_of or bool(self.any_of & tags)) and self.all_of <= tags


PROFILES = {
    profile.name: profile
    for profile in (
        Profile("fintech", frozenset({
            "fintech", "payments", "neobank", "banking-as-a-service", "finance", "consumer-finance", "insurance",
            "lending", "investing", "investments", "payroll", "finops",
        })),
        Profile("developer-tools", frozenset({
            "developer-tools", "open-source", "api", "apis", "devops", "devsecops", "infrastructure", "databases",
            "data-engineering", "cloud-computing",
        })),
        Profile("healthcare", frozenset({
            "healthcare", "health-tech", "digital-health", "consumer-health-services", "healthcare-it", "telehealth",
            "telemedicine", "mental-health-tech", "mental-health", "biotech", "biotechnology", "therapeutics",
            "gene-therapy", "cell-therapy", "diagnostics", "medical-devices", "health-insurance", "primary-care",
        })),
        Profile("b2b-saas", all_of=frozenset({"b2b", "saas"})),
        Profile("climate", frozenset({
            "climate", "climatetech", "energy", "renewable-energy", "energy-storage", "hydrogen-energy",
            "carbon-capture-and-removal", "sustainability",
        })),
    )
}  # fmt: skip


def read_tags(path: Path) -> list[frozenset[str]]:
    """The tags of each row of the YC directory CSV, in file order (leads.bench.base's order)."""
    with path.open(newline="", encoding="utf-8") as stream:
        return [frozenset(ast.literal_eval(row["tags"] or "[]")) for row in csv.DictReader(stream)]


def read_labelled(path: Path) -> tuple[list[str], list[str], list[frozenset[str]]]:
    """An evaluation file of companies with labels of their own (leads/bench/data: the non-English
    sets): UTF-8 CSV with columns name, description, labels (sectors or tags, `;` between them).
    Returns the names, descriptions and labels, in file order."""
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        missing = {"name", "description", "labels"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} has no column {', '.join(sorted(missing))} (it needs name, description, labels)")
        rows = [row for row in reader if (row["description"] or "").strip()]
    labels = [frozenset(part.strip() for part in (row["labels"] or "").split(";") if part.strip()) for row in rows]
    return [row["name"].strip() for row in rows], [row["description"].strip() for row in rows], labels


def write_labelled(path: Path, rows: Iterable[tuple[str, str, Iterable[str]]]) -> None:
    """Write an evaluation file read_labelled reads: (name, description, labels) a row."""
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["name", "description", "labels"])
        writer.writerows([name, description, ";".join(labels)] for name, description, labels in rows)


def label_profiles(
    labels: list[frozenset[str]], *, count: int = 5, min_companies: int = 20, max_share: float = 0.35
) -> list[Profile]:
    """A simulated rep per label, for a file without hand-made profiles: the rep likes the
    companies with that label. The `count` most common labels that at least `min_companies`
    have and at most `max_share` of the companies (a profile liking most companies says little)."""
    counts = Counter(label for company in labels for label in company)
    usable = [label for label, n in counts.items() if n >= min_companies and n <= max_share * len(labels)]
    usable.sort(key=lambda label: (-counts[label], label))
    return [Profile(label, frozenset({label})) for label in usable[:count]]


def targets(tags: list[frozenset[str]], profiles: Iterable[Profile]) -> dict[str, np.ndarray]:
    """Per profile, (n,) bool: which companies its rep likes."""
    return {profile.name: np.array([profile.likes(t) for t in tags], dtype=bool) for profile in profiles}


@dataclass(frozen=True)
class Measurement:
    profile: str
    strategy: str
    seed: int
    labels: int  # labelled so far, seed labels included
    likes_found: int  # of them, liked
    auc: float  # on the held-out test set
    ap: float
    auc_unlabelled: float  # on every company not labelled
    ap_unlabelled: float


@dataclass(frozen=True)
class Setup:
    """What every strategy shares for one profile and seed."""

    test: np.ndarray  # (t,) rows never labelled, measured on
    seeds: np.ndarray  # rows labelled first
    random_order: np.ndarray  # the pool (neither test nor seed) shuffled: the random strategy's order


def setup(liked: np.ndarray, *, profile: str, seed: int) -> Setup:
    rng = np.random.default_rng([seed, zlib.crc32(profile.encode())])
    n = len(liked)
    test = np.zeros(n, dtype=bool)
    test[rng.choice(n, int(round(TEST_FRACTION * n)), replace=False)] = True
    likes, dislikes = np.flatnonzero(liked & ~test), np.flatnonzero(~liked & ~test)
    seeds = np.concatenate(
        [rng.choice(likes, SEED_LIKES, replace=False), rng.choice(dislikes, SEED_DISLIKES, replace=False)]
    )
    pool = np.setdiff1d(np.flatnonzero(~test), seeds)
    return Setup(test=np.flatnonzero(test), seeds=seeds, random_order=rng.permutation(pool))


def simulate(
    vectors: np.ndarray,
    liked: np.ndarray,
    *,
    profile: str,
    strategy: str,
    seed: int,
    budgets: Iterable[int],
    k: int = 10,
    every: int = 5,
) -> list[Measurement]:
    """One simulated rep: the seed labels, then one label at a time chosen by `strategy`, measured
    at each budget. label-next re-ranks every `every` labels (and labels its picks in order)."""
    budgets = sorted(set(budgets))
    plan = setup(liked, profile=profile, seed=seed)
    if budgets[0] < len(plan.seeds):
        raise ValueError(f"budgets start at the {len(plan.seeds)} seed labels, got {budgets[0]}")
    y = np.where(liked, 1.0, -1.0)
    candidate = np.ones(len(liked), dtype=bool)
    candidate[plan.test] = candidate[plan.seeds] = False
    labelled, queue, measurements = list(plan.seeds), [], []
    random_order = iter(plan.random_order.tolist())
    while True:
        if len(labelled) in budgets:
            measurements.append(_measure(vectors, liked, y, labelled, plan.test, profile, strategy, seed, k))
        if len(labelled) >= budgets[-1] or not candidate.any():
            return measurements
        if not queue:
            queue = _choose(strategy, vectors, y, labelled, candidate, random_order, k, every, seed)
        row = queue.pop(0)
        labelled.append(row)
        candidate[row] = False


def _choose(strategy, vectors, y, labelled, candidate, random_order, k, every, seed) -> list[int]:
    pool = np.flatnonzero(candidate)
    if strategy == "random":
        return [next(row for row in random_order if candidate[row])]
    if strategy == "top-of-list":  # the highest score; ties by row
        values = knn_scores(vectors[pool], vectors[labelled], y[labelled], k).values
        return [int(pool[np.lexsort((pool, -values))[0]])]
    if strategy == "label-next":
        ranking = labelnext.rank(
            vectors[pool], vectors[labelled], y[labelled], limit=every, k=k, seed=seed + len(labelled)
        )
        return pool[ranking.rows].tolist()
    raise ValueError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")


def _measure(vectors, liked, y, labelled, test, profile, strategy, seed, k) -> Measurement:
    from sklearn.metrics import average_precision_score, roc_auc_score

    unlabelled = np.setdiff1d(np.arange(len(liked)), labelled)
    values = knn_scores(vectors[unlabelled], vectors[labelled], y[labelled], k).values
    on_test = np.isin(unlabelled, test)
    figures = {}
    for name, rows in (("", on_test), ("_unlabelled", slice(None))):
        truth, predicted = liked[unlabelled][rows], values[rows]
        figures[f"auc{name}"] = float(roc_auc_score(truth, predicted))
        figures[f"ap{name}"] = float(average_precision_score(truth, predicted))
    return Measurement(profile, strategy, seed, len(labelled), int(liked[labelled].sum()), **figures)


def evaluate(
    vectors: np.ndarray,
    targets: dict[str, np.ndarray],
    *,
    strategies: Iterable[str] = STRATEGIES,
    seeds: Iterable[int] = (1, 2, 3),
    budgets: Iterable[int] = (20, 50, 100),
    k: int = 10,
    every: int = 5,
    log: Callable[[str], None] = lambda line: None,
) -> list[Measurement]:
    """Every profile x seed x strategy, measured at every budget."""
    vectors = normalise_rows(vectors)
    measurements = []
    for profile, liked in targets.items():
        for seed in seeds:
            for strategy in strategies:
                measurements += simulate(
                    vectors, liked, profile=profile, strategy=strategy, seed=seed, budgets=budgets, k=k, every=every
                )
            log(f"{profile}, seed {seed}: done")
    return measurements


def summarise(measurements: list[Measurement]) -> list[dict]:
    """Means over seeds per (profile, strategy, labels), then the same over profiles as "all"."""
    figures = ("likes_found", "auc", "ap", "auc_unlabelled", "ap_unlabelled")
    groups: dict[tuple, list[Measurement]] = {}
    for m in measurements:
        groups.setdefault((m.profile, m.strategy, m.labels), []).append(m)
    for m in measurements:  # after every profile
        groups.setdefault(("all", m.strategy, m.labels), []).append(m)
    return [
        {"profile": profile, "strategy": strategy, "labels": labels, "runs": len(runs)}
        | {f: float(np.mean([getattr(m, f) for m in runs])) for f in figures}
        | {f"{f}_sd": float(np.std([getattr(m, f) for m in runs])) for f in ("auc", "ap")}
        for (profile, strategy, labels), runs in groups.items()
    ]


def paired(measurements: list[Measurement], strategy: str = "label-next") -> list[dict]:
    """`strategy` against each other strategy on the same profile, seed and budget (the same seed
    labels and test set): in how many runs its AUC and AP are higher, and by how much on average."""
    by_key = {(m.profile, m.strategy, m.seed, m.labels): m for m in measurements}
    others = [s for s in dict.fromkeys(m.strategy for m in measurements) if s != strategy]
    rows = []
    for other in others:
        for labels in sorted({m.labels for m in measurements}):
            pairs = [
                (m, by_key[(m.profile, other, m.seed, labels)])
                for m in measurements
                if m.strategy == strategy and m.labels == labels and (m.profile, other, m.seed, labels) in by_key
            ]
            row = {"strategy": strategy, "against": other, "labels": labels, "runs": len(pairs)}
            for figure in ("auc", "ap"):
                row[f"{figure}_wins"] = sum(getattr(a, figure) > getattr(b, figure) for a, b in pairs)
                row[f"{figure}_gain"] = float(np.mean([getattr(a, figure) - getattr(b, figure) for a, b in pairs]))
            rows.append(row)
    return rows


def format_paired(rows: list[dict]) -> str:
    return "\n".join(
        f"{r['strategy']} against {r['against']} at {r['labels']} labels: AUC higher in {r['auc_wins']} of "
        f"{r['runs']} runs ({r['auc_gain']:+.3f} on average), AP in {r['ap_wins']} ({r['ap_gain']:+.3f})"
        for r in rows
    )


def format_table(summary: list[dict], prevalence: dict[str, float]) -> str:
    """One line per profile and strategy: AUC and AP at each budget (means over seeds)."""
    budgets = sorted({row["labels"] for row in summary})
    by_key = {(row["profile"], row["strategy"], row["labels"]): row for row in summary}
    profiles = list(dict.fromkeys(row["profile"] for row in summary))
    strategies = list(dict.fromkeys(row["strategy"] for row in summary))
    head = ["profile (liked)", "strategy"] + [f"AUC@{b}" for b in budgets] + [f"AP@{b}" for b in budgets]
    head += [f"likes@{budgets[-1]}"]
    lines = [head]
    for profile in profiles:
        share = f" ({prevalence[profile]:.0%})" if profile in prevalence else ""
        for strategy in strategies:
            rows = [by_key[(profile, strategy, b)] for b in budgets]
            lines.append(
                [profile + share, strategy] + [f"{r['auc']:.3f}" for r in rows] + [f"{r['ap']:.3f}" for r in rows]
                + [f"{rows[-1]['likes_found']:.1f}"]
            )  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def draw(summary: list[dict], out: Path, *, prevalence: dict[str, float], title: str = "") -> None:
    """AUC and AP against labels, one column per profile (and all profiles), one line per strategy."""
    import matplotlib

    matplotlib.use("Agg")  # no display
    import matplotlib.pyplot as plt

    profiles = list(dict.fromkeys(row["profile"] for row in summary))
    strategies = list(dict.fromkeys(row["strategy"] for row in summary))
    figure, axes = plt.subplots(2, len(profiles), figsize=(3.2 * len(profiles), 6.4), squeeze=False, sharex=True)
    for column, profile in enumerate(profiles):
        for row, (metric, name) in enumerate((("auc", "ROC AUC"), ("ap", "average precision"))):
            ax = axes[row, column]
            for strategy in strategies:
                points = sorted((r["labels"], r[metric], r[f"{metric}_sd"]) for r in summary
                                if r["profile"] == profile and r["strategy"] == strategy)  # fmt: skip
                x, y, sd = (np.array(v) for v in zip(*points))
                ax.plot(x, y, marker="o", label=strategy)
                if profile != "all":  # over profiles, the spread is between profiles, not seeds
                    ax.fill_between(x, y - sd, y + sd, alpha=0.15)
            if metric == "ap" and profile in prevalence:
                ax.axhline(prevalence[profile], linestyle=":", color="grey", label="chance")
            share = f" ({prevalence[profile]:.0%} liked)" if profile in prevalence else ""
            ax.set(title=profile + share if row == 0 else "", ylabel=name if column == 0 else "")
            ax.set_xlabel("labels" if row == 1 else "")
            ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    axes[1, 0].legend(fontsize=8)
    figure.suptitle(
        title
        or "kNN ranking quality on held-out companies after n labels (mean ± sd over seeds; all: mean of the profiles)"
    )
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)


def as_json(measurements: list[Measurement], summary: list[dict], **config) -> dict:
    return {
        "config": config, "summary": summary, "paired": paired(measurements), "runs": [asdict(m) for m in measurements]
    }  # fmt: skip
