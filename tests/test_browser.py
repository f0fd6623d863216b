"""The dashboard and company pages in headless Chromium, against pytest-django's live server."""

from __future__ import annotations

import re

import pytest

from tests.browser_helpers import CHROMIUM, log_in

if not CHROMIUM.exists():
    pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from leads.embedding.services import embed_companies  # noqa: E402
from leads.models import (
    FIRST_PROFILE_ID,
    Company,  # noqa: E402
)
from leads.scoring.labels import label_company  # noqa: E402
from leads.scoring.services import rescore_all  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BREWERIES = {
    "Hopfield Brewery": "Craft beer brewery brewing lager and stout.",
    "Maltworks Brewing": "Beer brewery brewing lager, ale and stout.",
    "Barrel Ales": "Brewery brewing beer: ale, porter and stout.",
}
SOFTWARE = {
    "Codeforge": "Software developer tools for code review.",
    "Bytecraft": "Software for developer teams: code search and code review.",
    "Stackline": "Developer software: code hosting and tools.",
}


def make_companies(rows: dict[str, str], industry: str, country: str = "Belgium") -> dict[str, Company]:
    return {
        name: Company.objects.create(name=name, description=text, industry=industry, country=country)
        for name, text in rows.items()
    }


def labelled_world(alice) -> tuple[dict[str, Company], dict[str, Company]]:
    """Three breweries and three software companies, embedded; alice likes Hopfield Brewery and
    dislikes Codeforge; the other four scored."""
    brewing = make_companies(BREWERIES, "Brewing")
    software = make_companies(SOFTWARE, "Software")
    embed_companies([c.pk for c in [*brewing.values(), *software.values()]])
    label_company(
        profile_id=FIRST_PROFILE_ID, company=brewing["Hopfield Brewery"], user=alice, source="click", verdict="like"
    )
    label_company(
        profile_id=FIRST_PROFILE_ID, company=software["Codeforge"], user=alice, source="click", verdict="dislike"
    )
    assert rescore_all(FIRST_PROFILE_ID) == 4
    return brewing, software


def keyboard_ready(page) -> None:
    """The page's script is deferred: wait until its shortcuts listen before pressing keys."""
    expect(page.locator("body[data-keyboard=ready]")).to_have_count(1)


def rows(page):
    return page.locator("table.companies tbody tr")


def row_of(page, name: str):
    return rows(page).filter(has=page.get_by_role("link", name=name, exact=True))


def listed_names(page) -> list[str]:
    return rows(page).locator("td:first-child a").all_inner_texts()


def test_it_logs_in_labels_a_company_and_shows_the_score_explanation(live_server, page, fake_encoder, alice):
    labelled_world(alice)

    log_in(page, live_server)
    expect(rows(page)).to_have_count(6)
    first = rows(page).first
    assert first.locator("td:first-child a").inner_text() in {"Maltworks Brewing", "Barrel Ales"}
    score = first.locator(".score")
    expect(score).to_have_class(re.compile(r"\bband-(strong|likely)\b"))
    assert float(score.inner_text()) > 0

    row_of(page, "Bytecraft").locator("button[value=like]").click()
    expect(page.locator("#toast")).to_contain_text("Bytecraft: liked. Scores update in a moment.")
    expect(row_of(page, "Bytecraft").locator(".badge.like")).to_have_text("Liked")
    expect(row_of(page, "Bytecraft").locator("button[value=like]")).to_have_class(re.compile(r"\bon\b"))
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name="Bytecraft").verdict == "like"
    page.screenshot(path="/tmp/leads-dashboard.png", full_page=True)

    page.get_by_role("link", name="Maltworks Brewing", exact=True).click()
    expect(page.get_by_role("heading", name="Maltworks Brewing")).to_be_visible()
    expect(page.get_by_role("heading", name="Why this score")).to_be_visible()
    neighbours = page.locator("table.neighbours tbody tr")
    expect(neighbours).to_have_count(2)
    expect(neighbours.nth(0)).to_contain_text("Hopfield Brewery")  # the nearest first
    expect(neighbours.nth(0).locator(".badge")).to_have_text("liked")
    expect(neighbours.nth(1)).to_contain_text("Codeforge")
    expect(neighbours.nth(1).locator(".badge")).to_have_text("disliked")
    expect(page.locator("p.explanation")).to_have_text(
        re.compile(r"^Fit [+-]0\.\d\d \(score \+0\.\d\d\): it is close to Hopfield Brewery, which you liked")
    )
    page.screenshot(path="/tmp/leads-company.png", full_page=True)


def test_it_filters_and_searches(live_server, page, alice):
    brewing = make_companies(BREWERIES, "Brewing")
    software = make_companies(SOFTWARE, "Software")
    label_company(
        profile_id=FIRST_PROFILE_ID, company=brewing["Hopfield Brewery"], user=alice, source="click", verdict="like"
    )
    label_company(
        profile_id=FIRST_PROFILE_ID, company=software["Codeforge"], user=alice, source="click", verdict="dislike"
    )
    everyone = sorted([*BREWERIES, *SOFTWARE])

    log_in(page, live_server)
    assert sorted(listed_names(page)) == everyone
    filters = page.get_by_role("navigation", name="Label filter")
    expected = {
        "Liked": ["Hopfield Brewery"],
        "Disliked": ["Codeforge"],
        "Labelled": ["Codeforge", "Hopfield Brewery"],
        "Unlabelled": ["Barrel Ales", "Bytecraft", "Maltworks Brewing", "Stackline"],
        "All": everyone,
    }
    for chip, names in expected.items():
        filters.get_by_text(chip, exact=True).click()
        expect(filters.locator("label.active")).to_have_text(chip)
        assert sorted(listed_names(page)) == names, chip

    page.get_by_role("searchbox", name="Search").fill("brew")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.locator("p.muted").first).to_contain_text("2 companies, best fit first.")
    assert sorted(listed_names(page)) == ["Hopfield Brewery", "Maltworks Brewing"]
    filters.get_by_text("Unlabelled", exact=True).click()  # the search is kept
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("brew")
    assert listed_names(page) == ["Maltworks Brewing"]
    assert "show=unlabelled" in page.url and "q=brew" in page.url  # shareable
    assert page.url.split("?")[1] == "show=unlabelled&q=brew"  # and nothing left empty or at its default

    page.get_by_role("searchbox", name="Search").fill("no such company")
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("No companies match these filters.")


def test_it_shows_unembedded_and_unscored_companies(live_server, page, fake_encoder, alice):
    waiting = Company.objects.create(name="Fresh Import", description="A brewery nobody embedded yet.")
    embedded = Company.objects.create(name="Old Brewery", description="Beer brewery.", industry="Brewing")
    bare = Company.objects.create(name="Mystery Ltd", industry="Brewing")
    assert sorted(embed_companies([embedded.pk, bare.pk])) == sorted([embedded.pk, bare.pk])

    log_in(page, live_server)
    expect(row_of(page, "Fresh Import").locator("td:nth-child(4)")).to_have_text("waiting for embedding")
    expect(row_of(page, "Old Brewery").locator("td:nth-child(4)")).to_have_text("not scored")
    expect(row_of(page, "Mystery Ltd").locator("td:nth-child(4) .muted")).to_have_text("not scored")
    expect(row_of(page, "Mystery Ltd").locator(".flag")).to_have_text("name only")
    expect(page.locator(".flag")).to_have_count(1)

    page.goto(f"{live_server.url}/companies/{waiting.pk}/")
    expect(page.get_by_text("Waiting for the worker to embed this company's text.")).to_be_visible()
    page.goto(f"{live_server.url}/companies/{bare.pk}/")
    expect(page.locator("p.description")).to_have_text(re.compile(r"^No description: this company is scored from"))
    expect(page.get_by_text("Not scored: no company is labelled yet.")).to_be_visible()


def test_a_rep_labels_with_the_keyboard_undoes_and_sees_scores_change(live_server, page, fake_encoder, alice, tmp_path):
    from tests.worker_helpers import start_worker

    brewing = make_companies(BREWERIES, "Brewing")
    software = make_companies(SOFTWARE, "Software")
    embed_companies([c.pk for c in [*brewing.values(), *software.values()]])
    label_company(
        profile_id=FIRST_PROFILE_ID, company=brewing["Hopfield Brewery"], user=alice, source="click", verdict="like"
    )
    label_company(
        profile_id=FIRST_PROFILE_ID, company=software["Codeforge"], user=alice, source="click", verdict="dislike"
    )
    assert rescore_all(FIRST_PROFILE_ID) == 4
    worker = start_worker(tmp_path, "browser")  # rescores after each verdict, as in make run
    try:
        log_in(page, live_server)
        keyboard_ready(page)
        page.keyboard.press("?")
        expect(page.get_by_role("dialog")).to_contain_text("undo your last verdict")
        page.keyboard.press("Escape")

        page.keyboard.press("j")  # the first row
        first = rows(page).nth(0)
        expect(first).to_have_class(re.compile(r"\bselected\b"))
        name = first.locator("td:first-child a").inner_text()
        failed = []  # the first answer about the rescore fails (a restart): the page asks again

        def fail_once(route):
            if failed:
                route.continue_()
            else:
                failed.append(route.request.url)
                route.fulfill(status=503, body="restarting")

        page.route(re.compile(r"/scores/changes\?"), fail_once)
        page.keyboard.press("d")
        expect(row_of(page, name).locator(".badge.dislike")).to_have_text("Disliked")
        expect(rows(page).nth(1)).to_have_class(re.compile(r"\bselected\b"))  # on to the next
        expect(page.locator("#toast")).to_contain_text(f"{name}: disliked.")
        # The worker rescored: the scores on the page change in place, with a link to what changed.
        expect(page.locator("#changes")).to_contain_text(re.compile(r"\d+ scores? changed"), timeout=20_000)
        assert len(failed) == 1
        assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name=name).verdict == "dislike"

        page.keyboard.press("u")
        expect(row_of(page, name).locator(".badge")).to_have_count(0)
        expect(page.locator("#toast")).to_contain_text(f"Undone: {name} has no label again.")
        assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name=name).verdict == ""

        page.locator("#changes a").click()
        expect(page.get_by_role("heading", name=re.compile("Scores changed since"))).to_be_visible()
        expect(page.locator("table tbody tr").first).to_contain_text("→")
    finally:
        worker.stop()


def test_the_admins_list_shows_the_new_scores_after_a_bulk_like_without_a_reload(
    live_server, page, fake_encoder, alice, bob, tmp_path
):
    """A manager likes two companies with the admin's bulk action: the list watches the rescore the
    worker runs and shows their neighbours' new scores, nobody pressing reload."""
    from django.contrib.auth.models import Group

    from leads.accounts import roles
    from tests.test_end_to_end import scores_current, wait_until
    from tests.worker_helpers import start_worker

    labelled_world(alice)
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    worker = start_worker(tmp_path, "admin")  # rescores after each verdict, as in make run
    try:
        log_in(page, live_server, "bob", "bob-password-1")
        page.goto(f"{live_server.url}/admin/leads/company/")

        def row(name: str):
            return page.locator("#result_list tbody tr").filter(has=page.get_by_role("link", name=name, exact=True))

        old_fit = row("Barrel Ales").locator("td.field-score_value").inner_text()
        for name in ("Maltworks Brewing", "Bytecraft"):
            row(name).locator("input.action-select").check()
        page.locator("select[name=action]").select_option("mark_like")
        with page.expect_navigation():
            page.get_by_role("button", name="Go").click()
        # Its note ("2 companies changed", test_admin) may be gone already: a fast worker's pass has
        # the list reload itself before this line reads it.
        wait_until(worker, "the rescore after the likes", scores_current)
        assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name="Maltworks Brewing").verdict == "like"
        barrel = Company.objects.in_profile(FIRST_PROFILE_ID).get(name="Barrel Ales")
        assert not old_fit.startswith(barrel.score.signed_fit)  # its fit moved
        # The list shows it: it watched the pass and reloaded itself once, saying so.
        expect(row("Barrel Ales").locator("td.field-score_value")).to_contain_text(barrel.score.signed_fit)
        expect(page.locator("#score-watch")).to_contain_text(
            re.compile(r"The neighbours' scores are updated \(\d+ scores? changed\)")
        )
        expect(row("Maltworks Brewing").locator("td.field-verdict")).to_have_text("Liked")
    finally:
        worker.stop()


def test_the_dashboard_fits_a_phone(live_server, browser, fake_encoder, alice, bob):
    brewing, software = labelled_world(alice)  # scores and bands on the page
    label_company(
        profile_id=FIRST_PROFILE_ID, company=software["Codeforge"], user=bob, source="click", verdict="like"
    )  # a disagreement flag
    assert rescore_all(FIRST_PROFILE_ID) == 4
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        log_in(page, live_server)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 375, f"the page is {width} px wide on a 375 px screen"
        expect(rows(page).first).to_be_in_viewport()  # the first company shows without scrolling
        button = row_of(page, "Barrel Ales").locator("button[value=like]")
        button.scroll_into_view_if_needed()  # where it sits in the list depends on its fit
        expect(button).to_be_in_viewport()
        box = button.bounding_box()
        assert box["height"] >= 36 and box["x"] + box["width"] <= 375  # a thumb reaches it
        button.tap()
        expect(row_of(page, "Barrel Ales").locator(".badge.like")).to_have_text("Liked")
    finally:
        context.close()


def test_a_rep_works_through_label_next(live_server, page, fake_encoder, alice):
    brewing = make_companies(BREWERIES, "Brewing")
    software = make_companies(SOFTWARE, "Software")
    embed_companies([c.pk for c in [*brewing.values(), *software.values()]])
    log_in(page, live_server)
    page.get_by_role("link", name="Label next", exact=True).click()
    expect(page.locator("p.card")).to_contain_text("Nothing is labelled yet")  # cold start: a spread sample
    expect(rows(page)).to_have_count(6)

    label_company(
        profile_id=FIRST_PROFILE_ID, company=brewing["Hopfield Brewery"], user=alice, source="click", verdict="like"
    )
    label_company(
        profile_id=FIRST_PROFILE_ID, company=software["Codeforge"], user=alice, source="click", verdict="dislike"
    )
    assert rescore_all(FIRST_PROFILE_ID) == 4
    page.reload()
    expect(rows(page)).to_have_count(4)
    reasons = set(page.locator("td.wide .reason").all_inner_texts())
    assert reasons and reasons <= {"uncertain", "unexplored", "influential", "confirm"}
    first = rows(page).first.locator("td:first-child a").inner_text()
    keyboard_ready(page)
    page.keyboard.press("j")
    page.keyboard.press("l")
    expect(row_of(page, first).locator(".badge.like")).to_have_text("Liked")
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name=first).verdict == "like"


def test_the_dashboard_and_a_company_page_keep_to_the_content_security_policy(live_server, page, fake_encoder, alice):
    """No inline script, handler or eval is refused anywhere: the chips and the band menu still
    filter (their handlers live in dashboard.js), a verdict still swaps its row (htmx)."""
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.expose_function("reportViolation", lambda text: violations.append(text))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " window.reportViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));"
    )
    brewing = make_companies(BREWERIES, "Brewing")
    embed_companies([c.pk for c in brewing.values()])
    label_company(
        profile_id=FIRST_PROFILE_ID, company=brewing["Hopfield Brewery"], user=alice, source="click", verdict="like"
    )
    rescore_all(FIRST_PROFILE_ID)

    log_in(page, live_server)
    response = page.goto(live_server.url)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    keyboard_ready(page)
    filters = page.get_by_role("navigation", name="Label filter")
    filters.get_by_text("Unlabelled", exact=True).click()
    expect(filters.locator("label.active")).to_have_text("Unlabelled")
    page.get_by_label("Score band").select_option(index=1)
    expect(page).to_have_url(re.compile(r"band=\w+"))
    page.goto(live_server.url)
    row_of(page, "Barrel Ales").locator("button[value=like]").click()
    expect(row_of(page, "Barrel Ales").locator(".badge.like")).to_have_text("Liked")

    page.goto(f"{live_server.url}/companies/{brewing['Maltworks Brewing'].pk}/")
    expect(page.get_by_role("heading", name="Why this score")).to_be_visible()
    assert violations == []


@pytest.mark.parametrize("where", ["dashboard", "company page"])
def test_every_verdict_button_works_on_every_page_that_shows_it(live_server, page, fake_encoder, alice, where):
    """Like, dislike, then clear, clicked as a rep clicks them. The company page's buttons sent
    nothing (their htmx target was the closest table row, which that page has none of). Label
    next's buttons: test_label_next_s_like_and_dislike_buttons_work."""
    brewing, software = labelled_world(alice)
    log_in(page, live_server)
    target = "Barrel Ales"
    for verdict, expected in (("like", "like"), ("dislike", "dislike"), ("clear", "")):
        if where == "company page":
            page.goto(f"{live_server.url}/companies/{brewing[target].pk}/")
            buttons = page.locator("form.label-buttons")
        else:
            page.goto(live_server.url)
            buttons = row_of(page, target)
        buttons.locator(f"button[value={verdict}]").click()
        if where == "company page":  # a plain form: the page comes back with the verdict and a note
            expect(page.locator("p.message").first).to_contain_text(target)
            buttons = page.locator("form.label-buttons")
        if expected:
            expect(buttons.locator(f"button[value={verdict}]")).to_have_class(re.compile(r"\bon\b"))
        else:
            expect(buttons.locator("button[value=clear]")).to_have_count(0)
        assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name=target).verdict == expected, (where, verdict)


def test_label_next_s_like_and_dislike_buttons_work(live_server, page, fake_encoder, alice):
    brewing, software = labelled_world(alice)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/label-next/")
    for verdict, target in (("like", "Barrel Ales"), ("dislike", "Stackline")):
        row_of(page, target).locator(f"button[value={verdict}]").click()
        expect(row_of(page, target).locator(f"button[value={verdict}]")).to_have_class(re.compile(r"\bon\b"))
        assert Company.objects.in_profile(FIRST_PROFILE_ID).get(name=target).verdict == verdict
