"""Counts and names in the sentences the pages say: one way to write "1 company" and "3 companies"."""

from __future__ import annotations


def companies(n: int) -> str:
    """'1 company', '1,234 companies'."""
    return f"{n:,} compan{'y' if n == 1 else 'ies'}"


def scores_changed(n: int, *, at_most: int, recomputed: bool = False) -> str:
    """'1 score changed', '37 scores changed', '10,000+ scores changed' (a count that stopped at
    `at_most`), 'no score changed'; 'every score recomputed' when a full rescore ran (`recomputed`),
    whose changes are not logged one by one."""
    if recomputed:
        return "every score recomputed"
    if not n:
        return "no score changed"
    return f"{n:,}{'+' if n >= at_most else ''} score{'' if n == 1 else 's'} changed"


def names(given: tuple[str, ...] | list[str], *, nobody: str = "an import") -> str:
    """'alice', 'alice and bob', 'alice, bob and an import' ('' stands for `nobody`: no user)."""
    said = [name or nobody for name in given]
    return said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
