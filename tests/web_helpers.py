"""Helpers shared by the page tests (test_dashboard, test_admin...): reading a row of an HTML
table back out of a response, and a user in a role with a logged-in client."""

from __future__ import annotations

from django.test import Client


def in_role(user, role: str):
    """`user`, now in the one group `role` (leads.accounts.roles)."""
    from django.contrib.auth.models import Group

    user.groups.set([Group.objects.get(name=role)])
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def table_row(response, name: str) -> str:
    """The <tr> of the table row that links to the company called `name`."""
    rows = [row for row in response.text.split("<tr") if f">{name}</a>" in row]
    assert len(rows) == 1, f"{name!r} is in {len(rows)} rows"
    return rows[0]


def filter_error(response) -> str:
    """What the dashboard says is wrong with its filters (the page again, with a 400), unescaped."""
    from html import unescape

    assert response.status_code == 400, response.status_code
    return unescape(response.text.split("data-filter-error>", 1)[1].split("</span>", 1)[0])
