"""The house stays the way docs/architecture.md draws it: the imports of leads/ form no cycle,
none is hidden inside a function to dodge one, and every arrow points down the layers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

LEADS = Path(__file__).resolve().parent.parent / "leads"

# Bottom to top. A module imports only from its own layer or below.
LAYERS = ["pure", "base", "models", "read", "write", "tasks", "web"]

# Modules whose layer their name does not say (see layer_of).
DECLARED = {
    # pure: numpy and the standard library, no Django
    "leads.scoring.knn": "pure",
    "leads.scoring.evidence": "pure",
    "leads.scoring.bands": "pure",
    "leads.labelnext.choice": "pure",
    "leads.map.layout": "pure",
    "leads.review.quality": "pure",
    "leads.companies.identity": "pure",
    "leads.companies.countries": "pure",
    "leads.imports.csvdialect": "pure",
    "leads.imports.tabular": "pure",
    "leads.imports.headers": "pure",
    "leads.imports.csvfiles": "pure",
    "leads.imports.xlsxfiles": "pure",
    "leads.imports.numbers": "pure",
    "leads.companies.ranges": "pure",
    "leads.crm.names": "pure",
    "leads.outcomes.deals": "pure",
    "leads.outcomes.figures": "pure",
    "leads.scoring.history": "pure",
    "leads.webhooks.addresses": "pure",
    "leads.webhooks.outbound": "pure",
    "leads.webhooks.backoff": "pure",
    "leads.crm.columns": "pure",
    "leads.core.params": "pure",
    "leads.core.words": "pure",
    # base: settings and what they need, the plumbing every feature uses
    "leads": "base",
    "leads.settings": "base",
    "leads.celery": "base",
    "leads.apps": "base",
    "leads.core.devstack": "base",
    "leads.core.locks": "base",
    "leads.core.queue": "base",
    "leads.embedding.encoders": "base",
    "leads.gunicorn_conf": "base",
    # the binary reads and writes of vectors and score rows: data access beside the models
    "leads.scoring.rows": "models",
    # read: what pages and services read
    "leads.accounts.roles": "read",
    "leads.embedding.active": "read",
    "leads.scoring.reads": "read",
    "leads.scoring.explanations": "read",
    "leads.companies.disagreements": "read",
    "leads.companies.search": "read",
    "leads.companies.nearest": "read",
    "leads.companies.across_profiles": "read",
    "leads.companies.listed": "read",
    "leads.companies.distribution": "read",
    "leads.companies.orderings": "read",
    "leads.companies.changes": "read",
    "leads.companies.filters": "read",
    "leads.review.figures": "read",
    "leads.outcomes.matching": "read",
    "leads.outcomes.report": "read",
    # write: the services, the one way in for every write
    "leads.scoring.labels": "write",
    "leads.scoring.incremental": "write",
    "leads.scoring.thresholds": "write",
    "leads.scoring.vector_copy": "write",
    "leads.scoring.changes": "write",
    "leads.embedding.switching": "write",
    "leads.embedding.hnsw": "write",
    "leads.imports.dry_runs": "write",
    "leads.imports.jobs": "write",
    "leads.imports.loading": "write",
    "leads.companies.exports": "write",
    "leads.crm.exports": "write",
    "leads.review.snapshots": "write",
    "leads.scoring.snapshots": "write",
    "leads.webhooks.events": "write",
    # web: requests and the processes around them
    "leads.urls": "web",
    "leads.companies.bulk": "web",
    "leads.companies.change_views": "web",
    "leads.wsgi": "web",
    "leads.core.middleware": "web",
    "leads.core.health": "web",
    "leads.core.responses": "web",
    "leads.core.admin_site": "web",
    "leads.accounts.throttling": "web",
    "leads.templatetags.rows": "web",
}


def layer_of(module: str) -> str:
    if module in DECLARED:
        return DECLARED[module]
    last = module.rsplit(".", 1)[-1]
    if module.startswith("leads.models"):
        return "models"
    if last == "selectors":
        return "read"
    if last == "services":
        return "write"
    if module == "leads.tasks":
        return "tasks"
    if last == "views" or module.startswith(("leads.admin", "leads.management", "leads.bench")):
        return "web"
    if last == "__init__" or module.count(".") == 1 and (LEADS / module.split(".")[1]).is_dir():
        return "base"  # an empty package
    raise AssertionError(f"{module}: say which layer it is in (tests/test_layers.py, DECLARED)")


def modules() -> dict[str, Path]:
    found = {}
    for path in LEADS.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(LEADS.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path, known: dict[str, Path]) -> tuple[set[str], list[str]]:
    """The leads modules `path` imports at its top (not under `if TYPE_CHECKING`), and the ones
    it imports inside a function."""
    tree = ast.parse(path.read_text())
    top, inside = set(), []

    def targets(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            return [name if name in known else node.module for name in names]
        return []

    def walk(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            found = [t for t in targets(child) if t in known]
            if found:
                (inside.extend if in_function else top.update)(found)
            walk(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    walk(tree, False)
    return top, inside


# A function-level import that is not dodging a cycle: Django's ready() hook, which runs once
# the app registry is loaded.
LAZY_ALLOWED = {("leads.apps", "leads.accounts.roles"), ("leads.apps", "leads.embedding.active")}


def graph() -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    known = modules()
    edges, lazy = {}, []
    for name, path in known.items():
        top, inside = imports_of(path, known)
        edges[name] = {target for target in top if target != name and not name.startswith(target + ".")}
        lazy += [(name, target) for target in inside if (name, target) not in LAZY_ALLOWED]
    return edges, lazy


def test_every_module_has_a_layer():
    for name in modules():
        assert layer_of(name) in LAYERS


def test_no_import_points_up_a_layer():
    edges, _ = graph()
    upward = [
        f"{name} ({layer_of(name)}) imports {target} ({layer_of(target)})"
        for name, targets in edges.items()
        for target in sorted(targets)
        if LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(name))
    ]
    assert upward == []


def test_pure_modules_do_not_import_django():
    for name, path in modules().items():
        if layer_of(name) == "pure":
            text = path.read_text()
            assert not re.search(r"^\s*(from|import) django\b", text, re.M), name


def test_no_import_cycle():
    edges, _ = graph()
    # Tarjan's strongly connected components: any with more than one module is a cycle.
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert cycles == []


def test_no_leads_import_hides_inside_a_function():
    _, lazy = graph()
    assert lazy == []


@pytest.mark.parametrize("module", ["leads.services", "leads.embedding_py", "leads.selectors"])
def test_no_module_is_left_at_the_top_without_a_folder(module):
    assert module not in modules()
