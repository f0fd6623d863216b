"""Headless Chromium for the browser tests (Debian's chromium, driven by Playwright; never a
downloaded browser). conftest registers the fixtures `browser` and `page` for every test module."""

from __future__ import annotations

import re

import pytest

# One definition of where Chromium is and how it runs headless: the screenshots command's.
from leads.management.commands.screenshots import ARGS as CHROMIUM_ARGS
from leads.management.commands.screenshots import CHROMIUM


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls are still synchronous.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def log_in(page, live_server, username="alice", password="alice-password-1"):
    from playwright.sync_api import expect

    page.goto(live_server.url)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name=f"Log out {username}")).to_be_visible()
