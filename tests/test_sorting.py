"""The dashboard, the API and the export in any of orderings.ORDERINGS: sorted by a column, by
fit either way, latest verdict first; a heading's link sorts by its column and then the other way."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from leads.companies import orderings, selectors
from leads.models import FIRST_PROFILE_ID, Company, CurrentVerdict, Label, Score
from leads.scoring import labels
from tests.test_dashboard import dashboard_names
from tests.test_export import export

pytestmark = pytest.mark.django_db

UNSCORED = ["Alpha Brewing", "Delta Code", "Golf Pending"]


def by_fit(world) -> list[str]:
    return [s.company.name for s in Score.objects.select_related("company").order_by("fit", "-company_id")]


@pytest.mark.parametrize(
    "ordering, expected",
    [
        ("name", ["Alpha Brewing", "Bravo Beers", "Copper Stouts", "Delta Code", "Echo Review", "Foxtrot Fashion", "Golf Pending"]),
        ("industry", ["Alpha Brewing", "Bravo Beers", "Copper Stouts", "Golf Pending", "Foxtrot Fashion", "Delta Code", "Echo Review"]),
        # The index read backwards: within an industry, the newest company first.
        ("-industry", ["Echo Review", "Delta Code", "Foxtrot Fashion", "Golf Pending", "Copper Stouts", "Bravo Beers", "Alpha Brewing"]),
    ],
)  # fmt: skip
def test_the_dashboard_sorts_by_a_column(as_alice, world, ordering, expected):
    page = as_alice.get("/", {"ordering": ordering})
    assert dashboard_names(page) == expected
    assert f"7 companies, {orderings.ORDERINGS[ordering].label}." in page.text


def test_empty_values_come_last_either_way(as_alice, world):
    Company.objects.filter(name="Golf Pending").update(country="")
    Company.objects.exclude(name="Golf Pending").update(country="BE")
    Company.objects.filter(name="Echo Review").update(country="AT")
    assert dashboard_names(as_alice.get("/", {"ordering": "country"}))[0] == "Echo Review"
    assert dashboard_names(as_alice.get("/", {"ordering": "country"}))[-1] == "Golf Pending"
    assert dashboard_names(as_alice.get("/", {"ordering": "-country"}))[-2:] == ["Echo Review", "Golf Pending"]


def test_worst_fit_first_then_the_unscored(as_alice, world):
    assert dashboard_names(as_alice.get("/", {"ordering": "fit"})) == by_fit(world) + UNSCORED


def test_latest_verdict_first_pages_across_labelled_and_unlabelled(as_alice, world, alice, monkeypatch):
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=world["Echo Review"], user=alice, source="click", verdict="dislike"
    )
    later = timezone.now() + timedelta(
        minutes=5
    )  # the history and the current verdict, as the labels service keeps them
    Label.objects.filter(company=world["Alpha Brewing"]).update(created_at=later)
    CurrentVerdict.objects.filter(company=world["Alpha Brewing"]).update(given_at=later)
    expected = [
        "Alpha Brewing",
        "Echo Review",
        "Delta Code",
        "Bravo Beers",
        "Copper Stouts",
        "Foxtrot Fashion",
        "Golf Pending",
    ]
    assert dashboard_names(as_alice.get("/", {"ordering": "-verdict"})) == expected
    monkeypatch.setattr("leads.companies.views.PAGE_SIZE", 2)
    pages = [dashboard_names(as_alice.get("/", {"ordering": "-verdict", "page": n})) for n in (1, 2, 3, 4)]
    assert pages == [expected[0:2], expected[2:4], expected[4:6], expected[6:]]
    listing = selectors.listing(profile_id=FIRST_PROFILE_ID, ordering="-verdict", show="all")
    assert [c.name for c in listing[1:5]] == expected[1:5] and listing.count() == 7


def test_a_sort_keeps_the_filters_and_the_search(as_alice, world):
    assert dashboard_names(as_alice.get("/", {"ordering": "-name", "q": "brew"})) == [
        "Copper Stouts",
        "Bravo Beers",
        "Alpha Brewing",
    ]
    assert dashboard_names(as_alice.get("/", {"ordering": "name", "show": "unlabelled", "industry": "brewery"})) == [
        "Bravo Beers",
        "Copper Stouts",
    ]


def test_the_headings_sort_and_then_sort_the_other_way(as_alice, world):
    def heading(page, title):
        link = re.search(rf'<a href="\?([^"]*)" class="sort" title="Sort by {title}">([^<]*)</a>', page.text)
        return html.unescape(link.group(1)), link.group(2)

    page = as_alice.get("/", {"q": "e"})
    assert heading(page, "name") == ("q=e&ordering=name", "Company")
    assert heading(page, "fit") == ("q=e&ordering=fit", "Fit↓")  # best first now: worst first next
    page = as_alice.get("/", {"q": "e", "ordering": "name"})
    assert heading(page, "name") == ("q=e&ordering=-name", "Company↑")
    assert heading(page, "fit") == ("q=e", "Fit")  # best first: the default, left out of the link
    assert 'name="ordering" aria-label="Order"' in page.text and '<option value="name" selected>' in page.text


def test_an_unknown_ordering_says_which_there_are(as_alice, world):
    response = as_alice.get("/", {"ordering": "employees; drop table"})
    assert response.status_code == 400
    assert "ordering must be one of: -fit, fit, -score, name" in response.text


def test_the_api_and_the_export_take_the_same_orderings(api, client, alice, world):
    assert [row["name"] for row in api.get("/api/companies/", {"ordering": "-industry"}).json()["results"]][:2] == [
        "Echo Review",
        "Delta Code",
    ]
    client.force_login(alice)
    _, _, rows = export(client, ordering="fit")
    assert [row[1] for row in rows[1:]] == by_fit(world) + UNSCORED


def test_countries_come_in_the_order_of_the_names_shown_and_filter_off_one_index(as_alice, world):
    """By their codes, Germany (DE), Spain (ES), France (FR) and the United Kingdom (GB) came in that
    order under names that read out of order. A country we know no code of sorts by what it says."""
    for name, country in [("Alpha Brewing", "GB"), ("Bravo Beers", "ES"), ("Copper Stouts", "DE"),
                          ("Delta Code", "FR"), ("Echo Review", "Atlantis"), ("Foxtrot Fashion", "AT")]:  # fmt: skip
        Company.objects.filter(name=name).update(country=country)
    listed = dashboard_names(as_alice.get("/", {"ordering": "country"}))
    assert listed[:6] == [
        "Echo Review",
        "Foxtrot Fashion",
        "Delta Code",
        "Copper Stouts",
        "Bravo Beers",
        "Alpha Brewing",
    ]
    # Atlantis, Austria, France, Germany, Spain, United Kingdom; Golf Pending (none) last.
    assert listed[-1] == "Golf Pending"
    for given in ("Germany", "germany", "DE", "Deutschland"):
        assert dashboard_names(as_alice.get("/", {"country": given})) == ["Copper Stouts"], given
    assert dashboard_names(as_alice.get("/", {"country": "atlantis"})) == ["Echo Review"]

    from django.db import connection, transaction

    (first_part, _) = orderings.ORDERINGS["country"].parts(Company.objects.all())
    with transaction.atomic(), connection.cursor() as cursor:  # the plans a million companies get
        cursor.execute("set local enable_seqscan = off")
        cursor.execute("set local enable_bitmapscan = off")
        plans = []
        for queryset in (Company.objects.in_country("Germany"), first_part[:10]):
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"explain {sql}", params)
            plans.append("\n".join(line for (line,) in cursor.fetchall()))
    assert all("company_country_name" in plan for plan in plans), plans


@pytest.mark.parametrize("ordering", [o for o, sort in orderings.ORDERINGS.items() if sort.parts is not None])
def test_every_page_of_a_sorted_list_joins_up_with_the_next(ordering, fake_encoder):
    """Pages cut anywhere (inside the companies with a value, across into those without, past the
    end) give the whole list once, in the order of one query over everything."""
    made = [
        Company.objects.create(
            name=f"{'ab'[i % 2]}co {i:02}",
            industry=["", "Retail", "retail", "Software"][i % 4],
            country=["", "DE", "FR"][i % 3],
            employees=None if i % 5 == 0 else 10 * (i % 4),
            founded=None if i % 3 == 0 else 1990 + i % 7,
        )
        for i in range(23)
    ]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=made[3], user=None, source="admin", verdict="like")
    whole = selectors.listing(profile_id=FIRST_PROFILE_ID, ordering=ordering)
    everything = list(whole.iterator())
    assert len(everything) == len({c.pk for c in everything}) == 23
    for size in (1, 4, 7, 23, 40):
        paged = [c for start in range(0, 30, size) for c in whole[start : start + size]]
        assert [c.pk for c in paged] == [c.pk for c in everything], size


def test_the_order_box_offers_every_order_but_the_plain_score(as_alice, world):
    """The plain score sorts the whole selection (slow at a million companies): the API's, for
    integrations; a rep orders by fit."""
    page = as_alice.get("/").text
    offered = re.findall(r'<option value="([^"]*)"', page.split('name="ordering"', 1)[1].split("</select>", 1)[0])
    assert offered == [key for key in orderings.ORDERINGS if key != "-score"]
    assert dashboard_names(as_alice.get("/", {"ordering": "-score"}))  # still taken from a link
