"""Screenshots of the running app for the README: `make run` in one terminal, then
`python manage.py screenshots` in another (Debian's chromium, driven by Playwright)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
DESKTOP, PHONE = {"width": 1366, "height": 860}, {"width": 375, "height": 780}


class Command(BaseCommand):
    help = (
        "Save screenshots of a rep's pages (desktop and phone) and a manager's (review, imports, changes, the admin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running app (make run)")
        parser.add_argument(
            "--username", default="rep", help="a sales rep: the dashboard, a company, label next, the map"
        )
        parser.add_argument("--manager", default="manager", help="a sales manager: review, imports, changes, the admin")
        parser.add_argument("--password", default="leads-demo", help="both demo users' password")
        parser.add_argument("--out", default="docs/screenshots", type=Path)

    def handle(self, *args, url, username, manager, password, out, **options):
        if not CHROMIUM.exists():
            raise CommandError("needs Chromium at /usr/bin/chromium (apt-get install chromium)")
        from playwright.sync_api import Error, sync_playwright

        out.mkdir(parents=True, exist_ok=True)
        url = url.rstrip("/")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                saved = self._rep(browser, url, username, password, out)
                saved += self._manager(browser, url, manager, password, out)
                browser.close()
        except Error as error:
            raise CommandError(
                f"could not take the screenshots ({error.message.splitlines()[0]}): is the app running at {url}?"
            ) from None
        for path in saved:
            self.stdout.write(f"Saved {path}")

    def _log_in(self, browser, url, username, password, viewport):
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        page = context.new_page()
        page.goto(f"{url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/")
        return context, page

    def _rep(self, browser, url, username, password, out) -> list[Path]:
        saved = []
        context, page = self._log_in(browser, url, username, password, DESKTOP)
        page.wait_for_selector("body[data-keyboard=ready]", state="attached")
        page.keyboard.press("j")
        saved.append(self._save(page, out / "dashboard.png"))
        company = page.locator("table.companies tbody tr a[data-open]").first.get_attribute("href")
        page.goto(f"{url}{company}")
        saved.append(self._save(page, out / "company.png", full_page=True))
        page.goto(f"{url}/?q=cold+storage")
        saved.append(self._save(page, out / "search.png"))
        page.goto(f"{url}/label-next/")
        saved.append(self._save(page, out / "label-next.png"))
        page.goto(f"{url}/map/")
        page.wait_for_timeout(1500)  # the points load after the page
        saved.append(self._save(page, out / "map.png"))
        context.close()
        context, page = self._log_in(browser, url, username, password, PHONE)
        saved.append(self._save(page, out / "phone-dashboard.png"))
        page.goto(f"{url}{company}")
        saved.append(self._save(page, out / "phone-company.png"))
        page.goto(f"{url}/label-next/")
        saved.append(self._save(page, out / "phone-label-next.png"))
        context.close()
        return saved

    def _manager(self, browser, url, username, password, out) -> list[Path]:
        saved = []
        context, page = self._log_in(browser, url, username, password, DESKTOP)
        for path, name in (
            ("/review/", "review"),
            ("/imports/", "imports"),
            ("/changes/", "changes"),
            ("/admin/leads/company/", "admin"),
        ):
            page.goto(f"{url}{path}")
            saved.append(self._save(page, out / f"manager-{name}.png"))
        context.close()
        context, page = self._log_in(browser, url, username, password, PHONE)
        page.goto(f"{url}/review/")
        saved.append(self._save(page, out / "phone-manager-review.png"))
        context.close()
        return saved

    def _save(self, page, path: Path, full_page: bool = False) -> Path:
        page.screenshot(path=str(path), full_page=full_page)
        return path
