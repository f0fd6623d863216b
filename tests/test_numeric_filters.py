"""Employees, founding year and revenue: read as numbers by the import (CSV and workbook, the
unreadable ones counted, their text kept), filtered by range and sorted on the dashboard, the API
and the export, shown on the company page."""

from __future__ import annotations

import datetime
import html
import json
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from leads.companies import orderings, selectors
from leads.imports import services as imports
from leads.models import FIRST_PROFILE_ID, Company, ImportJob
from leads.savedviews import services as saved_views
from tests.csv_helpers import import_bytes, xlsx_bytes
from tests.import_helpers import text, uploaded_job
from tests.test_dashboard import dashboard_names
from tests.test_export import export
from tests.web_helpers import filter_error

pytestmark = pytest.mark.django_db

CSV = (
    "name,description,number of employees,year founded,annual revenue,city\n"
    "Acme,Anvils,51-200,2015-03-01,$10M,Leeds\n"
    'Beta,Bolts,"1,200",1999,€2.5m,\n'
    "Gamma,Gears,lots,long ago,n/a,\n"
    "Delta,Dials,,,,\n"
)


def typed(name: str) -> tuple:
    company = Company.objects.get(name=name)
    return company.employees, company.founded, company.revenue


def test_an_import_stores_the_numbers_and_keeps_the_text(tmp_path):
    job = import_bytes(tmp_path, CSV.encode())
    assert typed("Acme") == (51, 2015, 10_000_000)
    assert typed("Beta") == (1200, 1999, 2_500_000)
    assert typed("Gamma") == (None, None, None)
    assert typed("Delta") == (None, None, None)
    assert Company.objects.get(name="Acme").extra == {
        "employees": "51-200", "founded": "2015-03-01", "revenue": "$10M", "city": "Leeds",
    }  # fmt: skip
    assert Company.objects.get(name="Gamma").extra == {"employees": "lots", "founded": "long ago", "revenue": "n/a"}
    # Unreadable values are not rejected rows: counted by column ("n/a" is no value, not unreadable).
    assert (job.created, job.rejected) == (4, 0)
    assert job.unreadable == {"employees": 1, "founded": 1}
    assert job.unreadable_sentence.startswith("1 employees value and 1 founded value could not be read as numbers")


def test_the_progress_page_and_the_preview_count_the_unreadable_values(as_staff, tmp_path):
    job = uploaded_job(as_staff, CSV)
    preview = text(as_staff.get(f"/imports/{job.pk}/"))
    assert "1 employees value and 1 founded value in the first 4 rows could not be read as numbers" in preview
    imports.run_import(ImportJob.objects.get(pk=job.pk))
    page = text(as_staff.get(f"/imports/{job.pk}/"))
    assert "1 employees value and 1 founded value could not be read as numbers" in page
    assert as_staff.get(f"/imports/{job.pk}/progress").json()["unreadable"].startswith("1 employees value")


def test_a_workbook_gives_its_numbers_and_dates_directly(tmp_path):
    rows = [
        ["Name", "Description", "Employees", "Founded", "Revenue"],
        ["Acme", "Anvils.", 250, datetime.datetime(1949, 3, 1), 1250000.0],
        ["Beta", "Bolts.", 12.0, 2001, 2.5e9],
        ["Gamma", "Gears.", "many", "2001", "1.2B"],
    ]
    job = import_bytes(tmp_path, xlsx_bytes({"Companies": rows}), "numbers.xlsx")
    assert typed("Acme") == (250, 1949, 1_250_000)
    assert typed("Beta") == (12, 2001, 2_500_000_000)
    assert typed("Gamma") == (None, 2001, 1_200_000_000)
    assert job.unreadable == {"employees": 1}


def test_a_reimport_updates_the_numbers_the_last_given_value_wins(tmp_path):
    import_bytes(tmp_path, CSV.encode())
    again = (
        "name,description,employees,founded,revenue\n"
        "Acme,Anvils,300,,\n"  # founded and revenue not given: kept
        "Beta,Bolts,10,,\n"
        "Beta,Bolts,20,,\n"  # a duplicate row: the last one wins
        "Delta,Dials,5-10,1990,1k\n"
    )
    job = import_bytes(tmp_path, again.encode(), "again.csv")
    assert typed("Acme") == (300, 2015, 10_000_000)
    assert typed("Beta") == (20, 1999, 2_500_000)
    assert typed("Delta") == (5, 1990, 1000)
    assert Company.objects.get(name="Delta").extra == {"employees": "5-10", "founded": "1990", "revenue": "1k"}
    assert job.updated == 3
    # The same file again changes nothing.
    assert import_bytes(tmp_path, again.encode(), "again.csv").unchanged == 3


def test_a_value_that_cannot_be_read_replaces_the_number_with_its_text(tmp_path):
    import_bytes(tmp_path, CSV.encode())
    import_bytes(tmp_path, b"name,description,employees\nAcme,Anvils,a few\n", "later.csv")
    acme = Company.objects.get(name="Acme")
    assert (acme.employees, acme.extra["employees"]) == (None, "a few")  # the number follows the text kept


@pytest.fixture
def numbered(world):
    """The world's companies with numbers (Golf Pending and Foxtrot Fashion have none)."""
    values = {
        "Alpha Brewing": (10, 1990, 1_000_000),
        "Bravo Beers": (50, 2005, 5_000_000),
        "Copper Stouts": (200, 1850, None),
        "Delta Code": (1000, 2015, 50_000_000),
        "Echo Review": (5000, 2020, 200_000_000),
    }
    for name, (employees, founded, revenue) in values.items():
        Company.objects.filter(name=name).update(employees=employees, founded=founded, revenue=revenue)
    return world


def test_the_dashboard_filters_by_ranges_either_end_open(as_alice, numbered):
    names = dashboard_names(as_alice.get("/", {"employees_min": "50", "employees_max": "1000"}))
    assert sorted(names) == ["Bravo Beers", "Copper Stouts", "Delta Code"]  # both ends inclusive
    assert sorted(dashboard_names(as_alice.get("/", {"founded_max": "1990"}))) == ["Alpha Brewing", "Copper Stouts"]
    assert sorted(dashboard_names(as_alice.get("/", {"revenue_min": "50,000,000"}))) == ["Delta Code", "Echo Review"]
    both = as_alice.get("/", {"employees_min": "100", "revenue_min": "1"})
    assert sorted(dashboard_names(both)) == ["Delta Code", "Echo Review"]
    assert "More filters (2 on)" in both.text  # the <details> opens on what is set
    assert 'name="employees_min" value="100"' in both.text


@pytest.mark.parametrize("show", ["all", "unlabelled"])  # the labelled few: their own partial index
@pytest.mark.parametrize(
    "ranges",
    [
        {"employees_min": "50", "employees_max": "500", "founded_min": "2010"},  # bench_scoring's page
        {"founded_max": "2000", "revenue_min": "1"},
        {"employees_min": "100", "employees_max": "6000"},
    ],
)
def test_the_count_of_number_ranges_reads_an_index_alone(numbered, show, ranges):
    """The dashboard counts up to COUNT_LIMIT companies on every page view: in number ranges, with
    a label filter, that is an index-only scan of a number's index, which carries the other numbers
    (the label filter: an anti-join with the profile's few current verdicts); a scan of the wide
    company rows took 80 ms at a million (docs/benchmarks.md)."""
    # Companies in no range (no numbers at all, as many of a real table): with seven rows any plan
    # costs about nothing, and the full suite's statistics once chose a scan of the primary key.
    Company.objects.bulk_create(Company(name=f"Filler {i}", dedupe_key=f"filler-{i}") for i in range(3000))
    listing = selectors.listing(profile_id=FIRST_PROFILE_ID, show=show, count_limit=10_000, **ranges)
    with CaptureQueriesContext(connection) as queries:
        listing.count()
    (counted,) = [query["sql"] for query in queries.captured_queries]
    with transaction.atomic(), connection.cursor() as cursor:  # a plan, as on a million companies
        cursor.execute("analyze leads_company, leads_currentverdict")  # the numbers' statistics, as a real table has
        cursor.execute("set local enable_seqscan = off")
        cursor.execute("set local enable_bitmapscan = off")
        cursor.execute("set local enable_mergejoin = off")  # a merge join in id order: a few rows' plan
        cursor.execute(f"explain {counted}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert re.search(r"Index Only Scan using company_(employees|founded|revenue) on leads_company", plan), plan
    exact = selectors.listing(profile_id=FIRST_PROFILE_ID, show=show, **ranges).count()
    assert listing.count() == exact  # exact, as the rows say


def test_a_bad_range_is_a_400_that_says_what_to_fix(as_alice, api, numbered):
    response = as_alice.get("/", {"employees_min": "abc"})
    assert response.status_code == 400
    assert filter_error(response) == "employees_min must be a whole number (got 'abc')"
    response = as_alice.get("/", {"founded_min": "2000", "founded_max": "1990"})
    assert (response.status_code, filter_error(response)) == (
        400,
        "founded_min (2,000) is more than founded_max (1,990): swap them",
    )
    api_response = api.get("/api/companies/", {"revenue_max": "lots"})
    assert api_response.status_code == 400
    assert "revenue_max must be a whole number (got 'lots')" in json.dumps(api_response.json())


def test_the_api_filters_and_gives_the_numbers(api, numbered):
    body = api.get("/api/companies/", {"employees_min": "1000", "ordering": "-employees"}).json()
    assert [(c["name"], c["employees"], c["founded"], c["revenue"]) for c in body["results"]] == [
        ("Echo Review", 5000, 2020, 200_000_000),
        ("Delta Code", 1000, 2015, 50_000_000),
    ]
    assert api.get(f"/api/companies/{numbered['Golf Pending'].pk}").json()["employees"] is None


@pytest.mark.parametrize(
    "ordering, first, last",
    [
        ("employees", ["Alpha Brewing", "Bravo Beers"], ["Foxtrot Fashion", "Golf Pending"]),
        ("-employees", ["Echo Review", "Delta Code"], ["Foxtrot Fashion", "Golf Pending"]),
        ("founded", ["Copper Stouts", "Alpha Brewing"], ["Foxtrot Fashion", "Golf Pending"]),
        ("-founded", ["Echo Review", "Delta Code"], ["Foxtrot Fashion", "Golf Pending"]),
        ("revenue", ["Alpha Brewing", "Bravo Beers"], ["Copper Stouts", "Foxtrot Fashion", "Golf Pending"]),
        ("-revenue", ["Echo Review", "Delta Code"], ["Copper Stouts", "Foxtrot Fashion", "Golf Pending"]),
    ],
)
def test_orderings_by_number_put_empty_values_last_either_way(as_alice, numbered, ordering, first, last):
    page = as_alice.get("/", {"ordering": ordering})
    names = dashboard_names(page)
    assert names[: len(first)] == first
    assert names[-len(last) :] == last
    assert orderings.ORDERINGS[ordering].label in html.unescape(page.text)


def test_the_export_appends_the_numbers_after_its_earlier_columns(client, alice, numbered):
    client.force_login(alice)
    _, _, rows = export(client, employees_min="1000", ordering="employees")
    assert rows[0][-6:] == ["domain", "country_name", "employees", "founded", "revenue", "crm_ids"]
    assert rows[0].index("domain") == 21  # the columns before stay where scripts read them
    assert [(r[1], r[-4], r[-3], r[-2]) for r in rows[1:]] == [
        ("Delta Code", "1000", "2015", "50000000"),
        ("Echo Review", "5000", "2020", "200000000"),
    ]


def test_a_saved_view_keeps_the_ranges(numbered):
    query = saved_views.clean_query("employees_min=50&employees_max=1000&revenue_min=&q=&page=3")
    assert query == "employees_min=50&employees_max=1000"
    with pytest.raises(selectors.BadFilter, match="employees_min must be a whole number"):
        saved_views.clean_query("employees_min=many")


def test_the_company_page_shows_a_range_with_what_was_stored(as_alice, tmp_path, alice):
    import_bytes(tmp_path, CSV.encode())
    acme = Company.objects.get(name="Acme")
    page = text(as_alice.get(f"/companies/{acme.pk}/"))
    assert "<dt>employees</dt><dd>51-200 (stored as 51)</dd>" in page
    assert "<dt>revenue</dt><dd>$10M (stored as 10,000,000)</dd>" in page
    assert "<dt>city</dt><dd>Leeds</dd>" in page
