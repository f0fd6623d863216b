"""A rep's day: nothing moves under the pointer, the selected row shows, the change log says
what made each move."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from leads.accounts import roles
from leads.companies import changes as company_changes
from leads.companies import filters
from leads.embedding.services import embed_companies
from leads.imports.services import create_job, run_import
from leads.models import FIRST_PROFILE_ID, Company, Label, Profile, ScoreChange
from leads.owners import services as owners
from leads.scoring import changes, labels
from leads.scoring import services as scores
from tests.browser_helpers import CHROMIUM, log_in
from tests.conftest import DEMO_CSV
from tests.test_browser import keyboard_ready, labelled_world, row_of, rows
from tests.web_helpers import logged_in

pytestmark = pytest.mark.django_db(transaction=True)


# --- The change log ----------------------------------------------------------------------------


def test_a_move_too_small_to_see_is_not_logged():
    Profile.first()  # as a pass finds it: made by migration, or by the first verdict after a flush
    at = timezone.now()
    before, after = {1: 0.281, 2: 0.30, 3: None, 4: 0.244}, {1: 0.283, 2: 0.34, 3: 0.1, 4: 0.236}
    changes.record(FIRST_PROFILE_ID, before, after, causes=[9], verdicts=["like"], at=at)
    assert sorted(ScoreChange.objects.values_list("company_id", flat=True)) == [2, 3]  # 4: 0.24 -> 0.24 as shown


def test_each_move_names_the_verdicts_among_its_own_neighbours(fake_encoder, alice, bob, settings):
    """Two reps' verdicts taken by one pass, a brewery liked and a software company disliked: a
    brewery's move is blamed on the like, a software company's on the dislike (every move named
    both). With k = 2 each score cites two of the four labelled companies."""
    settings.SCORING_K = 2
    brewing, software = labelled_world(alice)
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=software["Stackline"], user=alice, source="click", verdict="dislike"
    )
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=brewing["Barrel Ales"], user=alice, source="click", verdict="like"
    )
    scores.rescore_all(FIRST_PROFILE_ID)
    since = timezone.now() - timedelta(seconds=1)
    maltworks, bytecraft = brewing["Maltworks Brewing"], software["Bytecraft"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=maltworks, user=alice, source="click", verdict="like")
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=bytecraft, user=bob, source="click", verdict="dislike")
    scores.apply_label_changes(FIRST_PROFILE_ID)
    logged = {c.company_id: (c.causes, c.cause_verdicts) for c in ScoreChange.objects.filter(changed_at__gte=since)}
    assert logged, "the pass moved some fit"
    industry = dict(Company.objects.values_list("pk", "industry"))
    for company_id, (causes, verdicts) in logged.items():
        assert len(causes) == 1, (company_id, causes)  # one verdict each: its own, or its neighbour's
        assert industry[causes[0]] == industry[company_id]  # a brewery's move by the brewery's like
        assert verdicts == ["like" if causes == [maltworks.pk] else "dislike"]
    found = company_changes.explained_changes(profile_id=FIRST_PROFILE_ID, since=since)
    assert all(len(change.causes) == 1 for change in found)


def test_a_change_none_of_whose_neighbours_changed_names_every_cause():
    """A score of fewer than k neighbours cites every labelled company: no pass can say which one
    moved it, so it names them all; the pass's own companies name themselves."""
    Profile.first()
    at = timezone.now()
    changes.record(
        FIRST_PROFILE_ID, {1: 0.1, 2: 0.1, 8: 0.5}, {1: 0.5, 2: 0.5, 8: None},
        causes=[8, 9], verdicts=["like", "dislike"], cited_before={1: {9}}, at=at,
    )  # fmt: skip
    logged = dict(ScoreChange.objects.values_list("company_id", "causes"))
    assert logged == {1: [9], 2: [8, 9], 8: [8]}


def test_the_log_says_the_verdict_that_made_each_move_not_the_current_one(fake_encoder, alice):
    brewing, software = labelled_world(alice)
    since = timezone.now() - timedelta(seconds=1)
    bytecraft = software["Bytecraft"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=bytecraft, user=alice, source="click", verdict="dislike")
    scores.apply_label_changes(FIRST_PROFILE_ID)
    labels.label_company(
        profile_id=FIRST_PROFILE_ID, company=bytecraft, user=alice, source="click", verdict="clear"
    )  # undone
    scores.apply_label_changes(FIRST_PROFILE_ID)

    logged = list(ScoreChange.objects.order_by("changed_at").values_list("cause_verdicts", flat=True))
    assert logged[0] == ["dislike"] and logged[-1] == ["clear"]
    found = company_changes.explained_changes(profile_id=FIRST_PROFILE_ID, since=since)
    assert found.paginator.count == len(logged) and {c.causes[0].verdict for c in found} == {"dislike", "clear"}

    client = logged_in(alice)
    page = client.get("/changes/", {"since": since.isoformat()}).content.decode()
    assert "Bytecraft</a> (disliked)" in page and "Bytecraft</a> (cleared)" in page
    assert '<span class="band band-' in page  # each new fit with the evidence it stands on
    assert f"Scores changed since {timezone.localtime(since):%H:%M:%S}" in page
    assert "an hour ago" not in client.get("/changes/").content.decode()
    # Bytecraft's own clear gave it a fit again: it was labelled before, not unscored.
    row = page.split(">Bytecraft</a></td>", 1)[1].split("</tr>", 1)[0]
    assert '<span class="muted">labelled</span> → ' in page and "none" not in row
    for bad in ("garbage", " ", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1999-12-31T00:00:00"):
        for url in ("/changes/", "/scores/changes"):
            response = client.get(url, {"since": bad})
            assert response.status_code == 400 and "since must be an iso date and time from 2000" in (
                response.content.decode().lower()
            ), (url, bad)
    for bad in ("abc", "0", "²"):
        response = client.get("/changes/", {"page": bad})
        assert response.status_code == 400 and f"page must be a whole number from 1 to 1,000,000 (got {bad!r})" in (
            response.content.decode()
        )


def test_the_log_pages_through_every_change_since_a_verdict_biggest_first():
    Profile.first()
    since = timezone.now() - timedelta(minutes=1)
    first = timezone.now()
    changes.record(
        FIRST_PROFILE_ID,
        {i: 0.0 for i in range(150)},
        {i: i / 200 + 0.01 for i in range(150)},
        causes=[999],
        verdicts=["like"],
        at=first,
    )
    changes.record(
        FIRST_PROFILE_ID, {1000: 0.0}, {1000: 0.05}, causes=[998], verdicts=["dislike"], at=first + timedelta(seconds=5)
    )
    page_one = company_changes.explained_changes(profile_id=FIRST_PROFILE_ID, since=since)
    page_two = company_changes.explained_changes(profile_id=FIRST_PROFILE_ID, since=since, page=2)
    assert page_one.paginator.count == 151 and len(page_one) == company_changes.CHANGES_PER_PAGE and len(page_two) == 51
    moves = [abs(c.new_fit - c.old_fit) for c in [*page_one, *page_two]]
    assert moves == sorted(moves, reverse=True)
    assert 0 in {c.company_id for c in page_two}  # the first verdict's smallest move is still there
    assert (
        company_changes.explained_changes(profile_id=FIRST_PROFILE_ID, since=since, page="x²").number == 1
    )  # a bad page number: the first


# --- The dashboard in the browser ----------------------------------------------------------------

browser = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")


@browser
@pytest.mark.browser
def test_no_notice_moves_the_rows_under_the_pointer(live_server, page, fake_encoder, alice):
    brewing, software = labelled_world(alice)
    log_in(page, live_server)
    page.goto(live_server.url + "/?show=unlabelled")  # no row has a Clear button yet: a verdict adds one
    keyboard_ready(page)
    target = row_of(page, "Stackline").locator("button[value=dislike]")
    before = target.bounding_box()

    row_of(page, "Bytecraft").locator("button[value=like]").click()
    page.locator("#toast").wait_for(state="visible")
    scores.apply_label_changes(FIRST_PROFILE_ID)  # what the worker does: the page then shows "N scores changed"
    page.locator("#changes").wait_for(state="visible", timeout=15_000)
    expect(page.locator("#toast")).to_contain_text("Bytecraft: liked. Scores updated.")  # not "in a moment" still
    after = target.bounding_box()
    assert (after["x"], after["y"]) == (before["x"], before["y"])

    # A second click where the button was before the first: it lands on the same company.
    page.mouse.click(before["x"] + before["width"] / 2, before["y"] + before["height"] / 2)
    page.wait_for_function("() => document.querySelector('#toast').textContent.includes('Stackline')")
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=software["Stackline"].pk).verdict == "dislike"
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=software["Bytecraft"].pk).verdict == "like"


@browser
@pytest.mark.browser
@pytest.mark.parametrize("where", ["/?show=unlabelled", "/label-next/"])
def test_keys_typed_fast_each_go_to_the_row_they_were_meant_for(live_server, page, fake_encoder, alice, where):
    """l d l d pressed 30 ms apart: each row below the last gets one verdict, the one meant for it
    (a key pressed before the row's answer came went to the same row again, or was lost)."""
    labelled_world(alice)
    log_in(page, live_server)
    page.goto(live_server.url + where)
    keyboard_ready(page)
    names = rows(page).locator("td:first-child a").all_inner_texts()[:4]
    assert len(names) == 4
    page.keyboard.press("j")
    for key in "ldld":
        page.keyboard.press(key)
        page.wait_for_timeout(30)
    for name, verdict in zip(names, ["like", "dislike", "like", "dislike"]):
        expect(row_of(page, name).locator(f".badge.{verdict}, button.{verdict}.on")).not_to_have_count(0)
    wanted = dict(zip(names, ["like", "dislike", "like", "dislike"]))
    given = Label.objects.filter(company__name__in=names).values_list("company__name", "verdict")
    assert sorted(given) == sorted(wanted.items())  # one label each: none twice, none lost
    # Back up and change one's mind at once: both verdicts go to that row, in order (the second was
    # refused while the first was on its way, and the keys after it slid a row).
    for key in "kklkd":  # from the last row back to the second: like it, back again, dislike it
        page.keyboard.press(key)
    page.wait_for_timeout(1500)
    second = list(
        Label.objects.filter(company__name=names[1]).order_by("created_at", "pk").values_list("verdict", flat=True)
    )
    assert second == ["dislike", "like", "dislike"]
    assert Label.objects.filter(company__name__in=[names[0], *names[2:]]).count() == 3  # the others untouched
    # Like, undo and dislike at once: the undo takes back that like (not one before it) and selects
    # its row, so the dislike goes there too, after the undo (keys after a u went a row off).
    for key in "lud":  # the selection is on the third row
        page.keyboard.press(key)
    page.wait_for_timeout(2000)
    third = list(
        Label.objects.filter(company__name=names[2]).order_by("created_at", "pk").values_list("verdict", flat=True)
    )
    assert third == ["like", "like", "like", "dislike"]  # given, given again, undone to the like before, disliked
    assert Label.objects.filter(company__name=names[3]).count() == 1


@browser
@pytest.mark.browser
def test_the_selected_row_is_framed(live_server, page, fake_encoder, alice):
    labelled_world(alice)
    log_in(page, live_server)
    keyboard_ready(page)
    page.keyboard.press("j")
    selected = rows(page).nth(0)
    shadow = selected.locator("td").first.evaluate("cell => getComputedStyle(cell).boxShadow")
    background = selected.locator("td").nth(1).evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert "rgb(43, 95, 217)" in shadow  # the accent colour frames it
    unselected = rows(page).nth(1).locator("td").nth(1).evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert background != unselected


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


# --- Filters that say what exists ----------------------------------------------------------------


def test_the_industry_and_country_filters_offer_existing_values_and_say_what_was_meant(alice):
    from django.core.cache import cache

    cache.clear()  # the values are kept for FILTER_VALUES_SECONDS: not another test's
    for i, (industry, country) in enumerate(
        [("Food Production", "DE"), ("Food Production", "DE"), ("Food & Beverage", "FR"), ("Seafood", "NO")]
    ):
        Company.objects.create(name=f"Company {i}", dedupe_key=f"company-{i}", industry=industry, country=country)
    assert filters.filter_values("industry")[0] == "Food Production"  # the commonest first
    assert filters.close_values(filters.filter_values("industry"), "food") == [
        "Food Production", "Food & Beverage", "Seafood",
    ]  # fmt: skip

    client = logged_in(alice)
    page = client.get("/", {"industry": "Food"}).content.decode()
    assert "No companies match these filters. Did you mean" in page
    assert 'href="?industry=Food+Production" data-did-you-mean>industry “Food Production”</a>' in page
    assert '<datalist id="industries"><option value="Food Production"><option value="Food &amp; Beverage">' in page
    followed = client.get("/", {"industry": "Food Production"}).content.decode()
    assert "Company 0" in followed and "Did you mean" not in followed
    assert "Did you mean" not in client.get("/", {"industry": "Nothing like it"}).content.decode()


def test_a_verdict_on_label_next_gives_back_label_next_s_row(fake_encoder, alice):
    brewing, software = labelled_world(alice)
    client = logged_in(alice)
    stackline = software["Stackline"]
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/label-next/"}
    row = client.post(f"/companies/{stackline.pk}/label", {"verdict": "like"}, **htmx).content.decode()
    cells = row.split("</tr>", 1)[0].count("<td")
    assert cells == 5 and 'class="pick"' not in row  # label next's columns, no dashboard checkbox
    assert '<span class="reason">Liked</span>' in row
    on_dashboard = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/?show=unlabelled"}
    row = client.post(f"/companies/{stackline.pk}/label", {"verdict": "clear"}, **on_dashboard).content.decode()
    assert 'class="pick"' in row and row.split("</tr>", 1)[0].count("<td") == 6


def test_label_next_s_keyboard_help_lists_only_the_keys_that_work_there(fake_encoder, alice):
    labelled_world(alice)
    client = logged_in(alice)
    help_of = lambda url: client.get(url).content.decode().split('<dialog id="help"', 1)[1].split("</dialog>")[0]  # noqa: E731
    assert "<kbd>/</kbd>" in help_of("/") and "<kbd>x</kbd>" in help_of("/")
    on_label_next = help_of("/label-next/")
    assert (
        "<kbd>/</kbd>" not in on_label_next and "<kbd>x</kbd>" not in on_label_next and "<kbd>l</kbd>" in on_label_next
    )


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
