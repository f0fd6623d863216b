"""docs/architecture.md's map of the code stays true: every module of leads/ is in its table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text()


def table_rows() -> list[tuple[str, str]]:
    """(folder, the module cell) of each row of the module table."""
    rows, folder = [], ""
    start = DOC.index("| Folder | Module |")
    table = DOC[start : DOC.index("\n\n", start)]
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or len(cells) != 3 or cells[0] in ("Folder", "---"):
            continue
        if cells[0]:
            named = cells[0].strip("`")
            folder = named if named == "leads/" or named.startswith("static/") else "leads/" + named
        rows.append((folder, cells[1]))
    return rows


def listed() -> set[str]:
    found = set()
    for folder, cell in table_rows():
        for name in re.findall(r"`([^`]+)`", cell):
            if name.endswith("/"):
                found.add(folder + name)
                continue
            braces = re.match(r"(.*)\{(.*)\}(.*)", name)
            names = [braces[1] + part + braces[3] for part in braces[2].split(",")] if braces else [name]
            found.update(folder + n for n in names)
    return found


def test_every_module_of_leads_is_in_the_table():
    documented = listed()
    missing = []
    for path in sorted((ROOT / "leads").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if path.name == "__init__.py" or "/migrations/" in relative or "/management/commands/" in relative:
            continue
        if relative not in documented:
            missing.append(relative)
    assert missing == []


def test_every_module_in_the_table_exists():
    for name in listed():
        if name.startswith("leads/") and not name.endswith("/"):
            assert (ROOT / name).exists(), name
