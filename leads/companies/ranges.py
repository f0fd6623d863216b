"""The number filters (employees, founded, revenue: at least / at most), read from a URL's text.
Pure: no Django. `company_listing` turns what this reads into conditions on the typed columns."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from leads.imports.numbers import COLUMNS, MAX_EMPLOYEES, MAX_REVENUE

# The parameters, in the dashboard's order: employees_min, employees_max, founded_min, ...
PARAMS = tuple(f"{column}_{end}" for column in COLUMNS for end in ("min", "max"))
_LIMITS = {  # what the columns' types hold
    "employees": MAX_EMPLOYEES,
    "founded": 32_767,
    "revenue": MAX_REVENUE,
}


class BadRange(ValueError):
    pass


@dataclass(frozen=True)
class Range:
    column: str
    low: int | None  # at least (inclusive)
    high: int | None  # at most (inclusive)


def _whole(name: str, text: str) -> int | None:
    """'1200', '1,200' or '1 200' -> 1200; '' -> None; anything else BadRange."""
    cleaned = re.sub(r"(?<=\d)[,\s_](?=\d{3}\b)", "", text.strip())
    if not cleaned:
        return None
    if not re.fullmatch(r"\d{1,19}", cleaned):
        raise BadRange(f"{name} must be a whole number (got {text!r})")
    limit = _LIMITS[name.rpartition("_")[0]]
    if int(cleaned) > limit:
        raise BadRange(f"{name} must be at most {limit:,} (got {text!r})")
    return int(cleaned)


def read_ranges(params: Mapping[str, str]) -> list[Range]:
    """The ranges the parameters ask for (only columns given a bound), or BadRange saying what to fix."""
    ranges = []
    for column in COLUMNS:
        low, high = (_whole(f"{column}_{end}", params.get(f"{column}_{end}", "")) for end in ("min", "max"))
        if low is None and high is None:
            continue
        if low is not None and high is not None and low > high:
            raise BadRange(f"{column}_min ({low:,}) is more than {column}_max ({high:,}): swap them")
        ranges.append(Range(column, low, high))
    return ranges
