"""Imports in headless Chromium: a manager uploads a CSV, maps its columns and watches the import
finish; the column mapping fits a laptop's screen and a phone's, every dropdown showing its choice whole."""

from __future__ import annotations

import re

import pytest

from tests.browser_helpers import CHROMIUM, log_in

if not CHROMIUM.exists():
    pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect  # noqa: E402

from leads.embedding.services import embed_companies  # noqa: E402
from leads.models import Company  # noqa: E402
from tests.test_browser import listed_names  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_upload_a_csv_map_its_columns_and_watch_the_import_finish(
    live_server, page, fake_encoder, staff, tmp_path
):
    from leads import tasks
    from leads.models import ImportJob

    csv_file = tmp_path / "prospects.csv"
    csv_file.write_text(
        "company,website,about,pitch,employees\n"
        "Hopfield Brewery,hopfield.com,Craft brewery making lager.,Loves cold chains,40\n"
        "Pixel Forge,pixelforge.dev,Developer tools for code review.,Big on CI,80\n"
        "Frostline,frostline.io,Refrigerated trucks.,Fleet of 40,300\n"
        ",nameless.example,A row without a name.,,\n"
    )
    log_in(page, live_server, "charlie", "charlie-password-1")
    page.get_by_role("link", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Import companies")).to_be_visible()
    page.get_by_label("CSV or Excel file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and preview").click()

    expect(page.get_by_role("heading", name="Preview: prospects.csv")).to_be_visible()
    job = ImportJob.objects.get()
    expect(page).to_have_url(f"{live_server.url}/imports/{job.pk}/")
    expect(page.get_by_text("Detected from the file. 4 rows.")).to_be_visible()
    expect(page.get_by_label("Column about")).to_have_value("description")
    expect(page.get_by_label("Column pitch")).to_have_value("extra")
    page.get_by_label("Column pitch").select_option("description")
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.get_by_role("heading", name="Import: prospects.csv")).to_be_visible()
    progress = page.locator("#import-progress")
    field = lambda name: progress.locator(f'[data-field="{name}"]')  # noqa: E731
    expect(field("state_display")).to_have_text("Queued")
    expect(progress.locator('[data-show="finished"]')).to_be_hidden()
    with page.expect_response(lambda response: response.url.endswith("/progress")):
        pass  # a second poll: the first one's answer is drawn
    expect(progress.locator(".progress-row").first).to_contain_text("0 of 4", use_inner_text=True)  # counted on upload
    expect(progress.locator('[data-show="rows-estimated"]')).to_be_hidden()  # not "0 of about 4"

    tasks.run_import(job.pk)  # the worker's part, while the page polls
    companies = Company.objects.filter(import_job=job)
    assert embed_companies(companies.values_list("pk", flat=True))

    expect(field("state_display")).to_have_text("Imported", timeout=5_000)
    expect(field("rows_read")).to_have_text("4")
    expect(field("created")).to_have_text("3")
    expect(field("rejected")).to_have_text("1")
    expect(field("embedded")).to_have_text("3", timeout=5_000)
    expect(field("companies").first).to_have_text("3")
    expect(progress.locator('[data-bar="rows"]')).to_have_js_property("value", 4)
    expect(progress.locator('[data-bar="embedded"]')).to_have_js_property("value", 3)
    expect(progress.locator('[data-bar="embedded"]')).to_have_js_property("max", 3)
    expect(progress.get_by_text("(no company is labelled yet, so nothing can be scored)")).to_be_visible()
    expect(progress.locator('[data-show="rows-counted"]')).to_have_text(" rows")  # "4 rows", not "4 of about 4"
    expect(progress.locator('[data-show="rows-estimated"]')).to_be_hidden()
    expect(progress.locator('[data-show="rows-exact"]')).to_be_hidden()  # nor "4 of 4"
    finished = progress.locator('[data-show="finished"]')
    expect(finished).to_have_text("Done. See the 3 companies this import created or changed.", timeout=5_000)
    expect(page.get_by_role("link", name="Download all 1 as CSV")).to_be_visible()
    assert companies.get(name="Pixel Forge").description == "Developer tools for code review.\n\nBig on CI"
    page.screenshot(path="/tmp/leads-import-progress.png", full_page=True)
    finished.get_by_role("link").click()  # that import's companies, the filter saying so
    expect(page.locator("#import-filter")).to_contain_text(f"Only import {job.pk}: prospects.csv")
    assert sorted(listed_names(page)) == ["Frostline", "Hopfield Brewery", "Pixel Forge"]
    page.locator("#import-filter").get_by_role("link").click()
    expect(page.locator("#import-filter")).to_have_count(0)


# A CRM export as sales ops upload it: many columns, long headers, long values.
WIDE_CSV = (
    "Company name,Company Domain Name,Full Description,Industry Sector,Country/Region,"
    "Number of Employees,Annual Revenue (USD),LinkedIn Company Page,Lead Status Notes (internal)\n"
    + "".join(
        f"Company {i},company{i}.example,A long description of what company {i} makes and sells to whom. "
        f"It goes on for a while.,Industrial Refrigeration Equipment,Germany,{i * 10},{i * 1_000_000},"
        f"https://www.linkedin.com/company/company-{i}-with-a-long-slug,Called twice; waiting for a reply\n"
        for i in range(1, 6)
    )
)


# The element (its tag) that cuts off part of a dropdown: its cell, or a box that scrolls; '' for none.
CUT_BY = """(el) => {
    const box = el.getBoundingClientRect();
    for (let up = el.parentElement; up; up = up.parentElement) {
        const style = getComputedStyle(up);
        if (style.overflowX === "visible") continue;
        const frame = up.getBoundingClientRect();
        if (box.left < frame.left - 0.5 || box.right > frame.right + 0.5) return up.tagName;
    }
    return "";
}"""


# Whether a dropdown's chosen text shows whole: a select as wide as a copy of it that holds only
# that option and takes the width it needs (the same font, padding and arrow).
NEEDED_WIDTH = """(el) => {
    const probe = el.cloneNode(false);
    probe.removeAttribute("name");
    probe.append(new Option(el.selectedOptions[0].text));
    Object.assign(probe.style, { position: "absolute", width: "auto", minWidth: "0", maxWidth: "none" });
    el.parentElement.append(probe);
    const width = probe.getBoundingClientRect().width;
    probe.remove();
    return width;
}"""


def upload_for_preview(page, live_server, csv_file) -> None:
    """As the staff user charlie: upload `csv_file` and wait for its column-mapping preview."""
    log_in(page, live_server, "charlie", "charlie-password-1")
    page.goto(f"{live_server.url}/imports/")
    page.get_by_label("CSV or Excel file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name=f"Preview: {csv_file.name}")).to_be_visible()


@pytest.mark.parametrize("width, height, mobile", [(1366, 768, False), (375, 740, True)])
def test_the_column_mapping_of_a_wide_file_fits_a_laptop_and_a_phone(
    live_server, browser, staff, tmp_path, width, height, mobile
):
    csv_file = tmp_path / "crm-export.csv"
    csv_file.write_text(WIDE_CSV)
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile, has_touch=mobile)
    page = context.new_page()
    try:
        upload_for_preview(page, live_server, csv_file)
        page_width = page.evaluate("document.scrollingElement.scrollWidth")
        assert page_width <= width, f"the page is {page_width} px wide on a {width} px screen"
        selects = page.get_by_role("combobox", name=re.compile("^Column "))
        assert selects.count() == 9
        for i in range(selects.count()):
            select = selects.nth(i)
            select.evaluate("(el) => el.scrollIntoView({ block: 'center' })")  # down the page: a line per column
            expect(select).to_be_in_viewport(ratio=0.99)  # sub-pixel rounding aside
            cut = select.evaluate(CUT_BY)  # nothing of it cut off by its cell or a scrolling box
            assert cut == "", f"dropdown {i + 1} is cut off by its {cut} at {width} px"
            if not mobile:  # a phone shows as much of a long "Keep as …" as its width allows
                needed = select.evaluate(NEEDED_WIDTH)
                assert select.bounding_box()["width"] >= needed - 0.5, f"dropdown {i + 1} cuts its choice"
        page.screenshot(path=f"/tmp/leads-import-mapping-{width}.png", full_page=True)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    finally:
        context.close()


# HubSpot's companies export as a manager brings it: twelve columns, the mapping's longest choices
# ("Keep as “employees”", "Keep as “founded”") among them.
HUBSPOT_CSV = (
    "Record ID,Company name,Company Domain Name,Industry,Country/Region,City,Number of Employees,"
    "Year Founded,Annual Revenue,Description,Lifecycle Stage,Phone Number\n"
    "5012345678,Nordkühl GmbH,nordkuehl.de,Industrial Machinery,Germany,Hamburg,240,1987,48000000,"
    "Builds refrigerated warehouses and cold-chain equipment for food logistics.,Lead,+49 40 1234567\n"
    "5012345679,Brightpath Analytics,brightpath.io,Computer Software,United States,Austin,85,2016,12500000,"
    "Dashboards that forecast demand for mid-sized retailers.,Marketing Qualified Lead,+1 512 555 0142\n"
    "5012345680,Maison Verdier,maisonverdier.fr,Food & Beverages,France,Lyon,36,1952,6100000,"
    "Family-owned producer of preserves and chutneys sold to delicatessens.,Opportunity,+33 4 72 00 00 00\n"
    "5012345681,Tidewater Freight,tidewaterfreight.com,Logistics and Supply Chain,United States,Norfolk,"
    "410,1999,96000000,Regional trucking and warehousing on the US east coast.,Customer,+1 757 555 0199\n"
    "5012345682,Aurora Solar Works,aurorasolar.se,Renewables & Environment,Sweden,Uppsala,120,2011,"
    "31000000,Designs and installs solar parks for municipalities.,Sales Qualified Lead,+46 18 123 45 67\n"
)


@pytest.mark.parametrize(
    "name, content, columns", [("prospects.csv", None, 8), ("hubspot-companies.csv", HUBSPOT_CSV, 12)]
)
def test_on_a_laptop_every_dropdown_shows_its_whole_choice_without_scrolling_sideways(
    live_server, browser, staff, tmp_path, name, content, columns
):
    from tests.import_helpers import PROSPECTS  # eight columns, as a CRM's export has

    csv_file = tmp_path / name
    csv_file.write_text(content or PROSPECTS)
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    try:
        upload_for_preview(page, live_server, csv_file)
        selects = page.get_by_role("combobox", name=re.compile("^Column "))
        assert selects.count() == columns
        for i in range(columns):
            select = selects.nth(i)
            select.evaluate("(el) => el.scrollIntoView({ block: 'center' })")  # down the page, if anywhere
            box = select.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1366, f"dropdown {i + 1} is off the screen"
            assert select.evaluate(CUT_BY) == "", f"dropdown {i + 1} is cut off by a box around it"
            chosen = select.evaluate("(el) => el.selectedOptions[0].text")
            needed = select.evaluate(NEEDED_WIDTH)
            assert box["width"] >= needed - 0.5, (
                f"dropdown {i + 1} cuts “{chosen}”: {box['width']:.0f} of {needed:.0f} px"
            )
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 1366
    finally:
        context.close()


def test_a_manager_confirms_a_deals_file_and_watches_a_worker_import_it(live_server, page, staff):
    """The deals page polls the same way: queued, then (the worker's part played here) imported,
    with the counts and the rejected rows drawn once it ends."""
    from leads import tasks
    from leads.models import CrmRecord, OutcomeImport
    from tests.conftest import FIXTURES

    acme = Company.objects.create(name="Acme")
    CrmRecord.objects.create(company=acme, crm="hubspot", record_id="101")
    Company.objects.create(name="Globex", website="https://www.globex.com")
    Company.objects.create(name="Initech, Inc.")
    Company.objects.create(name="Umbrella", website="umbrella.com")
    log_in(page, live_server, "charlie", "charlie-password-1")
    page.goto(f"{live_server.url}/outcomes/")
    page.get_by_label("Deals file").set_input_files(str(FIXTURES / "deals-hubspot.csv"))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name="Deals: deals-hubspot.csv")).to_be_visible()
    page.get_by_role("button", name="Import 4 deals").click()

    progress = page.locator("#import-progress")
    state = progress.locator('[data-field="state_display"]')
    expect(state).to_have_text("Queued")
    expect(progress.get_by_text("Waiting for a worker to pick the import up.")).to_be_visible()
    job = OutcomeImport.objects.get()
    tasks.run_outcome_import(job.pk)  # the worker's part, while the page polls

    expect(state).to_have_text("Imported", timeout=5_000)
    expect(progress.locator(".result")).to_contain_text("6 rows, 4 new deals, 0 updated", timeout=5_000)
    expect(progress.get_by_text("Waiting for a worker to pick the import up.")).to_be_hidden()
    expect(page.get_by_role("link", name="Download the rejected rows (CSV)")).to_be_visible()
