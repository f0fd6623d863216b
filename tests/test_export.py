"""The CSV export of the dashboard's view, through Django's test client: filters, score
columns and cells neutralised against spreadsheet formulas.

Real database throughout; embedding with the fake bag-of-words encoder."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.utils import timezone

from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company
from leads.scoring import labels
from leads.scoring import services as scores

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored_world(fake_encoder, alice):
    made = {
        name: Company.objects.create(name=name, description=description, website=website, industry=industry)
        for name, description, website, industry in [
            ("Alpha Brewing", "beer brewery lager stout hops", "alphabrew.com", "Brewery"),
            ("=HYPERLINK(1) Brewing", "beer brewery ale hops malt", "", "Brewery"),
            ("Bravo Beers", "beer brewery lager ale hops malt", "bravobeers.com", "Brewery"),
            ("Delta Code", "software developer tools code review", "deltacode.io", "-Software"),
            ("Echo Review", "software code review tools", "echoreview.io", "Software"),
        ]
    }
    embeddings.embed_companies([c.pk for c in made.values()])
    for name, verdict in [("Alpha Brewing", "like"), ("=HYPERLINK(1) Brewing", "like"), ("Delta Code", "dislike")]:
        labels.label_company(
            profile_id=FIRST_PROFILE_ID, company=made[name], user=alice, source="click", verdict=verdict
        )
    assert scores.rescore_all(FIRST_PROFILE_ID) == 2
    return made


def export(client, **params) -> tuple[object, str, list[list[str]]]:
    response = client.get("/export.csv", params)
    assert response.status_code == 200
    assert response.streaming
    body = b"".join(response.streaming_content).decode("utf-8")
    return response, body, list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


def test_export_streams_the_filtered_view_as_excel_safe_csv(client, alice, scored_world):
    client.force_login(alice)
    response, body, rows = export(client, show="liked", q="brew")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="leads-scores-liked-\d{4}-\d\d-\d\d\.csv"', response["Content-Disposition"]
    )
    header = [
        "id", "name", "website", "industry", "country", "label", "score", "fit", "evidence", "band", "neighbours",
        "description", "rank", "why", "labelled_by", "labelled_at", "owner", "notes", "latest_note", "latest_note_by",
        "latest_note_at", "domain", "country_name", "employees", "founded", "revenue", "crm_ids",
    ]  # fmt: skip
    assert body.startswith("\ufeff" + ",".join(header) + "\r\n")
    assert rows[0] == header
    by_name = {row[1]: row for row in rows[1:]}
    assert set(by_name) == {"Alpha Brewing", "'=HYPERLINK(1) Brewing"}  # liked and matching 'brew' only
    assert by_name["Alpha Brewing"][2:10] == ["alphabrew.com", "Brewery", "", "like", "", "", "", ""]  # no score


def test_export_scores_are_numbers_and_text_cells_are_neutralised(client, alice, scored_world):
    client.force_login(alice)
    _, _, rows = export(client, show="unlabelled")
    assert [row[1] for row in rows[1:]] == ["Bravo Beers", "Echo Review"]  # best fit first
    bravo, echo = rows[1], rows[2]
    assert float(bravo[6]) > 0 > float(echo[6]) and float(bravo[7]) > 0 > float(echo[7])  # score and fit
    assert re.fullmatch(r"-?\d\.\d+", echo[6]) and re.fullmatch(r"-?\d\.\d+", echo[7])  # numbers, not "'-0.4"
    assert float(bravo[8]) > 0  # evidence: labelled companies' worth of close neighbours
    assert (bravo[9], echo[9]) == ("strong fit", "unlikely")  # the dashboard's bands
    assert "HYPERLINK(1) Brewing" in bravo[10] and not bravo[10].startswith(("=", "+", "-", "@"))
    _, _, rows = export(client, show="disliked")
    assert rows[1][1:4] == ["Delta Code", "deltacode.io", "'-Software"]


def test_export_refuses_an_unknown_filter_and_anonymous_visitors(client, alice):
    assert client.get("/export.csv").status_code == 302
    client.force_login(alice)
    response = client.get("/export.csv", {"show": "favourites"})
    assert response.status_code == 400
    assert "show must be one of: all, unlabelled, labelled, liked, disliked" in response.content.decode()
    # A mistyped parameter name is said too: ?crm=hubspot exported the plain file without a word.
    response = client.get("/export.csv", {"crm": "hubspot", "bnad": "likely"})
    assert response.status_code == 400
    said = response.content.decode()
    assert said.startswith("bnad, crm: not a parameter of the export.") and "for= one of hubspot, " in said
    assert client.get("/export.csv", {"for": "hubspot", "page": "2", "band": ""}).status_code == 200


def test_export_carries_what_a_rep_pastes_into_a_sequence(client, alice, scored_world):
    client.force_login(alice)
    _, _, rows = export(client, show="all")
    by_name = {row[1]: dict(zip(rows[0], row)) for row in rows[1:]}
    bravo, alpha = by_name["Bravo Beers"], by_name["Alpha Brewing"]
    assert bravo["description"] == Company.objects.get(name="Bravo Beers").description
    assert bravo["rank"].startswith("top ") or "%" in bravo["rank"]
    assert bravo["why"].startswith("Fit +") and "which you liked" in bravo["why"]
    assert "(liked)" in bravo["neighbours"] and "(disliked)" in bravo["neighbours"]
    label = Company.objects.get(name="Alpha Brewing").labels.first()
    assert alpha["labelled_by"] == (label.user.username if label.user else "")
    assert alpha["labelled_at"].startswith(timezone.localtime(label.created_at).strftime("%Y-%m-%dT%H:%M"))
    assert (bravo["labelled_by"], bravo["labelled_at"]) == ("", "")  # not labelled


def test_the_exported_file_is_named_after_its_band_filter(client, alice, scored_world):
    client.force_login(alice)
    response, _, _ = export(client, show="unlabelled", band="strong")
    assert re.fullmatch(
        r'attachment; filename="leads-scores-unlabelled-strong-\d{4}-\d\d-\d\d\.csv"', response["Content-Disposition"]
    )


def test_export_gives_the_domain_and_the_country_s_name_in_columns_of_their_own(client, alice, scored_world):
    Company.objects.filter(name="Alpha Brewing").update(country="DE", country_as_given="Germany")
    client.force_login(alice)
    _, _, rows = export(client, show="liked")
    alpha = {row[1]: dict(zip(rows[0], row)) for row in rows[1:]}["Alpha Brewing"]
    assert (alpha["website"], alpha["domain"]) == (Company.objects.get(name="Alpha Brewing").website, "alphabrew.com")
    assert (alpha["country"], alpha["country_name"]) == ("DE", "Germany")
