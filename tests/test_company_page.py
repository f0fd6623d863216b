"""The company page, the label form on it and the API token page, through Django's test
client.

Real database and services throughout; only the sentence encoder is the fake bag-of-words one."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.template.defaultfilters import floatformat
from django.test import Client
from django.utils import timezone

from leads.models import FIRST_PROFILE_ID, Company, CurrentVerdict, Label, PendingScoreChange, Score
from leads.scoring import labels
from leads.scoring import services as scores

pytestmark = pytest.mark.django_db


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
    assert '>copperstouts.co.uk</a> · Brewery · <span class="country">United Kingdom</span>' in response.text
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
    # Only the close neighbour is named: Delta Code (software) is 0.92 away, not close at all.
    sentence = f"Fit {score.signed_fit} (score {score.signed}): it is close to Alpha Brewing, which you liked."
    assert f'<p class="explanation">{sentence}</p>' in response.text
    assert score.signed.startswith("+") and score.signed_fit.startswith("+")
    assert "Evidence: 1 labelled company is at least" in response.text
    assert "the other 1 are too far to count for much" in response.text

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
    alpha_similar = round(100 * (1 - score.neighbour_distances[1]))
    assert score.neighbour_ids[1] == world["Alpha Brewing"].pk
    assert (
        f"Fit {score.signed_fit} (score {score.signed}): it is close to Delta Code, which you disliked. "
        f"The nearest company you liked, Alpha Brewing, is only {alpha_similar}% similar: "
        "not close enough to call it a fit yet."
    ) in response.text
    assert 'class="score band-unlikely"' in response.text and ">unlikely</span>" in response.text


def test_a_deleted_neighbour_is_shown_as_such(as_alice, world):
    world["Delta Code"].delete()
    bravo = world["Bravo Beers"]
    score = Score.objects.get(company=bravo)
    response = as_alice.get(f"/companies/{bravo.pk}/")
    assert response.status_code == 200
    assert "deleted company" in response.text
    assert (
        f"Fit {score.signed_fit} (score {score.signed}): it is close to Alpha Brewing, which you liked."
        in response.text
    )


def test_a_company_far_from_every_label_is_not_said_to_be_close_to_any(as_alice, world):
    foxtrot = world["Foxtrot Fashion"]
    score = Score.objects.get(company=foxtrot)
    nearest = Company.objects.get(pk=score.neighbour_ids[0])
    similar = round(100 * (1 - score.neighbour_distances[0]))
    assert score.unexplored and similar < 30
    response = as_alice.get(f"/companies/{foxtrot.pk}/")
    assert (
        f"Nothing you labelled is close: the nearest, {nearest.name}, is only {similar}% similar. "
        "Label a few companies like this one to score it."
    ) in response.text
    assert "close to" not in response.text.split('<p class="explanation">')[1].split("</p>")[0]
    assert "Evidence: none." in response.text
    # Every place that words its evidence says the same: none, never "0.3 labelled companies' worth".
    assert "evidence: none (nothing labelled is close)" in response.text
    assert "labelled companies' worth close by" not in response.text.split('class="row"', 1)[1].split("</div>", 1)[0]
    assert ">unexplored</span>" in response.text


def test_company_page_without_a_score_says_why(as_alice, world, fake_encoder):
    response = as_alice.get(f"/companies/{world['Golf Pending'].pk}/")
    assert "Waiting for the worker to embed this company's text." in response.text
    assert "Why this score" not in response.text
    assert "No description: this company is scored from its name and industry only." in response.text

    Label.objects.all().delete()
    CurrentVerdict.objects.all().delete()
    scores.rescore_all(FIRST_PROFILE_ID)
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
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=alpha, user=bob, source="click", verdict="dislike")
    labels.label_company(profile_id=FIRST_PROFILE_ID, company=alpha, user=alice, source="click", verdict="clear")
    Label.objects.create(profile_id=FIRST_PROFILE_ID, company=alpha, user=None, verdict="like")
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
        "Cleared by alice, 5 hours ago (dashboard click)",
        "Disliked by bob, 2 days ago (dashboard click)",
        "Liked by alice, 3 days ago (dashboard click)",
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
    response = as_alice.post(f"/companies/{bravo.pk}/label", {"verdict": verdict}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert f"Bravo Beers: {said}. Scores update in a moment." in response.text
    bravo = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk)
    assert bravo.verdict == stored
    assert list(bravo.labels.values_list("verdict", "user", "source")) == [(verdict, alice.pk, "click")]
    assert PendingScoreChange.objects.filter(company_id=bravo.pk).exists()  # a rescore is requested


def test_like_then_dislike_then_clear_keeps_every_label(as_alice, world, alice):
    delta = world["Delta Code"]
    for verdict in ("like", "dislike", "clear"):
        assert as_alice.post(f"/companies/{delta.pk}/label", {"verdict": verdict}).status_code == 302
    delta = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=delta.pk)
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
    bravo = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk)
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
    bravo = Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=bravo.pk)
    assert bravo.verdict == "like"


def test_a_liked_company_too_far_to_support_a_fit_is_never_called_close():
    """Between "supports a fit" and "close" (evidence.SUPPORTED_WITHIN and UNEXPLORED_BEYOND radii) a liked
    company counts in the fit but is not close: the sentence once said both ("close to X"; "X is
    only 36% similar: not close enough")."""
    from types import SimpleNamespace

    from leads.scoring.explanations import NeighbourView, Reach, explanation_sentence

    kombucha = SimpleNamespace(score=SimpleNamespace(
        signed_fit="+0.23", signed="+0.28", profile_id=FIRST_PROFILE_ID, unexplored=False, supported=False))  # fmt: skip
    brewing, dental = SimpleNamespace(name="Brightharbor Brewing Co."), SimpleNamespace(name="Sunbay Dental")
    neighbours = [
        NeighbourView(brewing, 1, "like", 0.36, 0.64, 0.6),
        NeighbourView(dental, 2, "dislike", 0.30, 0.70, 0.4),
    ]
    sentence = explanation_sentence(kombucha, neighbours, Reach(close=0.75, supports=0.6))
    assert sentence == (
        "Fit +0.23 (score +0.28): it is close to Sunbay Dental, which you disliked. The nearest company you liked, "
        "Brightharbor Brewing Co., is only 36% similar: not close enough to call it a fit yet."
    )
    alone = explanation_sentence(kombucha, neighbours[:1], Reach(close=0.75, supports=0.6))
    assert alone.startswith("Fit +0.23 (score +0.28). The nearest company you liked, Brightharbor")
    supported = SimpleNamespace(score=SimpleNamespace(**{**vars(kombucha.score), "supported": True}))
    assert "it is close to Brightharbor Brewing Co., which you liked" in explanation_sentence(
        supported, neighbours, Reach(close=0.75, supports=0.7)
    )
