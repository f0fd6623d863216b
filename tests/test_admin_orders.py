"""The admin's company list in order: best fit first by default (a page off the score index, the same
on every page), by the fit column either way, by a number with blanks last (split from test_admin.py)."""

from __future__ import annotations

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leads.models import FIRST_PROFILE_ID, Company, Score
from tests.test_admin import admin_names, fit_first
from tests.web_helpers import table_row

pytestmark = pytest.mark.django_db


def test_admin_orders_by_fit(as_staff, world):
    scores = Score.objects.filter(profile_id=FIRST_PROFILE_ID).select_related("company")
    best_first = [s.company.name for s in scores.order_by("-fit")]
    assert best_first == ["Bravo Beers", "Copper Stouts", "Foxtrot Fashion", "Echo Review"]
    # Column 3 of list_display is the score: the first click lists the best fit first, the second the worst.
    assert admin_names(as_staff.get("/admin/leads/company/?o=3")) == best_first
    worst_first = admin_names(as_staff.get("/admin/leads/company/?o=-3"))
    assert worst_first == best_first[::-1]  # the scored companies, off the score index; "not scored" lists the rest


@pytest.mark.parametrize(
    "query", ["", "industry=Brewery", "label=none", "band=none", "label=like", "q=beer", "embedded=no"]
)
@pytest.mark.parametrize("walk", [20, 1])
def test_the_admins_default_order_is_the_same_on_every_page(as_staff, world, monkeypatch, query, walk):
    """A list longer than a page is read a page at a time off the indexes (admin/orders.FitFirst),
    in the order one sort of the whole list gives; `walk` 1 sorts the scored companies of each page
    instead (as when few of the best scores are the list's)."""
    from leads.admin.companies import CompanyAdmin
    from leads.admin.orders import FitFirst

    monkeypatch.setattr(FitFirst, "WALK_PER_ROW", walk)
    whole = admin_names(as_staff.get(f"/admin/leads/company/?{query}"))  # one page: one sort
    monkeypatch.setattr(CompanyAdmin, "list_per_page", 2)
    pages = as_staff.get(f"/admin/leads/company/?{query}").context["cl"].paginator.num_pages
    paged = [
        name for p in range(1, pages + 1) for name in admin_names(as_staff.get(f"/admin/leads/company/?{query}&p={p}"))
    ]
    assert paged == whole
    assert whole == fit_first([c for c in Company.objects.in_profile(FIRST_PROFILE_ID) if c.name in whole])


def test_no_page_of_the_admins_default_order_sorts_the_companies_by_fit(as_staff, world, monkeypatch):
    """One sort of every company by fit (an outer join's column) took seconds at a million: a page of
    a longer list is read off the score index, then the companies fetched by id."""
    from leads.admin.companies import CompanyAdmin

    monkeypatch.setattr(CompanyAdmin, "list_per_page", 2)
    for page in (1, 2, 3):
        with CaptureQueriesContext(connection) as queries:
            assert as_staff.get(f"/admin/leads/company/?p={page}").status_code == 200
        with transaction.atomic(), connection.cursor() as cursor:  # a plan, as on a million companies
            cursor.execute("set local enable_seqscan = off")
            cursor.execute("set local enable_bitmapscan = off")  # a few rows' plan (the suite's statistics chose one)
            for sql in [q["sql"] for q in queries.captured_queries if '"leads_score"' in q["sql"]]:
                cursor.execute(f"explain {sql}")
                plan = "\n".join(line for (line,) in cursor.fetchall())
                assert not re.search(r"Sort Key: \S*fit", plan), plan


@pytest.mark.parametrize("column, field", [(9, "employees"), (10, "founded"), (11, "revenue")])
def test_admin_orders_by_a_number_with_blanks_last_either_way(as_staff, world, column, field):
    for name, value in (("Bravo Beers", 1990), ("Copper Stouts", 2010), ("Echo Review", 2000)):
        Company.objects.filter(pk=world[name].pk).update(**{field: value})
    ascending = admin_names(as_staff.get(f"/admin/leads/company/?o={column}"))
    descending = admin_names(as_staff.get(f"/admin/leads/company/?o=-{column}"))
    assert ascending[:3] == ["Bravo Beers", "Echo Review", "Copper Stouts"]
    assert descending[:3] == ["Copper Stouts", "Echo Review", "Bravo Beers"]  # not the blanks first
    assert len(ascending) == len(descending) == 7
    listed = as_staff.get("/admin/leads/company/")
    assert f'<td class="field-{field}_column">2010</td>' in table_row(listed, "Copper Stouts")
    assert f'<td class="field-{field}_column">-</td>' in table_row(listed, "Alpha Brewing")  # blank, as before
