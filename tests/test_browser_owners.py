"""Owners and notes in headless Chromium: a rep takes a company on its page, writes a note, sees
it, takes another from its dashboard row, and filters the dashboard by "My companies"."""

from __future__ import annotations

import re

import pytest

from tests.browser_helpers import CHROMIUM, log_in

if not CHROMIUM.exists():
    pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from leads.models import Company, CompanyNote  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = ["Hopfield Brewery", "Maltworks Brewing", "Codeforge"]


def test_a_rep_takes_a_company_writes_a_note_and_filters_by_my_companies(live_server, page, alice, bob):
    for name in NAMES:
        Company.objects.create(name=name, description=f"{name} description", industry="Brewing")
    rows = page.locator("table.companies tbody tr")

    log_in(page, live_server)
    expect(rows).to_have_count(3)
    page.get_by_role("link", name="Hopfield Brewery", exact=True).click()
    expect(page.get_by_role("heading", name="Hopfield Brewery")).to_be_visible()
    owner = page.locator("#owner")
    expect(owner).to_contain_text("Unassigned")
    owner.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_text("Hopfield Brewery is now alice's.")).to_be_visible()
    expect(owner.locator(".owner-name")).to_have_text("alice")

    page.get_by_label("New note").fill("Called: <b>call back</b> in May.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note kept.")).to_be_visible()
    first = page.locator("ul.notes li").first
    expect(first.locator(".note-text")).to_have_text("Called: <b>call back</b> in May.")  # escaped, as typed
    expect(first).to_contain_text("alice")
    assert CompanyNote.objects.get().text == "Called: <b>call back</b> in May."
    page.screenshot(path="/tmp/leads-owner-notes.png", full_page=True)

    page.get_by_role("link", name="← Companies").click()
    maltworks = rows.filter(has=page.get_by_role("link", name="Maltworks Brewing", exact=True))
    maltworks.get_by_role("button", name="Assign to me").click()  # htmx: the row comes back
    expect(maltworks.locator(".owner-name")).to_have_text("alice")
    expect(page.locator("#toast")).to_contain_text("Maltworks Brewing is now alice's.")

    page.get_by_label("Owner").select_option(label="My companies")
    expect(page).to_have_url(re.compile(r"[?&]owner=me(&|$)"))  # in the URL: a view to share
    expect(rows).to_have_count(2)
    page.screenshot(path="/tmp/leads-my-companies.png", full_page=True)
    assert sorted(rows.locator("td:first-child a").all_inner_texts()) == ["Hopfield Brewery", "Maltworks Brewing"]
    page.get_by_label("Owner").select_option(label="Unassigned")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Codeforge")
