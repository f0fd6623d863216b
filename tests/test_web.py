"""The pages reps use: dashboard, company page, label form, API token page, and the admin changelist.

Real database and services throughout; only the sentence encoder is the fake bag-of-words one."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.template.defaultfilters import floatformat
from django.test import Client
from django.utils import timezone

from leads import identity
from leads.models import ApiToken, Company, Label, Score, ScoringState
from leads.services import embeddings, labels, scores
from leads.views import PAGE_SIZE
from tests.conftest import WORLD_COMPANIES

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_alice(client, alice):
    client.force_login(alice)
    return client


def dashboard_names(response) -> list[str]:
    """Company names in the dashboard table, top to bottom."""
    return [html.unescape(n) for n in re.findall(r'<td><a href="/companies/\d+/">([^<]*)</a>', response.text)]


def table_row(response, name: str) -> str:
    """The <tr> of the table row that links to the company called `name`."""
    rows = [row for row in response.text.split("<tr") if f">{name}</a>" in row]
    assert len(rows) == 1, f"{name!r} is in {len(rows)} rows"
    return rows[0]


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
    alpha.refresh_from_db()
    assert alpha.verdict == "like" and alpha.labels.count() == 1


def test_the_login_page_logs_a_rep_in(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Log out alice" in client.get("/").text


# --- dashboard --------------------------------------------------------------------


def test_dashboard_lists_best_score_first_then_unscored_by_name(as_alice, world):
    response = as_alice.get("/")
    assert response.status_code == 200
    scored = [s.company.name for s in Score.objects.select_related("company").order_by("-value")]
    assert len(scored) == 4
    unscored = sorted({"Alpha Brewing", "Delta Code", "Golf Pending"})
    assert dashboard_names(response) == scored + unscored
    assert dashboard_names(response)[0] in ("Bravo Beers", "Copper Stouts")
    assert dashboard_names(response)[3] == "Echo Review"
    assert "7 companies, best score first." in response.text


def test_dashboard_shows_signed_scores(as_alice, world):
    response = as_alice.get("/")
    bravo = Score.objects.get(company=world["Bravo Beers"])
    echo = Score.objects.get(company=world["Echo Review"])
    assert bravo.value > 0.2 and echo.value < -0.2
    assert re.fullmatch(r"\+0\.\d\d", bravo.signed) and re.fullmatch(r"-0\.\d\d", echo.signed)
    assert '<span class="score good"' in table_row(response, "Bravo Beers")
    assert f">{bravo.signed}</span>" in table_row(response, "Bravo Beers")
    assert '<span class="score bad"' in table_row(response, "Echo Review")
    assert f">{echo.signed}</span>" in table_row(response, "Echo Review")


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
    assert f'class="active">{show.capitalize()}</a>' in response.text


def test_unlabelled_filter_keeps_the_score_order(as_alice, world):
    names = dashboard_names(as_alice.get("/", {"show": "unlabelled"}))
    assert names[-1] == "Golf Pending"  # unscored after every scored one
    assert names.index("Bravo Beers") < names.index("Foxtrot Fashion") < names.index("Echo Review")


def test_an_unknown_filter_is_a_bad_request(as_alice, world):
    response = as_alice.get("/", {"show": "favourites"})
    assert response.status_code == 400
    assert "show must be one of: all, unlabelled, labelled, liked, disliked" in response.text
    assert "'favourites'" in response.text


def test_a_bad_filter_is_not_echoed_back_as_html(as_alice):
    response = as_alice.get("/", {"show": "<script>alert(1)</script>"})
    assert response.status_code == 400
    assert "<script>" not in response.text or response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query, expected",
    [
        ("brew", ["Alpha Brewing"]),  # name (and domain alphabrew.com)
        ("BEERS", ["Bravo Beers"]),  # name, any case
        (".io", ["Echo Review", "Delta Code"]),  # domain only, still in score order
        ("COPPERSTOUTS.CO.UK", ["Copper Stouts"]),  # domain, any case
        ("  fashion  ", ["Foxtrot Fashion"]),
        ("nothing-like-this", []),
    ],
)
def test_dashboard_search_by_name_or_domain(as_alice, world, query, expected):
    response = as_alice.get("/", {"q": query})
    assert dashboard_names(response) == expected
    assert f'name="q" value="{query}"' in response.text


def test_a_search_that_finds_nothing_says_so(as_alice, world):
    response = as_alice.get("/", {"q": "nothing-like-this"})
    assert "No companies match." in response.text
    assert "0 companies" in response.text


def test_a_search_with_a_nul_character_finds_nothing(as_alice, world):
    response = as_alice.get("/", {"q": "Bravo\x00"})
    assert response.status_code == 200
    assert dashboard_names(response) == []


def test_search_combines_with_the_label_filter(as_alice, world):
    response = as_alice.get("/", {"q": "brew", "show": "unlabelled"})
    assert dashboard_names(response) == []
    response = as_alice.get("/", {"q": "Code", "show": "disliked"})
    assert dashboard_names(response) == ["Delta Code"]


def test_search_text_is_escaped(as_alice):
    response = as_alice.get("/", {"q": '"><b>x'})
    assert "<b>x" not in response.text
    assert 'value="&quot;&gt;&lt;b&gt;x"' in response.text


@pytest.fixture
def many(db):
    count = PAGE_SIZE + 12
    Company.objects.bulk_create(
        Company(name=f"Company {i:03d}", dedupe_key=identity.dedupe_key(name=f"Company {i:03d}", domain="", country=""))
        for i in range(count)
    )
    return count


def test_dashboard_pages_through_many_companies(as_alice, many):
    first = as_alice.get("/")
    assert dashboard_names(first) == [f"Company {i:03d}" for i in range(PAGE_SIZE)]
    assert f"{many} companies" in first.text
    assert "Page 1 of 2" in first.text
    assert 'href="?show=all&q=&page=2">Next →</a>' in first.text
    assert "← Previous" not in first.text

    second = as_alice.get("/", {"page": 2})
    assert dashboard_names(second) == [f"Company {i:03d}" for i in range(PAGE_SIZE, many)]
    assert "Page 2 of 2" in second.text
    assert 'href="?show=all&q=&page=1">← Previous</a>' in second.text
    assert "Next →" not in second.text


@pytest.mark.parametrize("page, shown", [("99", 2), ("abc", 1), ("0", 2), ("", 1)])
def test_dashboard_forgives_bad_page_numbers(as_alice, many, page, shown):
    response = as_alice.get("/", {"page": page})
    assert response.status_code == 200
    assert f"Page {shown} of 2" in response.text


def test_pagination_links_keep_the_filter_and_the_search(as_alice, many):
    response = as_alice.get("/", {"show": "unlabelled", "q": "company 0"})
    assert f"{many} companies" in response.text
    assert 'href="?show=unlabelled&q=company%200&page=2">Next →</a>' in response.text
    response = as_alice.get("/", {"q": "Company 05"})
    assert dashboard_names(response) == [f"Company {i:03d}" for i in range(50, 60)]
    assert "Page 1 of" not in response.text  # one page: no page links


# --- company page -----------------------------------------------------------------


def test_company_page_shows_the_company(as_alice, world):
    copper = world["Copper Stouts"]
    Company.objects.filter(pk=copper.pk).update(
        description="Line one <b>bold</b>\nLine two", country="GB", extra={"employees": "42"}
    )
    response = as_alice.get(f"/companies/{copper.pk}/")
    assert response.status_code == 200
    assert "<h1>Copper Stouts</h1>" in response.text
    assert "Line one &lt;b&gt;bold&lt;/b&gt;<br>Line two" in response.text
    assert ">copperstouts.co.uk</a> · Brewery · GB" in response.text
    assert "<dt>employees</dt><dd>42</dd>" in response.text


def test_company_page_links_to_the_website(as_alice, world):
    response = as_alice.get(f"/companies/{world['Copper Stouts'].pk}/")
    assert 'href="https://copperstouts.co.uk/en/"' in response.text
    # Imported without a scheme: still an absolute link, not one relative to this page.
    response = as_alice.get(f"/companies/{world['Bravo Beers'].pk}/")
    assert 'href="https://bravobeers.com"' in response.text
    assert 'href="bravobeers.com"' not in response.text


def test_company_page_never_links_to_a_script_website(as_alice, db):
    company = Company.objects.create(name="Sneaky", website="javascript:alert(document.cookie)")
    response = as_alice.get(f"/companies/{company.pk}/")
    assert response.status_code == 200
    assert 'href="javascript:' not in response.text


def test_company_page_explains_a_score_by_its_neighbours(as_alice, world):
    bravo = world["Bravo Beers"]
    score = Score.objects.get(company=bravo)
    response = as_alice.get(f"/companies/{bravo.pk}/")
    assert "Why this score" in response.text
    sentence = (
        f"Scored {score.signed} because it is close to Alpha Brewing, which you liked, "
        "and to Delta Code, which you disliked."
    )
    assert f'<p class="explanation">{sentence}</p>' in response.text
    assert score.signed.startswith("+")

    table = response.text.split('<table class="neighbours">')[1].split("</table>")[0]
    rows = re.findall(
        r'<a href="/companies/(\d+)/">([^<]+)</a>.*?<span class="badge (\w+)">(\w+)</span></td>\s*'
        r"<td>([^<]+)</td>\s*<td>.*?</span> (\d+)%</td>",
        table,
        re.S,
    )
    expected = [
        (
            str(n["company_id"]),
            Company.objects.get(pk=n["company_id"]).name,
            "like" if n["label"] > 0 else "dislike",
            "liked" if n["label"] > 0 else "disliked",
            floatformat(1 - n["distance"], 3),
            str(round(n["weight"] * 100)),
        )
        for n in score.neighbours
    ]
    assert rows == expected
    assert [r[1] for r in rows] == ["Alpha Brewing", "Delta Code"]  # nearest first
    assert int(rows[0][5]) > 50 and int(rows[0][5]) + int(rows[1][5]) in (99, 100, 101)


def test_a_negative_score_is_explained_by_the_disliked_neighbour_first(as_alice, world):
    echo = world["Echo Review"]
    score = Score.objects.get(company=echo)
    response = as_alice.get(f"/companies/{echo.pk}/")
    assert score.signed.startswith("-")
    assert (
        f"Scored {score.signed} because it is close to Alpha Brewing, which you liked, "
        "and to Delta Code, which you disliked."
    ) in response.text
    assert 'class="score bad"' in response.text


def test_a_deleted_neighbour_is_shown_as_such(as_alice, world):
    world["Delta Code"].delete()
    bravo = world["Bravo Beers"]
    score = Score.objects.get(company=bravo)
    response = as_alice.get(f"/companies/{bravo.pk}/")
    assert response.status_code == 200
    assert "deleted company" in response.text
    assert f"Scored {score.signed} because it is close to Alpha Brewing, which you liked." in response.text


def test_company_page_without_a_score_says_why(as_alice, world, fake_encoder):
    response = as_alice.get(f"/companies/{world['Golf Pending'].pk}/")
    assert "Waiting for the worker to embed this company's text." in response.text
    assert "Why this score" not in response.text
    assert "No description: this company is scored from its name and industry only." in response.text

    Label.objects.all().delete()
    Company.objects.update(verdict="")
    scores.rescore_all()
    response = as_alice.get(f"/companies/{world['Bravo Beers'].pk}/")
    assert "Not scored: no company is labelled yet." in response.text


def test_a_labelled_company_shows_its_label_not_a_score(as_alice, world):
    response = as_alice.get(f"/companies/{world['Alpha Brewing'].pk}/")
    assert '<span class="badge like">Liked</span>' in response.text
    assert "Why this score" not in response.text
    assert "Not scored" not in response.text
    assert 'value="clear"' in response.text  # a label can be cleared
    assert 'value="clear"' not in as_alice.get(f"/companies/{world['Bravo Beers'].pk}/").text


def test_company_page_shows_the_label_history_newest_first(as_alice, world, alice, bob):
    alpha = world["Alpha Brewing"]
    labels.label_company(company=alpha, user=bob, verdict="dislike")
    labels.label_company(company=alpha, user=alice, verdict="clear")
    Label.objects.create(company=alpha, user=None, verdict="like")
    now = timezone.now()
    ages = {("like", "alice"): timedelta(days=3), ("dislike", "bob"): timedelta(days=2)}
    ages[("clear", "alice")] = timedelta(hours=5)
    ages[("like", None)] = timedelta(minutes=10)
    for label in alpha.labels.select_related("user"):
        key = (label.verdict, label.user.username if label.user else None)
        Label.objects.filter(pk=label.pk).update(created_at=now - ages[key])

    response = as_alice.get(f"/companies/{alpha.pk}/")
    history = response.text.split('<ul class="history">')[1].split("</ul>")[0]
    items = [html.unescape(re.sub(r"<[^>]+>", "", li)).replace("\xa0", " ") for li in history.split("<li>")[1:]]
    assert items == [
        "Liked by an import, 10 minutes ago",
        "Cleared by alice, 5 hours ago",
        "Disliked by bob, 2 days ago",
        "Liked by alice, 3 days ago",
    ]


def test_an_unlabelled_company_has_no_history(as_alice, world):
    response = as_alice.get(f"/companies/{world['Bravo Beers'].pk}/")
    assert "Nobody has labelled this company yet." in response.text


def test_an_unknown_company_is_404(as_alice, db):
    assert as_alice.get("/companies/999999/").status_code == 404


# --- label form -------------------------------------------------------------------


@pytest.mark.parametrize(
    "verdict, stored, said",
    [("like", "like", "liked"), ("dislike", "dislike", "disliked"), ("clear", "", "label cleared")],
)
def test_the_label_form_records_a_verdict(as_alice, world, alice, verdict, stored, said):
    bravo = world["Bravo Beers"]
    before = ScoringState.get().labels_version
    response = as_alice.post(f"/companies/{bravo.pk}/label", {"verdict": verdict}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert f"Bravo Beers: {said}. Scores update in a moment." in response.text
    bravo.refresh_from_db()
    assert bravo.verdict == stored
    assert list(bravo.labels.values_list("verdict", "user")) == [(verdict, alice.pk)]
    assert ScoringState.get().labels_version == before + 1  # a rescore is requested


def test_like_then_dislike_then_clear_keeps_every_label(as_alice, world, alice):
    delta = world["Delta Code"]
    for verdict in ("like", "dislike", "clear"):
        assert as_alice.post(f"/companies/{delta.pk}/label", {"verdict": verdict}).status_code == 302
    delta.refresh_from_db()
    assert delta.verdict == ""
    assert list(delta.labels.values_list("verdict", "user__username")) == [
        ("clear", "alice"),
        ("dislike", "alice"),
        ("like", "alice"),
        ("dislike", "bob"),
    ]


def test_the_label_form_queues_a_rescore_after_commit(as_alice, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        as_alice.post(f"/companies/{world['Bravo Beers'].pk}/label", {"verdict": "like"})
    assert len(callbacks) == 1


@pytest.mark.parametrize("verdict", ["maybe", "", "liked"])
def test_an_invalid_verdict_is_a_bad_request(as_alice, world, verdict):
    bravo = world["Bravo Beers"]
    response = as_alice.post(f"/companies/{bravo.pk}/label", {"verdict": verdict})
    assert response.status_code == 400
    assert "verdict must be one of: like, dislike, clear" in response.text
    assert bravo.labels.count() == 0
    bravo.refresh_from_db()
    assert bravo.verdict == ""


def test_a_missing_verdict_is_a_bad_request(as_alice, world):
    response = as_alice.post(f"/companies/{world['Bravo Beers'].pk}/label", {})
    assert response.status_code == 400


def test_the_label_form_only_takes_posts(as_alice, world):
    bravo = world["Bravo Beers"]
    assert as_alice.get(f"/companies/{bravo.pk}/label", {"verdict": "like"}).status_code == 405
    assert bravo.labels.count() == 0


def test_labelling_an_unknown_company_is_404(as_alice, db):
    assert as_alice.post("/companies/999999/label", {"verdict": "like"}).status_code == 404
    assert Label.objects.count() == 0


@pytest.mark.parametrize(
    "next_url, location",
    [
        ("/?show=unlabelled&page=2", "/?show=unlabelled&page=2"),
        ("/companies/1/", "/companies/1/"),
        ("http://testserver/?q=beer", "http://testserver/?q=beer"),
        ("https://evil.example.com/", "/"),
        ("//evil.example.com/", "/"),
        ("http://evil.example.com/?next=/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_the_label_form_returns_only_to_pages_of_this_site(as_alice, world, next_url, location):
    response = as_alice.post(f"/companies/{world['Bravo Beers'].pk}/label", {"verdict": "like", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == location


def test_the_label_buttons_return_to_the_page_they_are_on(as_alice, world):
    response = as_alice.get("/", {"show": "unlabelled", "page": "1"})
    assert 'name="next" value="/?show=unlabelled&amp;page=1"' in response.text
    assert f'action="/companies/{world["Bravo Beers"].pk}/label"' in response.text


def test_the_label_form_needs_a_csrf_token(world, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    bravo = world["Bravo Beers"]
    assert client.post(f"/companies/{bravo.pk}/label", {"verdict": "like"}).status_code == 403
    client.get("/")
    token = client.cookies["csrftoken"].value
    response = client.post(f"/companies/{bravo.pk}/label", {"verdict": "like", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    bravo.refresh_from_db()
    assert bravo.verdict == "like"


# --- API token page ---------------------------------------------------------------


def test_the_token_page_shows_the_reps_token(as_alice, alice):
    response = as_alice.get("/account/token")
    assert response.status_code == 200
    key = ApiToken.objects.get(user=alice).key
    assert len(key) == 40
    assert f'<code class="token">{key}</code>' in response.text
    assert f'curl -H "Authorization: Token {key}" http://testserver/api/companies/' in response.text
    assert as_alice.get("/account/token").text.count(key) == 3  # the same token on every visit


def test_each_rep_has_their_own_token(client, alice, bob):
    client.force_login(alice)
    alice_page = client.get("/account/token").text
    client.force_login(bob)
    bob_page = client.get("/account/token").text
    assert ApiToken.for_user(bob).key in bob_page
    assert ApiToken.for_user(bob).key not in alice_page
    assert ApiToken.for_user(alice).key not in bob_page


def test_making_a_new_token_retires_the_old_one(as_alice, alice, world):
    old = ApiToken.for_user(alice).key
    assert as_alice.get("/api/companies/", headers={"Authorization": f"Token {old}"}).status_code == 200

    response = as_alice.post("/account/token", follow=True)
    assert response.redirect_chain == [("/account/token", 302)]
    new = ApiToken.objects.get(user=alice).key
    assert new != old
    assert new in response.text and old not in response.text
    assert "A new API token was made; the old one no longer works." in response.text

    as_alice.logout()
    refused = as_alice.get("/api/companies/", headers={"Authorization": f"Token {old}"})
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid API token; get yours at /account/token"}
    accepted = as_alice.get("/api/companies/", headers={"Authorization": f"Token {new}"})
    assert accepted.status_code == 200 and accepted.json()["count"] == 7


# --- admin ------------------------------------------------------------------------


@pytest.fixture
def as_staff(client, staff):
    client.force_login(staff)
    return client


def admin_names(response) -> list[str]:
    return re.findall(
        r'<th class="field-name"><a href="/admin/leads/company/\d+/change/[^"]*">([^<]+)</a>', response.text
    )


def test_admin_changelist_shows_score_label_and_embedding(as_staff, world):
    response = as_staff.get("/admin/leads/company/")
    assert response.status_code == 200
    assert admin_names(response) == sorted(WORLD_COMPANIES.keys() | {"Golf Pending"})
    for header in ("column-score_value", "column-verdict", "column-embedded"):
        assert header in response.text
    bravo = table_row(response, "Bravo Beers")
    assert f'<td class="field-score_value">{Score.objects.get(company=world["Bravo Beers"]).signed}</td>' in bravo
    assert 'alt="True"' in bravo
    golf = table_row(response, "Golf Pending")
    assert '<td class="field-score_value">—</td>' in golf
    assert 'alt="False"' in golf
    assert '<td class="field-verdict">Liked</td>' in table_row(response, "Alpha Brewing")


@pytest.mark.parametrize(
    "query, expected",
    [
        ("scored=high", {"Bravo Beers", "Copper Stouts"}),
        ("scored=low", {"Echo Review"}),
        ("scored=uncertain", {"Foxtrot Fashion"}),
        ("scored=none", {"Alpha Brewing", "Delta Code", "Golf Pending"}),
        ("verdict__exact=like", {"Alpha Brewing"}),
        ("verdict__exact=dislike", {"Delta Code"}),
        ("embedded=no", {"Golf Pending"}),
        ("embedded=yes", set(WORLD_COMPANIES)),
        ("industry=Software", {"Delta Code", "Echo Review"}),
        ("q=brew", {"Alpha Brewing", "Bravo Beers", "Copper Stouts"}),  # description too
        ("industry=Brewery&scored=high", {"Bravo Beers", "Copper Stouts"}),
    ],
)
def test_admin_changelist_filters(as_staff, world, query, expected):
    values = {s.company.name: s.value for s in Score.objects.select_related("company")}
    assert values["Bravo Beers"] >= 0.5 and values["Copper Stouts"] >= 0.5 and values["Echo Review"] < -0.5
    assert -0.2 < values["Foxtrot Fashion"] < 0.2
    response = as_staff.get(f"/admin/leads/company/?{query}")
    assert response.status_code == 200
    assert set(admin_names(response)) == expected


def test_admin_orders_by_score(as_staff, world):
    by_score = [s.company.name for s in Score.objects.select_related("company").order_by("value")]
    assert by_score == ["Echo Review", "Foxtrot Fashion", "Copper Stouts", "Bravo Beers"]
    # Column 6 of list_display (after the action checkbox) is the score.
    assert admin_names(as_staff.get("/admin/leads/company/?o=6"))[:4] == by_score
    descending = admin_names(as_staff.get("/admin/leads/company/?o=-6"))
    assert [name for name in descending if name in by_score] == by_score[::-1]


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
