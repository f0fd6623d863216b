"""Screenshots of the running app for the README: `make run` in one terminal, then
`python manage.py screenshots` in another (Debian's chromium, driven by Playwright)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


class Command(BaseCommand):
    help = "Save screenshots of the dashboard, a company, Label next, the map and the phone view."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running app (make run)")
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="leads-demo")
        parser.add_argument("--out", default="docs/screenshots", type=Path)

    def handle(self, *args, url, username, password, out, **options):
        if not CHROMIUM.exists():
            raise CommandError("needs Chromium at /usr/bin/chromium (apt-get install chromium)")
        from playwright.sync_api import Error, sync_playwright

        out.mkdir(parents=True, exist_ok=True)
        url = url.rstrip("/")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                saved = self._shoot(browser, url, username, password, out)
                browser.close()
        except Error as error:
            raise CommandError(
                f"could not take the screenshots ({error.message.splitlines()[0]}): is the app running at {url}?"
            ) from None
        for path in saved:
            self.stdout.write(f"Saved {path}")

    def _shoot(self, browser, url, username, password, out) -> list[Path]:
        saved = []
        for name, viewport in (("desktop", {"width": 1280, "height": 860}), ("phone", {"width": 375, "height": 780})):
            context = browser.new_context(viewport=viewport, device_scale_factor=1)
            page = context.new_page()
            page.goto(f"{url}/accounts/login/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")
            if name == "phone":
                saved.append(self._save(page, out / "phone-dashboard.png"))
                context.close()
                continue
            page.wait_for_selector("body[data-keyboard=ready]", state="attached")
            page.keyboard.press("j")
            saved.append(self._save(page, out / "dashboard.png"))
            page.locator("table.companies tbody tr a[data-open]").first.click()
            page.wait_for_load_state()
            saved.append(self._save(page, out / "company.png", full_page=True))
            page.goto(f"{url}/label-next/")
            saved.append(self._save(page, out / "label-next.png"))
            page.goto(f"{url}/map/")
            page.wait_for_timeout(1500)  # the points load after the page
            saved.append(self._save(page, out / "map.png"))
            context.close()
        return saved

    def _save(self, page, path: Path, full_page: bool = False) -> Path:
        page.screenshot(path=str(path), full_page=full_page)
        return path
