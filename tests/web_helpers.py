"""Helpers shared by the page tests (test_dashboard and test_admin): reading a row of an
HTML table back out of a response."""

from __future__ import annotations


def table_row(response, name: str) -> str:
    """The <tr> of the table row that links to the company called `name`."""
    rows = [row for row in response.text.split("<tr") if f">{name}</a>" in row]
    assert len(rows) == 1, f"{name!r} is in {len(rows)} rows"
    return rows[0]
