"""On a phone and a laptop screen, in Chromium: no page of either role scrolls sideways or breaks a word,
a note lets a tap through to the row under it, the first companies show, and the admin's list fits 1366 px
(split from test_rep_day.py)."""

from __future__ import annotations

import contextlib
import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from leads.accounts import roles
from leads.embedding.services import embed_companies
from leads.imports.services import create_job, run_import
from leads.models import FIRST_PROFILE_ID, Company, ScoreChange
from leads.owners import services as owners
from leads.scoring import labels
from leads.scoring import services as scores
from tests.browser_helpers import CHROMIUM, log_in
from tests.conftest import DEMO_CSV
from tests.test_browser import keyboard_ready, labelled_world, rows

pytestmark = pytest.mark.django_db(transaction=True)


browser = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")


PHONE_PAGES = {
    "rep": ["/", "/companies/{company}/", "/label-next/", "/changes/", "/map/", "/account/token"],
    "manager": ["/", "/imports/", "/imports/{job}/", "/review/", "/changes/"],
}


# The band chips and scores wider than their table cell, as [text, by how many px].
STICKING_OUT = """() => [...document.querySelectorAll('td .band, td .score')].map(el => {
    const cell = el.closest('td').getBoundingClientRect(), box = el.getBoundingClientRect();
    return [el.textContent.trim(), Math.round(box.right - cell.right)];
}).filter(([, over]) => over > 0)"""


# Words broken across two lines (the narrow screen's "Lik/e", "COMP/ANY", "Eiskal/t Logist/ik"), as
# [element, word]: a word whose range draws on two lines. Buttons, headings, names and chips.
BROKEN_WORDS = """() => {
    const broken = [];
    for (const el of document.querySelectorAll('.label-buttons button, th, td > a, td .reason, td .band')) {
        if (!el.offsetParent) continue;  // hidden on a phone
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const match of node.textContent.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                if (tops.size > 1) broken.push([el.tagName.toLowerCase(), match[0]]);
            }
        }
    }
    return broken;
}"""


@browser
@pytest.mark.browser
def test_no_page_of_either_role_scrolls_sideways_on_a_phone(live_server, browser, fake_encoder, alice, bob):
    from django.contrib.auth.models import Group

    from leads.accounts import roles
    from leads.models import ImportJob

    brewing, software = labelled_world(alice)
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    long = "A" * 120
    job = ImportJob.objects.create(
        original_name=f"{long}.csv", state=ImportJob.State.DONE, rejected=1,
        rejected_rows=[{"line": 7, "reason": f"the website {long}.com is not a web address", "values": [long]}],
    )  # fmt: skip
    ids = {"company": brewing["Maltworks Brewing"].pk, "job": job.pk}
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=software["Bytecraft"], user=alice, source="click", verdict="like"
    )
    scores.apply_label_changes(FIRST_PROFILE_ID)
    assert ScoreChange.objects.exists()  # /changes/ lists some
    for user, password, role in ((alice, "alice-password-1", "rep"), (bob, "bob-password-1", "manager")):
        context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
        page = context.new_page()
        try:
            log_in(page, live_server, user.username, password)
            for path in PHONE_PAGES[role]:
                page.goto(live_server.url + path.format(**ids))
                width = page.evaluate("document.scrollingElement.scrollWidth")
                assert width <= 375, f"{path} as {role} is {width} px wide on a 375 px screen"
                sticking = page.evaluate(STICKING_OUT)  # a band chip under the Like button
                assert not sticking, f"{path} as {role}: {sticking} stick out of their cells"
                broken = page.evaluate(BROKEN_WORDS)
                assert not broken, f"{path} as {role}: words broken across lines {broken}"
        finally:
            context.close()


@contextlib.contextmanager
def on_a_phone(browser, live_server):
    """A 375 x 740 touch screen, logged in as alice on the dashboard, its keys listening."""
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        log_in(page, live_server)
        keyboard_ready(page)
        yield page
    finally:
        context.close()


# What a tap lands on at the centre of the note's text (left of its Undo button): a row's button
# or cell, or the note itself.
TAP_ON_NOTE = """() => {
    const note = document.getElementById('toast'), box = note.getBoundingClientRect();
    const undo = note.querySelector('[data-undo]').getBoundingClientRect();
    const x = (box.left + undo.left) / 2, y = box.top + box.height / 2;
    const hit = document.elementFromPoint(x, y);
    return {onNote: note.contains(hit), inRow: Boolean(hit && hit.closest('tr[data-company]'))};
}"""


@browser
@pytest.mark.browser
def test_on_a_phone_a_tap_on_the_note_goes_to_the_row_under_it(live_server, browser, fake_encoder, alice):
    """At 390 px the note after a verdict sat on the row just below the one tapped: the next tap on
    that row's Like button hit the note instead."""
    labelled_world(alice)
    with on_a_phone(browser, live_server) as page:
        rows(page).nth(1).locator("button[value=like]").tap()
        note = page.locator("#toast")
        expect(note).to_contain_text("Scores update")
        page.evaluate("window.scrollTo(0, 120)")  # some row under the note
        hit = page.evaluate(TAP_ON_NOTE)
        assert not hit["onNote"] and hit["inRow"], hit
        undo = note.locator("[data-undo]").bounding_box()
        assert page.evaluate(
            f"document.elementFromPoint({undo['x'] + undo['width'] / 2}, {undo['y'] + undo['height'] / 2}).closest('[data-undo]') !== null"
        )  # its own Undo still takes a tap


@browser
@pytest.mark.browser
def test_on_a_phone_the_selection_bar_covers_no_row_or_page_link(live_server, browser, fake_encoder, alice):
    labelled_world(alice)
    with on_a_phone(browser, live_server) as page:
        for i in range(3):
            rows(page).nth(i).locator(".pick").check()
        bar = page.locator("[data-bulk]")
        expect(bar).to_be_visible()
        page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
        last = page.locator("#companies tbody tr").last.bounding_box()
        assert last["y"] + last["height"] <= bar.bounding_box()["y"], "the bar covers the last row"


@browser
@pytest.mark.browser
def test_on_a_phone_the_first_companies_show_and_the_controls_unfold(live_server, browser, fake_encoder, alice):
    labelled_world(alice)
    with on_a_phone(browser, live_server) as page:
        band = page.get_by_label("Score band")
        expect(band).to_be_hidden()
        first = rows(page).first.bounding_box()
        # The menu is one line: at 48% down the screen (the menu in three lines) the list was half hidden.
        assert first["y"] < 740 * 0.42, f"the first company starts at y={first['y']:.0f} of 740"
        page.get_by_role("button", name="Filters and order").click()
        expect(band).to_be_visible()
        band.select_option("unlikely")  # a control that is on stays unfolded
        expect(page).to_have_url(re.compile(r"band=unlikely"))
        expect(page.get_by_label("Score band")).to_be_visible()
        expect(page.get_by_role("button", name="Filters and order (1 on)")).to_be_visible()


@browser
@pytest.mark.browser
def test_the_admins_company_list_shows_every_column_on_a_laptop(
    live_server, browser, fake_encoder, bob, django_user_model
):
    """The demo's companies as `make run` imports them (long names, websites, an import's name, who
    labelled each and when), scored, some owned: every column within a 1366 px laptop screen."""
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    rep = django_user_model.objects.create_user("charlotte.vandenberghe@northwind-sales.example")
    rep.groups.set([Group.objects.get(name=roles.REP)])
    job = run_import(create_job(path=DEMO_CSV, original_name="hubspot-companies-export-2026-12-07.csv", user=rep))
    embed_companies(list(Company.objects.values_list("pk", flat=True)))
    scores.rescore_all(FIRST_PROFILE_ID)
    owned = Company.objects.order_by("pk").values_list("pk", flat=True)
    owners.assign_companies(ids=list(owned[:40]), owner=rep, by=bob)
    assert (job.created, job.labels) == (72, 10)  # labelled by the rep, from an import
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    try:
        log_in(page, live_server, "bob", "bob-password-1")
        page.goto(f"{live_server.url}/admin/leads/company/")
        table = page.locator("#result_list")
        headings = table.locator("thead th").all_inner_texts()
        assert [h.strip().upper() for h in headings][-4:] == ["IMPORT JOB", "EMPLOYEES", "FOUNDED", "REVENUE"]
        right = table.locator("thead th").last.evaluate("th => th.getBoundingClientRect().right")
        assert right <= 1366 and page.evaluate("document.scrollingElement.scrollWidth") <= 1366
        shown = page.locator("#changelist .results").evaluate("e => e.scrollWidth <= e.clientWidth")
        assert shown, "the list scrolls inside itself: a column is cut"
    finally:
        context.close()


@browser
@pytest.mark.browser
def test_on_a_phone_label_next_says_why_each_company_is_there(live_server, browser, fake_encoder, alice):
    """A phone hides the reason's column: it showed only the chip ("unexplored"), not the sentence."""
    labelled_world(alice)
    with on_a_phone(browser, live_server) as page:
        page.goto(live_server.url + "/label-next/")
        first = rows(page).first
        expect(first.locator(".why-detail")).to_be_visible()
        expect(first.locator(".why-detail")).to_have_text(re.compile(r"\w+ \w+ \w+"))
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 375, f"label next is {width} px wide on a 375 px screen"
