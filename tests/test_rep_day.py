"""A rep's day: nothing moves under the pointer, the selected row shows, the change log says
what made each move."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.companies import changes as company_changes
from leads.companies import filters
from leads.models import FIRST_PROFILE_ID, Company, Label, Profile, ScoreChange
from leads.models.scores import signed
from leads.scoring import changes, labels
from leads.scoring import services as scores
from tests.browser_helpers import CHROMIUM, log_in
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


def test_a_move_is_logged_exactly_when_the_fit_as_shown_changed():
    """The log's rule, in numpy for a pass's thousands of moves, is the page's: `signed`, two
    decimals. Random fits and moves, and fits at and next to a half hundredth (0.125, 0.005 +/- an
    ulp), where x * 100 alone can round the other way."""
    rng = np.random.default_rng(3)
    halves = (np.arange(-200, 200) + 0.5) / 100
    fits = np.concatenate([rng.uniform(-1, 1, 4000), halves, np.nextafter(halves, 2), np.nextafter(halves, -2)])
    moves = np.concatenate([rng.normal(0, 0.01, 4000), np.full(3 * len(halves), 0.0)])
    moved = np.concatenate([fits[1:], fits[:1]])  # each half-hundredth fit against its neighbours too
    before = dict(enumerate(fits.tolist()))
    after = {
        i: float(np.clip(fit + move, -1, 1)) if move else moved[i] for i, (fit, move) in enumerate(zip(fits, moves))
    }
    ids, _, _ = changes.moved_visibly(before, after)
    expected = [i for i in before if signed(before[i]) != signed(after[i])]
    assert ids.tolist() == expected
    assert 0 < len(expected) < len(before)


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
