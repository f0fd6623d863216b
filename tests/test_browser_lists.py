"""The dashboard's lists in headless Chromium: number ranges, search by stem and by meaning, a
selection labelled and exported, a saved view opened again (split from test_browser.py)."""

from __future__ import annotations

import re

import pytest

from tests.browser_helpers import CHROMIUM, log_in

if not CHROMIUM.exists():
    pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from leads.models import Company  # noqa: E402
from tests.test_browser import BREWERIES, SOFTWARE, labelled_world, listed_names, make_companies, row_of  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_more_filters_narrow_the_list_by_a_range_and_fit_a_phone(live_server, page, browser, alice):
    breweries = make_companies(BREWERIES, "Brewing")
    software = make_companies(SOFTWARE, "Software")
    employees = {"Hopfield Brewery": 12, "Maltworks Brewing": 80, "Codeforge": 250, "Bytecraft": 4000}
    for name, count in employees.items():
        Company.objects.filter(name=name).update(employees=count)
    assert len(breweries) + len(software) == 6

    log_in(page, live_server)
    more = page.locator("#more-filters")
    expect(more.get_by_label("Employees from")).to_be_hidden()  # folded away until asked for
    more.locator("summary").click()
    more.get_by_label("Employees from").fill("50")
    more.get_by_label("Employees to").fill("1000")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.locator("#more-filters summary")).to_have_text("More filters (2 on)")
    assert sorted(listed_names(page)) == ["Codeforge", "Maltworks Brewing"]
    assert "employees_min=50" in page.url and "employees_max=1000" in page.url  # shareable
    page.get_by_role("navigation", name="Label filter").get_by_text("Unlabelled", exact=True).click()
    expect(page.locator("#more-filters").get_by_label("Employees from")).to_have_value("50")  # kept
    assert sorted(listed_names(page)) == ["Codeforge", "Maltworks Brewing"]

    phone = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    try:
        on_phone = phone.new_page()
        log_in(on_phone, live_server)
        on_phone.goto(f"{live_server.url}/?employees_min=50")  # opens with the filter on: <details> open
        expect(on_phone.locator("#more-filters").get_by_label("Revenue to")).to_be_visible()
        width = on_phone.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 375, f"the page is {width} px wide on a 375 px screen with More filters open"
    finally:
        phone.close()


def test_it_searches_by_stem_and_by_meaning(live_server, page, alice, fresh_hnsw_index):
    labelled_world(alice)
    log_in(page, live_server)
    page.get_by_role("searchbox", name="Search").fill("reviews")  # 'review' in two descriptions
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(page.locator("p.muted").first).to_contain_text("2 companies, best fit first.")
    assert sorted(listed_names(page)) == ["Bytecraft", "Codeforge"]
    why = row_of(page, "Codeforge").locator(".why-listed")
    expect(why).to_have_text("Matches its description: “Software developer tools for code review.”")
    expect(why.locator("mark")).to_have_text("review")

    # The real encoder: none of the words typed is in the list, the meaning is.
    page.get_by_role("searchbox", name="Describe the company").fill("a place that makes craft ale")
    page.get_by_role("searchbox", name="Describe the company").press("Enter")
    expect(page.locator("p.muted").first).to_contain_text("nearest in meaning to “a place that makes craft ale”")
    names = listed_names(page)
    assert len(names) == 6 and set(names[:3]) == set(BREWERIES), names
    expect(row_of(page, names[0]).locator(".why-listed")).to_have_text(
        re.compile(r"^\d+% similar to what you described$")
    )


def test_it_labels_and_exports_a_selection(live_server, page, alice):
    labelled_world(alice)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/?ordering=name")
    names = listed_names(page)
    assert names == ["Barrel Ales", "Bytecraft", "Codeforge", "Hopfield Brewery", "Maltworks Brewing", "Stackline"]
    bar = page.locator("[data-bulk]")
    expect(bar).to_be_hidden()
    before = row_of(page, "Stackline").bounding_box()

    row_of(page, "Barrel Ales").locator(".pick").click()
    row_of(page, "Codeforge").locator(".pick").click(modifiers=["Shift"])  # Barrel Ales to Codeforge
    expect(bar).to_be_visible()
    expect(bar.locator("[data-picked]")).to_have_text("3 selected")
    assert row_of(page, "Stackline").bounding_box() == before  # the bar floats: no row moved

    page.keyboard.press("Escape")
    row_of(page, "Maltworks Brewing").click(position={"x": 300, "y": 5})  # the row, not its link
    page.keyboard.press("x")  # and Maltworks, by keyboard
    expect(bar.locator("[data-picked]")).to_have_text("4 selected")
    expect(page.locator("[data-pick-all]")).to_have_js_property("indeterminate", True)

    with page.expect_download() as download:
        bar.get_by_role("button", name="Export CSV").click()
    exported = download.value.path().read_text(encoding="utf-8-sig").splitlines()
    assert sorted(line.split(",")[1] for line in exported[1:]) == [
        "Barrel Ales",
        "Bytecraft",
        "Codeforge",
        "Maltworks Brewing",
    ]

    bar.get_by_role("button", name="Dislike").click()
    expect(page.locator(".message")).to_have_text(re.compile(r"^4 companies disliked \(3 changed\)"))
    assert "ordering=name" in page.url  # back on the same view
    for name in ("Barrel Ales", "Bytecraft", "Maltworks Brewing"):
        expect(row_of(page, name).locator("button.dislike")).to_have_attribute("aria-pressed", "true")
    expect(bar).to_be_hidden()

    page.keyboard.press("u")  # one undo takes the whole bulk verdict back, and the page shows it
    expect(page.locator(".message")).to_have_text(re.compile(r"^Undone: 3 companies got back the verdicts"))
    assert "ordering=name" in page.url
    for name in ("Barrel Ales", "Bytecraft", "Maltworks Brewing"):
        expect(row_of(page, name).locator("button.dislike")).to_have_attribute("aria-pressed", "false")
    expect(row_of(page, "Codeforge").locator("button.dislike")).to_have_attribute("aria-pressed", "true")


def test_a_rep_saves_a_view_and_opens_it_again(live_server, page, alice):
    labelled_world(alice)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/?show=unlabelled&ordering=-name")
    page.locator("#views summary").click()
    page.get_by_role("textbox", name="Name of the view").fill("Unlabelled, Z to A")
    page.get_by_role("button", name="Save this view").click()
    expect(page.locator(".message")).to_contain_text("Saved “Unlabelled, Z to A”")
    page.goto(live_server.url)  # every company
    Company.objects.create(name="Zymurgy Brewing", description="A brewery.", industry="Brewing")
    page.reload()
    expect(page.locator("#views summary")).to_contain_text("new companies")
    page.locator("#views summary").click()
    link = page.get_by_role("link", name="Unlabelled, Z to A")
    expect(page.locator("#views li").filter(has=link)).to_contain_text("1 new")
    link.click()
    assert listed_names(page) == ["Zymurgy Brewing", "Stackline", "Maltworks Brewing", "Bytecraft", "Barrel Ales"]
    assert "show=unlabelled" in page.url and "ordering=-name" in page.url
