"""Whole numbers typed into a URL or a form (an id, a page, a column's index). Pure: no Django.

`str.isdigit()` is true for '²' and '٣', which `int()` refuses or reads as another number: a
parameter made of them was a 500. Only ASCII digits count here."""

from __future__ import annotations

import re

_WHOLE = re.compile(r"[0-9]{1,18}")  # 18 digits: every bigint id, and no int() of a 5,000-digit string


def whole_number(text: object) -> int | None:
    """The whole number `text` is (surrounding spaces aside), None for anything else."""
    if not isinstance(text, str):
        return None
    return int(text.strip()) if _WHOLE.fullmatch(text.strip()) else None


MAX_PAGE = 1_000_000  # pages of 50-100 rows: past every listing, and an OFFSET far inside a bigint


def page_number(text: str | None) -> int:
    """A listing's `?page=`: 1 when not given, else a whole number from 1 to MAX_PAGE (a page past
    the last shows the last, as Django's Paginator.get_page does). ValueError, with what to write,
    for anything else: a mistyped page is said, not silently read as the first."""
    if text is None or not text.strip():
        return 1
    number = whole_number(text)
    if number is None or not 1 <= number <= MAX_PAGE:
        raise ValueError(f"page must be a whole number from 1 to {MAX_PAGE:,} (got {text!r})")
    return number
