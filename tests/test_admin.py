"""The admin's company changelist and company page, through Django's test client.

Real database and services throughout; only the sentence encoder is the fake bag-of-words one."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.test import Client
from django.utils import timezone

from leads.accounts import roles
from leads.companies import distribution as fit_distribution
from leads.companies import nearest, selectors
from leads.models import FIRST_PROFILE_ID, ApiToken, Company, CrmRecord, Outcome, OutcomeBand, Score
from leads.outcomes import services as outcomes
from leads.scoring import bands, explanations
from tests.conftest import WORLD_COMPANIES
from tests.web_helpers import in_role, logged_in, table_row

pytestmark = pytest.mark.django_db


def admin_names(response) -> list[str]:
    return re.findall(
        r'<th class="field-name"><a href="/admin/leads/company/\d+/change/[^"]*">([^<]+)</a>', response.text
    )


def fit_first(companies) -> list[str]:
    """The admin's default order, worked out here: best fit first (ties by id, as the score index
    holds them), then the companies without a score, newest first."""
    scored = sorted((c for c in companies if c.score), key=lambda c: (-c.score.fit, c.pk))
    unscored = sorted((c for c in companies if not c.score), key=lambda c: -c.pk)
    return [c.name for c in scored + unscored]


def test_admin_changelist_shows_score_label_and_embedding(as_staff, world):
    response = as_staff.get("/admin/leads/company/")
    assert response.status_code == 200
    listed = admin_names(response)
    assert listed == fit_first(Company.objects.in_profile(FIRST_PROFILE_ID))  # best fit first, as the dashboard
    assert listed[0] == "Bravo Beers" and listed[-3:] == ["Golf Pending", "Delta Code", "Alpha Brewing"]
    assert set(listed) == WORLD_COMPANIES.keys() | {"Golf Pending"}
    for header in ("column-score_value", "column-verdict", "column-embedded"):
        assert header in response.text
    bravo = table_row(response, "Bravo Beers")
    score = Score.objects.get(profile_id=FIRST_PROFILE_ID, company=world["Bravo Beers"])
    cell = (
        f'<td class="field-score_value"><span title="score {score.signed}" style="white-space: nowrap">'
        f"{score.signed_fit} strong fit</span><br><small>evidence {score.evidence:.1f}</small></td>"
    )
    assert cell in bravo  # the dashboard's bands
    assert '<td class="field-score_value">—</td>' in table_row(response, "Alpha Brewing")  # labelled: no score
    assert 'alt="True"' in bravo
    golf = table_row(response, "Golf Pending")
    assert '<td class="field-score_value">—</td>' in golf
    assert 'alt="False"' in golf
    assert '<td class="field-verdict">Liked</td>' in table_row(response, "Alpha Brewing")


UNLABELLED = {"Bravo Beers", "Copper Stouts", "Echo Review", "Foxtrot Fashion", "Golf Pending"}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("band=none", {"Alpha Brewing", "Delta Code", "Golf Pending"}),
        ("label=like", {"Alpha Brewing"}),
        ("label=dislike", {"Delta Code"}),
        ("label=none", UNLABELLED),
        ("source=click", {"Alpha Brewing", "Delta Code"}),
        ("source=import", set()),
        ("embedded=no", {"Golf Pending"}),
        ("embedded=yes", set(WORLD_COMPANIES)),
        ("industry=software", {"Delta Code", "Echo Review"}),  # typed, any case: no list of every value
        ("country=France", set()),
        ("q=brew", {"Alpha Brewing", "Bravo Beers", "Copper Stouts"}),  # description too
        ("q=deltacode", {"Delta Code"}),  # the domain
        ("industry=Brewery&label=none", {"Bravo Beers", "Copper Stouts"}),
    ],
)
def test_admin_changelist_filters(as_staff, world, query, expected):
    response = as_staff.get(f"/admin/leads/company/?{query}")
    assert response.status_code == 200
    assert set(admin_names(response)) == expected


@pytest.mark.parametrize("band", bands.BY_KEY)
def test_the_admin_band_filter_is_the_dashboards(as_staff, world, band):
    distribution = fit_distribution.score_distribution(FIRST_PROFILE_ID)
    expected = {
        s.company.name
        for s in Score.objects.filter(profile_id=FIRST_PROFILE_ID).select_related("company")
        if fit_distribution.band_of(s, distribution).key == band
    }
    listed = selectors.company_listing(profile_id=FIRST_PROFILE_ID, band=band).companies
    assert {c.name for c in listed} == expected  # the dashboard's filter
    assert set(admin_names(as_staff.get(f"/admin/leads/company/?band={band}"))) == expected


def test_admin_company_page_shows_the_label_history(as_staff, world):
    response = as_staff.get(f"/admin/leads/company/{world['Delta Code'].pk}/change/")
    assert response.status_code == 200
    assert 'value="deltacode.io"' not in response.text  # the domain is derived, read only
    assert '<div class="readonly">deltacode.io</div>' in response.text
    inline = response.text.split('<td class="field-verdict">')[1]
    assert "<p>Disliked</p>" in inline
    assert re.search(r'<td class="field-user">\s*<p><a href="/admin/auth/user/\d+/change/">bob</a></p>', inline)


def test_the_admin_is_for_staff_only(as_alice, world):
    response = as_alice.get("/admin/leads/company/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_labels_are_read_only_history_in_the_admin(as_staff, world):
    label = world["Alpha Brewing"].labels.get()
    assert as_staff.get("/admin/leads/label/").status_code == 200
    assert as_staff.get("/admin/leads/label/add/").status_code == 403
    response = as_staff.post(f"/admin/leads/label/{label.pk}/change/", {"verdict": "dislike"})
    assert response.status_code in (200, 403)
    label.refresh_from_db()
    assert label.verdict == "like"  # a view-only page never writes
    assert as_staff.post(f"/admin/leads/label/{label.pk}/delete/", {"post": "yes"}).status_code == 403


def test_admin_bulk_like_goes_through_the_labelling_service(as_staff, world, staff):
    from leads.models import PendingScoreChange

    bravo, echo = world["Bravo Beers"], world["Echo Review"]
    response = as_staff.post(
        "/admin/leads/company/",
        {"action": "mark_like", "_selected_action": [bravo.pk, echo.pk]},
        follow=True,
    )
    assert "2 companies changed" in response.text
    for company in (bravo, echo):
        company = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=company.pk)
        assert company.verdict == "like"
        latest = company.labels.first()
        assert (latest.verdict, latest.user, latest.source) == ("like", staff, "admin")
    assert set(PendingScoreChange.objects.values_list("company_id", flat=True)) == {bravo.pk, echo.pk}


def test_a_verdict_action_has_the_list_watch_its_rescore(as_staff, world):
    """The list a verdict action goes back to asks /scores/changes, as the dashboard does, until the
    rescore the verdicts queued is done (static/leads/admin-scores.js), then shows the new scores."""
    from leads.scoring import services as scores

    bravo, echo = world["Bravo Beers"], world["Echo Review"]
    before = timezone.now()
    data = {"action": "mark_like", "_selected_action": [bravo.pk, echo.pk]}
    listed = as_staff.post("/admin/leads/company/", data, follow=True)
    assert "leads/admin-scores.js" in listed.text
    since = datetime.datetime.fromisoformat(re.search(r'id="score-watch"[^>]* data-since="([^"]+)"', listed.text)[1])
    assert before <= since <= timezone.now()
    poll = re.search(r'id="score-watch"[^>]* data-changes="([^"]+)"', listed.text)[1]
    assert poll == f"/scores/changes?profile={FIRST_PROFILE_ID}"
    assert as_staff.get(poll, {"since": since.isoformat()}).json()["done"] is False  # the pass has not run
    scores.apply_label_changes(FIRST_PROFILE_ID)  # what the worker does
    assert as_staff.get(poll, {"since": since.isoformat()}).json()["done"] is True
    assert "data-since" not in as_staff.get("/admin/leads/company/").text  # watched once: the reload does not
    again = as_staff.post("/admin/leads/company/", data, follow=True)  # they already had that verdict
    assert "data-since" not in again.text  # nothing changed, nothing to watch
    cleared = as_staff.post("/admin/leads/company/", {**data, "action": "mark_clear"}, follow=True)
    assert "data-since" in cleared.text


def admin_messages(response) -> list[str]:
    found = re.search(r'<ul class="messagelist">(.*?)</ul>', response.text, re.S)
    return [html.unescape(m) for m in re.findall(r"<li[^>]*>(.*?)</li>", found.group(1), re.S)] if found else []


def test_the_admins_bulk_messages_count_in_the_singular_and_the_plural(as_staff, world, alice):
    bravo, echo = world["Bravo Beers"], world["Echo Review"]

    def run(action, *companies, **more):
        data = {"action": action, "_selected_action": [c.pk for c in companies], **more}
        return admin_messages(as_staff.post("/admin/leads/company/", data, follow=True))

    assert run("mark_like", bravo) == ["1 company changed; its neighbours' scores update in a moment."]
    assert run("mark_like", bravo, echo) == [
        "1 company changed; its neighbours' scores update in a moment. 1 already had that verdict."
    ]
    assert run("mark_like", bravo) == ["No company changed: the selected one already had that verdict."]
    assert run("assign_to", bravo, owner=alice.pk) == ["1 company now alice's."]
    assert run("assign_to", bravo, echo, owner=alice.pk) == ["1 company now alice's; the other already was."]
    assert run("unassign", bravo, echo) == ["2 companies unassigned."]
    assert run("unassign", bravo, echo) == ["No company changed: the selected ones were already unassigned."]
    assert run("rescore", world["Copper Stouts"])[0].startswith("1 company rescored (")


def test_editing_a_description_in_the_admin_makes_the_company_wait_for_embedding(
    as_staff, world, django_capture_on_commit_callbacks, monkeypatch
):
    from leads.core import queue
    from leads.models import PendingScoreChange

    sent = []
    monkeypatch.setattr(queue, "send", lambda name, *args, **kw: sent.append((name, args)))
    alpha = world["Alpha Brewing"]  # liked: its vector is part of the labelled set
    page = as_staff.get(f"/admin/leads/company/{alpha.pk}/change/")
    assert page.status_code == 200
    form = {
        "name": alpha.name,
        "website": alpha.website,
        "description": "now a coffee roaster",
        "industry": alpha.industry,
        "country": alpha.country,
        "extra": "{}",
        "labels-TOTAL_FORMS": "1",
        "labels-INITIAL_FORMS": "1",
        "labels-MIN_NUM_FORMS": "0",
        "labels-MAX_NUM_FORMS": "1000",
        "labels-0-id": alpha.labels.get().pk,
        "labels-0-company": alpha.pk,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = as_staff.post(f"/admin/leads/company/{alpha.pk}/change/", form)
    assert response.status_code == 302, response.text[:2000]
    alpha.refresh_from_db()
    assert alpha.description == "now a coffee roaster"
    assert ("leads.embed_companies", ([alpha.pk],)) in sent
    assert PendingScoreChange.objects.filter(company_id=alpha.pk).exists()  # its old vector leaves the labelled set
    bravo = world["Bravo Beers"]
    bravo.description = "beer but different"
    from leads.companies import services as companies

    with django_capture_on_commit_callbacks(execute=True):
        companies.save_company(bravo)
    assert not Score.objects.filter(company=bravo).exists()  # shown as waiting for embedding
    assert ("leads.embed_companies", ([bravo.pk],)) in sent


# --- a NUL character in the address ------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/admin/leads/company/?q=%00",
        "/admin/leads/company/?q=Bravo%00",
        "/admin/leads/company/?verdict=%00",
        "/admin/leads/company/?industry=%00",
        "/admin/leads/company/?country__exact=%00",
        "/admin/leads/company/?band=%00&embedded=%00",
        "/admin/leads/company/?o=%00",
        "/admin/leads/company/?%00=1",
        "/admin/leads/label/?source__exact=%00",
        "/admin/leads/label/?q=%00",
        "/admin/leads/apitoken/?q=%00",
        "/admin/auth/user/?q=%00",
        "/admin/autocomplete/?term=%00&app_label=leads&model_name=company&field_name=company",
    ],
)
def test_a_nul_character_in_an_admin_address_is_a_400_not_a_500(as_staff, world, path):
    response = as_staff.get(path)
    assert response.status_code == 400
    assert response.text == "The address holds a NUL character (%00), which nothing can match: remove it."


def test_admin_searches_without_a_nul_still_work(as_staff, world):
    assert admin_names(as_staff.get("/admin/leads/company/", {"q": "Bravo"})) == ["Bravo Beers"]


# --- API tokens ----------------------------------------------------------------------


def test_the_admin_lists_tokens_by_prefix_and_never_shows_a_key_or_its_hash(as_staff, world, alice):
    token = ApiToken.issue(user=alice)
    listing = as_staff.get("/admin/leads/apitoken/")
    page = as_staff.get(f"/admin/leads/apitoken/{token.pk}/change/")
    for response in (listing, page):
        assert response.status_code == 200
        assert token.prefix in response.text and "alice" in response.text
        assert token.key not in response.text
        assert token.key_hash not in response.text
        assert "key_hash" not in response.text
    assert as_staff.get("/admin/leads/apitoken/add/").status_code == 403  # reps make their own


def test_staff_revoke_a_token_in_the_admin(as_staff, world, alice):
    key = ApiToken.issue(user=alice).key
    token = ApiToken.objects.get(user=alice)
    response = as_staff.post(f"/admin/leads/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=alice).exists()
    refused = Client().get("/api/companies/", headers={"Authorization": f"Token {key}"})
    assert refused.status_code == 401


def test_the_admin_list_says_who_labelled_a_company_when_and_from_where(as_staff, world):
    alpha = table_row(as_staff.get("/admin/leads/company/"), "Alpha Brewing")
    assert re.search(r'<td class="field-labelled">alice, [^<]+, Dashboard click</td>', alpha)
    assert '<td class="field-labelled">—</td>' in table_row(as_staff.get("/admin/leads/company/"), "Bravo Beers")


def test_the_admin_company_page_explains_the_score_and_lists_similar_companies(as_staff, world, fresh_hnsw_index):
    bravo = world["Bravo Beers"]
    page = as_staff.get(f"/admin/leads/company/{bravo.pk}/change/").text
    explanation = page.split("The neighbours that made its score")[1]
    for neighbour in explanations.score_explanation(bravo):
        share, similar = f"{100 * neighbour.share:.0f}%", f"{100 * neighbour.similarity:.0f}%"
        assert re.search(
            rf">{re.escape(neighbour.company.name)}</a></td><td>{neighbour.verdict}</td><td>{similar}</td><td>{share}</td>",
            explanation,
        )  # similarity, as the company page says it, not a distance
    assert "<th>similarity</th>" in explanation and "distance" not in explanation
    similar = page.split("Similar companies")[1]
    found = nearest.similar_companies(bravo, profile_id=FIRST_PROFILE_ID, limit=10)
    assert found  # the HNSW index's answer, shown as links to their admin pages
    for neighbour in found:
        assert f'/admin/leads/company/{neighbour.company.pk}/change/">{neighbour.company.name}</a>' in similar


def test_admin_bulk_rescore_reembed_and_export(as_staff, world):
    bravo, copper = world["Bravo Beers"], world["Copper Stouts"]
    selected = {"_selected_action": [bravo.pk, copper.pk]}
    Score.objects.filter(company__in=[bravo, copper]).delete()
    response = as_staff.post("/admin/leads/company/", {"action": "rescore", **selected}, follow=True)
    assert "2 companies rescored" in response.text
    assert Score.objects.filter(company__in=[bravo, copper]).count() == 2
    response = as_staff.post("/admin/leads/company/", {"action": "reembed", **selected}, follow=True)
    assert admin_messages(response) == ["Queued for embedding in 1 batch; their scores follow."]
    response = as_staff.post("/admin/leads/company/", {"action": "export_csv", **selected})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 3 and {line.split(",")[1] for line in lines[1:]} == {"Bravo Beers", "Copper Stouts"}


def test_the_admin_counts_at_most_ten_thousand_companies(as_staff, world, monkeypatch):
    from leads.admin.orders import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "COUNT_LIMIT", 3)
    response = as_staff.get("/admin/leads/company/")
    assert response.context["cl"].result_count == 3  # not 7: the count stops at the limit


# --- Deals (issue #27): read-only for managers ------------------------------------------------------


def test_managers_read_every_deal_in_the_admin_search_and_filter_it_and_change_none(bob, tmp_path):
    client = logged_in(in_role(bob, roles.MANAGER))
    acme = Company.objects.create(name="Acme")
    CrmRecord.objects.create(company=acme, crm="hubspot", record_id="101")
    Company.objects.create(name="Globex", website="https://www.globex.com")
    path = tmp_path / "deals.csv"
    path.write_text(
        "Record ID,Deal Name,Deal Stage,Close Date,Amount,Associated Company IDs,Company Domain Name\n"
        '9001,Acme renewal,Closed Won,2024-03-05,"$12,500.00",101,\n'
        "9002,Globex pilot,closedlost,2024-03-20,900,,globex.com\n"
    )
    outcomes.run_import(outcomes.create_import(path=path, crm="hubspot"))
    # The band Acme had before its deal, as remember_bands_before keeps it from a snapshot.
    OutcomeBand.objects.create(profile_id=FIRST_PROFILE_ID, outcome=Outcome.objects.get(deal_id="9001"),
                               snapshot_before=datetime.date(2024, 3, 1), band_before="strong", top_before=0.03)  # fmt: skip

    listed = client.get("/admin/leads/outcome/")
    assert listed.status_code == 200 and "Add outcome" not in listed.text
    won = table_row(listed, "9001")
    for cell in ("Acme", "HubSpot", "Acme renewal", "Won", "12,500.00 USD", "strong fit, top 3% on 2024-03-01"):
        assert f">{cell}</td>" in won, cell
    lost = table_row(listed, "9002")
    assert ">Globex</td>" in lost and ">900.00</td>" in lost and ">not read yet</td>" in lost

    def deal_ids(query: dict) -> set[str]:
        page = client.get("/admin/leads/outcome/", query).text
        return set(re.findall(r'/admin/leads/outcome/\d+/change/[^"]*">(\d+)</a>', page))

    assert deal_ids({"q": "globex"}) == {"9002"}  # the company's name
    assert deal_ids({"q": "renewal"}) == {"9001"}  # the deal's
    assert deal_ids({"stage__exact": "won"}) == {"9001"}
    assert deal_ids({"band_before": "strong"}) == {"9001"}
    assert deal_ids({"band_before": "-unread"}) == {"9002"}
    assert deal_ids({"crm": "hubspot"}) == {"9001", "9002"}
    assert deal_ids({"matched_by__exact": "domain"}) == {"9002"} and "By how it found its company" in listed.text

    deal = Outcome.objects.get(deal_id="9001")
    page = client.get(f"/admin/leads/outcome/{deal.pk}/change/").text
    assert "Acme renewal" in page and 'name="_save"' not in page  # view only
    assert client.post(f"/admin/leads/outcome/{deal.pk}/change/", {"stage": "lost"}).status_code == 403
    assert client.post(f"/admin/leads/outcome/{deal.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Outcome.objects.get(pk=deal.pk).stage == "won" and Outcome.objects.count() == 2
