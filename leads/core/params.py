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
