"""The dashboard reps work from, through Django's test client: logging in, the listing in
score order, the label filters, search by name or domain, and pagination.

Real database and services throughout; only the sentence encoder is the fake bag-of-words one."""

from __future__ import annotations

import html
import re

import pytest

from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company, ImportedCompany, ImportJob, Score
from leads.scoring import labels
from leads.scoring.bands import Distribution
from tests.conftest import WORLD_COMPANIES
from tests.web_helpers import filter_error, table_row

pytestmark = pytest.mark.django_db


def dashboard_names(response) -> list[str]:
    """Company names in the dashboard table, top to bottom."""
    return [
        html.unescape(n)
        for n in re.findall(
            r'<td class="name">(?:<input [^>]*> )?<a href="/companies/\d+/"[^>]*>([^<]*)</a>', response.text
        )
    ]


# --- login ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/companies/1/", "/account/token"])
def test_pages_send_anonymous_visitors_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_an_anonymous_label_post_changes_nothing(client, world):
    alpha = world["Alpha Brewing"]
    response = client.post(f"/companies/{alpha.pk}/label", {"verdict": "dislike"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    alpha = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=alpha.pk)
    assert alpha.verdict == "like" and alpha.labels.count() == 1


def test_the_login_page_logs_a_rep_in(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Log out alice" in client.get("/").text


# --- dashboard --------------------------------------------------------------------


def test_dashboard_lists_best_fit_first_then_unscored_by_name(as_alice, world):
    response = as_alice.get("/")
    assert response.status_code == 200
    scored = [s.company.name for s in Score.objects.select_related("company").order_by("-fit", "company_id")]
    assert len(scored) == 4
    unscored = sorted({"Alpha Brewing", "Delta Code", "Golf Pending"})
    assert dashboard_names(response) == scored + unscored
    assert dashboard_names(response)[0] in ("Bravo Beers", "Copper Stouts")
    assert dashboard_names(response)[3] == "Echo Review"
    assert "7 companies, best fit first." in response.text


def test_dashboard_shows_signed_fits_with_their_bands_and_ranks(as_alice, world):
    response = as_alice.get("/")
    bravo = Score.objects.get(company=world["Bravo Beers"])
    echo = Score.objects.get(company=world["Echo Review"])
    assert bravo.fit > 0.1 and echo.fit < -0.2
    assert re.fullmatch(r"\+0\.\d\d", bravo.signed_fit) and re.fullmatch(r"-0\.\d\d", echo.signed_fit)
    distribution = Distribution.of(Score.objects.values_list("fit", flat=True))
    good, bad = distribution.band(bravo.fit), distribution.band(echo.fit)
    assert good.key in ("strong", "likely") and bad.key == "unlikely"
    for name, score, band in (("Bravo Beers", bravo, good), ("Echo Review", echo, bad)):
        row = table_row(response, name)
        assert f'<span class="score band-{band.key}"' in row and f">{score.signed_fit}</span>" in row
        assert f"score {score.signed}" in row  # the plain score, in the title
        assert f'<span class="band band-{band.key}">{band.label}</span>' in row
        assert distribution.rank_text(score.fit) in row


def test_a_company_nothing_labelled_is_close_to_shows_as_unexplored_not_as_its_score(as_alice, world):
    foxtrot = Score.objects.get(company=world["Foxtrot Fashion"])  # a fashion brand among breweries and code
    assert foxtrot.unexplored and foxtrot.fit <= 0
    row = table_row(as_alice.get("/"), "Foxtrot Fashion")
    assert '<span class="band band-unexplored">unexplored</span>' in row


def test_dashboard_says_why_a_company_has_no_score(as_alice, world):
    response = as_alice.get("/")
    assert "waiting for embedding" in table_row(response, "Golf Pending")
    assert "name only" in table_row(response, "Golf Pending")  # no description
    assert 'class="badge like">Liked<' in table_row(response, "Alpha Brewing")
    assert 'class="badge dislike">Disliked<' in table_row(response, "Delta Code")
    assert "name only" not in table_row(response, "Alpha Brewing")


def test_dashboard_says_not_scored_when_nothing_is_labelled(as_alice, fake_encoder):
    embedded = Company.objects.create(name="Embedded Co", description="beer")
    Company.objects.create(name="Fresh Co", description="wine")
    embeddings.embed_companies([embedded.pk])
    response = as_alice.get("/")
    assert "not scored" in table_row(response, "Embedded Co")
    assert "waiting for embedding" not in table_row(response, "Embedded Co")
    assert "waiting for embedding" in table_row(response, "Fresh Co")


def test_a_company_cleared_a_moment_ago_is_scoring_not_said_to_have_nothing_labelled(as_alice, world, alice):
    """Cleared, its pass not run yet: no score row. It said "not scored: no company is labelled
    yet" while the team had labels."""
    alpha = world["Alpha Brewing"]
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=alpha, user=alice, source="click", verdict="clear")
    row = table_row(as_alice.get("/"), "Alpha Brewing")
    assert "scoring…" in row and "No company is labelled yet" not in row and "not scored" not in row


def test_a_company_whose_text_changed_waits_for_a_new_embedding(as_alice, world):
    foxtrot = world["Foxtrot Fashion"]
    Score.objects.filter(company=foxtrot).delete()
    foxtrot.description = "now a bakery"
    foxtrot.save()  # new text hash: the stored vector is stale
    assert "waiting for embedding" in table_row(as_alice.get("/"), "Foxtrot Fashion")


@pytest.mark.parametrize(
    "show, expected",
    [
        ("unlabelled", {"Bravo Beers", "Copper Stouts", "Echo Review", "Foxtrot Fashion", "Golf Pending"}),
        ("labelled", {"Alpha Brewing", "Delta Code"}),
        ("liked", {"Alpha Brewing"}),
        ("disliked", {"Delta Code"}),
        ("all", set(WORLD_COMPANIES) | {"Golf Pending"}),
    ],
)
def test_dashboard_label_filters(as_alice, world, show, expected):
    response = as_alice.get("/", {"show": show})
    assert response.status_code == 200
    assert set(dashboard_names(response)) == expected
    assert f'<label class="chip active"><input type="radio" name="show" value="{show}" checked' in response.text


def test_unlabelled_filter_keeps_the_score_order(as_alice, world):
    names = dashboard_names(as_alice.get("/", {"show": "unlabelled"}))
    assert names[-1] == "Golf Pending"  # unscored after every scored one
    assert names.index("Bravo Beers") < names.index("Foxtrot Fashion") < names.index("Echo Review")


def test_an_unknown_filter_is_a_bad_request_on_the_page_itself(as_alice, world):
    """The dashboard again, the list saying what to fix, every value as the rep typed it."""
    response = as_alice.get("/", {"show": "favourites", "employees_min": "lots", "q": "beer"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert (
        filter_error(response) == "show must be one of: all, unlabelled, labelled, liked, disliked (got 'favourites')"
    )
    assert 'name="employees_min" value="lots"' in response.text  # nothing typed is lost
    assert 'value="beer"' in response.text
    assert dashboard_names(response) == []


def test_a_bad_number_filter_says_which_and_why(as_alice, world):
    response = as_alice.get("/", {"employees_min": "lots"})
    assert response.status_code == 400
    assert filter_error(response) == "employees_min must be a whole number (got 'lots')"


def test_a_bad_filter_is_not_echoed_back_as_html(as_alice):
    response = as_alice.get("/", {"show": "<script>alert(1)</script>"})
    assert response.status_code == 400
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


@pytest.mark.parametrize(
    "query, expected",
    [
        ("brew", ["Bravo Beers", "Copper Stouts", "Alpha Brewing"]),  # name, domain, "brewery" in descriptions
        ("BRAVO", ["Bravo Beers"]),  # name, any case
        ("BEERS", ["Bravo Beers", "Copper Stouts", "Alpha Brewing"]),  # and 'beer', its stem, in descriptions
        ("lager", ["Bravo Beers", "Alpha Brewing"]),  # description only: scored first, then labelled
        (".io", ["Echo Review", "Delta Code"]),  # domain only, still in score order
        ("COPPERSTOUTS.CO.UK", ["Copper Stouts"]),  # domain, any case
        ("  fashion  ", ["Foxtrot Fashion"]),
        ("nothing-like-this", []),
    ],
)
def test_dashboard_search_by_name_domain_or_description(as_alice, world, query, expected):
    response = as_alice.get("/", {"q": query})
    assert dashboard_names(response) == expected
    assert f'name="q" value="{query}"' in response.text


def test_a_search_that_finds_nothing_says_so(as_alice, world):
    response = as_alice.get("/", {"q": "nothing-like-this"})
    assert "No companies match these filters." in response.text
    assert "0 companies" in response.text


def test_a_search_with_a_nul_character_finds_nothing(as_alice, world):
    response = as_alice.get("/", {"q": "Bravo\x00"})
    assert response.status_code == 200
    assert dashboard_names(response) == []


def test_search_combines_with_the_label_filter(as_alice, world):
    response = as_alice.get("/", {"q": "brew", "show": "unlabelled"})
    assert dashboard_names(response) == ["Bravo Beers", "Copper Stouts"]
    response = as_alice.get("/", {"q": "brew", "show": "liked"})
    assert dashboard_names(response) == ["Alpha Brewing"]
    response = as_alice.get("/", {"q": "Code", "show": "disliked"})
    assert dashboard_names(response) == ["Delta Code"]


def test_search_text_is_escaped(as_alice):
    response = as_alice.get("/", {"q": '"><b>x'})
    assert "<b>x" not in response.text
    assert 'value="&quot;&gt;&lt;b&gt;x"' in response.text


# --- the import filter ------------------------------------------------------------


def test_the_import_filter_says_it_is_on_and_how_to_take_it_off(as_alice, world, staff):
    job = ImportJob.objects.create(user=staff, original_name="fairs-2026.csv", state=ImportJob.State.DONE)
    for company in Company.objects.filter(name__in=["Alpha Brewing", "Bravo Beers", "Delta Code"]):
        ImportedCompany.objects.create(job=job, company=company)
    response = as_alice.get(f"/?import={job.pk}&industry=Brewery")
    assert response.status_code == 200
    assert sorted(dashboard_names(response)) == ["Alpha Brewing", "Bravo Beers"]  # not Copper Stouts, not Delta Code
    page = html.unescape(response.text)
    assert f"Only import {job.pk}: fairs-2026.csv" in page
    # The way out keeps the other filters and drops only the import.
    assert '<a href="?industry=Brewery" class="remove-filter"' in page
    assert f'<input type="hidden" name="import" value="{job.pk}">' in page  # kept when the form is sent
    everything = as_alice.get("/?industry=Brewery")
    assert "Only import" not in everything.text


def test_an_import_filter_naming_no_import_says_so(as_alice, world):
    response = as_alice.get("/?import=999999")
    assert response.status_code == 200 and dashboard_names(response) == []
    page = html.unescape(response.text)
    assert "Only import 999999 (not found: deleted?)" in page
    assert "No companies match these filters." in page


def test_an_import_filter_that_is_not_a_number_is_a_clear_400(as_alice, world):
    response = as_alice.get("/?import=abc")
    assert response.status_code == 400
    assert filter_error(response) == "import must be an import's number (got 'abc')"


# --- countries ---------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["Germany", "germany", "DE", "de", "DEU", "Deutschland"])
def test_the_country_filter_finds_a_country_however_the_rep_types_it(as_alice, world, typed):
    Company.objects.filter(name__in=["Alpha Brewing", "Delta Code"]).update(country="DE", country_as_given="Germany")
    Company.objects.filter(name="Bravo Beers").update(country="NO", country_as_given="Norway")
    response = as_alice.get("/", {"country": typed})
    assert response.status_code == 200
    assert sorted(dashboard_names(response)) == ["Alpha Brewing", "Delta Code"]
    assert '<td class="wide">Germany</td>' in table_row(response, "Alpha Brewing")  # the name, not 'DE'


def test_the_country_box_offers_names(as_alice, world):
    Company.objects.filter(name__in=["Alpha Brewing", "Delta Code"]).update(country="DE")
    Company.objects.filter(name="Bravo Beers").update(country="Atlantis")  # named no country we know
    page = as_alice.get("/").text
    datalist = re.search(r'<datalist id="countries">(.*?)</datalist>', page)[1]
    assert re.findall(r'<option value="([^"]*)">', datalist) == ["Germany", "Atlantis"]


def test_a_country_that_matches_nothing_suggests_names(as_alice, world):
    Company.objects.filter(name="Alpha Brewing").update(country="DE")
    page = html.unescape(as_alice.get("/", {"country": "Germ"}).text)
    assert "Did you mean" in page and "country “Germany”" in page
