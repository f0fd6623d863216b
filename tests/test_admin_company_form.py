"""The admin's company form, through Django's test client: it refuses what an import refuses and
says what to fix, stores a website and a country as an import does, and refuses another company's
website (or name and country) on the field, naming that company.

Real database and services throughout; only the sentence encoder is the fake bag-of-words one."""

from __future__ import annotations

import html
import re

import pytest

from leads.models import Company

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("website", "javascript:alert(1)", "is not a web address"),
        ("website", "sales@acme.com", "is an email address, not a website"),
        ("name", "\u200b\u200b \u2066", "A company needs a name with at least one visible character."),
    ],
)
def test_the_admin_refuses_what_an_import_refuses_and_says_what_to_fix(as_staff, world, field, value, message):
    alpha = world["Alpha Brewing"]
    form = {"name": alpha.name, "website": alpha.website, "description": alpha.description,
            "industry": alpha.industry, "country": alpha.country, "extra": "{}", field: value,
            "labels-TOTAL_FORMS": "0", "labels-INITIAL_FORMS": "0", "labels-MIN_NUM_FORMS": "0",
            "labels-MAX_NUM_FORMS": "1000"}  # fmt: skip
    response = as_staff.post(f"/admin/leads/company/{alpha.pk}/change/", form)
    assert response.status_code == 200  # the form again, with the error
    assert message in html.unescape(response.content.decode())
    alpha.refresh_from_db()
    assert alpha.website == "https://www.alphabrew.com" and alpha.name == "Alpha Brewing"


def test_the_admin_strips_bidirectional_controls_from_a_name(as_staff, world):
    alpha = world["Alpha Brewing"]
    form = {"name": "Alpha \u202eBrewing\u202c", "website": alpha.website, "description": alpha.description,
            "industry": alpha.industry, "country": alpha.country, "extra": "{}",
            "labels-TOTAL_FORMS": "0", "labels-INITIAL_FORMS": "0", "labels-MIN_NUM_FORMS": "0",
            "labels-MAX_NUM_FORMS": "1000"}  # fmt: skip
    assert as_staff.post(f"/admin/leads/company/{alpha.pk}/change/", form).status_code == 302
    alpha.refresh_from_db()
    assert alpha.name == "Alpha Brewing"


@pytest.mark.parametrize(
    ("website", "stored", "domain"),
    [
        ("https://www.nordkyl.se", "https://www.nordkyl.se", "nordkyl.se"),
        (" sunbaydental.com ", "sunbaydental.com", "sunbaydental.com"),
        ("https://", "", ""),  # the import's rule: a bare start of an address is no website
        ("n/a", "", ""),
    ],
)
def test_the_admin_stores_a_website_as_the_import_does(as_staff, world, website, stored, domain):
    alpha = world["Alpha Brewing"]
    form = {"name": alpha.name, "website": website, "description": alpha.description,
            "industry": alpha.industry, "country": alpha.country, "extra": "{}",
            "labels-TOTAL_FORMS": "0", "labels-INITIAL_FORMS": "0", "labels-MIN_NUM_FORMS": "0",
            "labels-MAX_NUM_FORMS": "1000"}  # fmt: skip
    response = as_staff.post(f"/admin/leads/company/{alpha.pk}/change/", form)
    assert response.status_code == 302, html.unescape(response.content.decode())[:2000]
    alpha.refresh_from_db()
    assert (alpha.website, alpha.domain) == (stored, domain)


def test_the_admin_stores_a_country_as_its_code_and_keeps_what_was_typed(as_staff, world):
    alpha = world["Alpha Brewing"]
    form = {"name": alpha.name, "website": alpha.website, "description": alpha.description,
            "industry": alpha.industry, "country": "Deutschland", "extra": "{}",
            "labels-TOTAL_FORMS": "0", "labels-INITIAL_FORMS": "0", "labels-MIN_NUM_FORMS": "0",
            "labels-MAX_NUM_FORMS": "1000"}  # fmt: skip
    assert as_staff.post(f"/admin/leads/company/{alpha.pk}/change/", form).status_code == 302
    alpha.refresh_from_db()
    assert (alpha.country, alpha.country_as_given) == ("DE", "Deutschland")
    # The form shows 'DE' now; saving it again keeps 'Deutschland' as given.
    assert as_staff.post(f"/admin/leads/company/{alpha.pk}/change/", {**form, "country": "DE"}).status_code == 302
    alpha.refresh_from_db()
    assert (alpha.country, alpha.country_as_given) == ("DE", "Deutschland")
    assert "Deutschland" in as_staff.get(f"/admin/leads/company/{alpha.pk}/change/").text
    for typed in ("Germany", "de", "Deutschland"):
        listed = as_staff.get("/admin/leads/company/", {"country": typed}).text
        assert "Alpha Brewing" in listed and "Bravo Beers" not in listed, typed


# --- Another company's website ---------------------------------------------------------------


def company_form(**values) -> dict:
    return {"name": "", "website": "", "description": "", "industry": "", "country": "", "extra": "{}",
            "labels-TOTAL_FORMS": "0", "labels-INITIAL_FORMS": "0", "labels-MIN_NUM_FORMS": "0",
            "labels-MAX_NUM_FORMS": "1000", **values}  # fmt: skip


def field_errors(response, field: str) -> str:
    """The error list Django's admin shows above `field`'s input, as HTML."""
    found = re.search(rf'<ul class="errorlist"[^>]*id="id_{field}_error">(.*?)</ul>', response.text, re.S)
    return found.group(1) if found else ""


def test_adding_a_company_with_another_companys_website_says_which_and_keeps_what_was_typed(as_staff, world):
    alpha = world["Alpha Brewing"]
    typed = company_form(name="Alpha Brew Co", website="http://alphabrew.com/about", description="typed by hand",
                         industry="Beverages", country="Belgium")  # fmt: skip
    response = as_staff.post("/admin/leads/company/add/", typed)
    assert response.status_code == 200  # the form again, not a 500
    error = field_errors(response, "website")
    assert f'<a href="/admin/leads/company/{alpha.pk}/change/">Alpha Brewing</a> already has this website' in error
    assert "alphabrew.com" in error
    for value in ("Alpha Brew Co", "http://alphabrew.com/about", "typed by hand", "Beverages", "Belgium"):
        assert value in response.text
    assert not Company.objects.filter(name="Alpha Brew Co").exists()


def test_changing_a_companys_website_to_another_companys_is_refused_on_the_field(as_staff, world):
    bravo = world["Bravo Beers"]
    form = company_form(name=bravo.name, website="https://www.deltacode.io/", description=bravo.description)
    response = as_staff.post(f"/admin/leads/company/{bravo.pk}/change/", form)
    assert response.status_code == 200
    assert f'/admin/leads/company/{world["Delta Code"].pk}/change/">Delta Code</a>' in field_errors(response, "website")
    bravo.refresh_from_db()
    assert bravo.website == "bravobeers.com"
    # Its own website, saved again, is no duplicate of itself.
    assert (
        as_staff.post(f"/admin/leads/company/{bravo.pk}/change/", {**form, "website": "bravobeers.com"}).status_code
        == 302
    )


def test_without_a_website_the_same_name_and_country_is_refused_on_the_name(as_staff, world):
    response = as_staff.post("/admin/leads/company/add/", company_form(name="GOLF pending"))
    assert response.status_code == 200
    assert f'/admin/leads/company/{world["Golf Pending"].pk}/change/">Golf Pending</a>' in field_errors(
        response, "name"
    )
    assert (
        as_staff.post("/admin/leads/company/add/", company_form(name="Golf Pending", country="FR")).status_code == 302
    )


def test_the_service_refuses_a_duplicate_for_every_caller(world):
    from leads.companies import services as companies

    copy = Company(name="Copy", website="HTTPS://WWW.COPPERSTOUTS.CO.UK")
    with pytest.raises(companies.DuplicateCompany) as refused:
        companies.save_company(copy)
    assert refused.value.existing == world["Copper Stouts"]
    assert (
        str(refused.value)
        == f"Copper Stouts (company {world['Copper Stouts'].pk}) already has the website copperstouts.co.uk"
    )
    assert copy.pk is None and Company.objects.filter(domain="copperstouts.co.uk").count() == 1


# --- Managers' review of scored companies (issue #10) --------------------------------------------
