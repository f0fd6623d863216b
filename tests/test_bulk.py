"""The dashboard's selection: like, dislike or clear every ticked company at once (the labels
service, one pass), or download them as CSV; what each role may do, and inputs that are no ids."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
from django.contrib.messages import get_messages

from leads.models import Company, Label, LabelSource, PendingScoreChange

pytestmark = pytest.mark.django_db


def post(client, **data):
    return client.post("/companies/bulk", {"next": "/?show=unlabelled", **data})


def test_it_likes_every_selected_company_as_the_reps_click(as_alice, world, alice):
    picked = [world["Bravo Beers"].pk, world["Echo Review"].pk]
    response = post(as_alice, action="like", ids=picked)
    assert response.status_code == 302 and response["Location"] == "/?show=unlabelled"
    latest = {label.company_id: label for label in Label.objects.filter(company_id__in=picked)}
    assert {pk: (label.verdict, label.user, label.source) for pk, label in latest.items()} == {
        pk: ("like", alice, LabelSource.CLICK) for pk in picked
    }
    assert PendingScoreChange.objects.filter(company_id__in=picked).count() == 2  # queued for the rescore
    note = [str(m) for m in get_messages(response.wsgi_request)]
    assert note == ["2 companies liked (2 changed); their neighbours' scores update in a moment."]
    page = as_alice.get("/?show=liked")
    assert "Bravo Beers" in page.text and "Echo Review" in page.text
    # The page it went back to watches the pass as after one verdict (it showed no change and old scores).
    since = Label.objects.filter(company_id__in=picked).order_by("created_at").first().created_at
    watched = re.search(r'data-watch-since="([^"]+)"', page.text)
    assert watched and since - timedelta(seconds=5) < datetime.fromisoformat(watched.group(1)) <= since
    assert "data-watch-since" not in as_alice.get("/").text  # once


def test_clearing_companies_without_a_verdict_changes_nothing_and_says_so(as_alice, world):
    response = post(as_alice, action="clear", ids=[world["Bravo Beers"].pk])
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 company cleared: no verdict changed."]
    assert "data-watch-since" not in as_alice.get("/").text  # nothing to watch for


def test_it_exports_exactly_the_selection(as_alice, world):
    picked = [world["Bravo Beers"].pk, world["Alpha Brewing"].pk]
    response = post(as_alice, action="export", ids=picked)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="leads-scores-selected-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode().removeprefix("\ufeff"))))
    assert [row[1] for row in rows[1:]] == ["Bravo Beers", "Alpha Brewing"]  # scored first, then the labelled


def test_an_admin_may_export_a_selection_but_not_label_it(client, world, django_user_model):
    from django.contrib.auth.models import Group

    from leads.accounts import roles

    dave = django_user_model.objects.create_user("dave", password="dave-password-1")
    dave.groups.set([Group.objects.get(name=roles.ADMIN)])
    client.force_login(dave)
    response = post(client, action="like", ids=[world["Bravo Beers"].pk])
    assert response.status_code == 403 and "ask an admin to add you to" in response.text
    assert not Label.objects.filter(company=world["Bravo Beers"]).exists()
    assert post(client, action="export", ids=[world["Bravo Beers"].pk]).status_code == 200


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "like", "ids": ["1", "x"]}, "ids must be company numbers"),
        ({"action": "like", "ids": [str(i) for i in range(501)]}, "Select at most 500 companies at once (got 501)."),
        ({"action": "delete", "ids": ["1"]}, "action must be one of: like, dislike, clear, assign, export"),
    ],
)
def test_bad_input_says_what_to_fix(as_alice, world, data, message):
    response = post(as_alice, **data)
    assert response.status_code == 400 and response.text == message
    assert Label.objects.count() == 2  # the world's two


def test_nothing_selected_says_how_to_select(as_alice, world):
    response = post(as_alice, action="dislike")
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Select companies first: tick their boxes (x on the keyboard)."
    ]


def test_a_company_deleted_meanwhile_is_left_out(as_alice, world):
    response = post(as_alice, action="dislike", ids=[world["Echo Review"].pk, 999_999])
    assert [str(m) for m in get_messages(response.wsgi_request)][0].startswith("1 company disliked")


def test_every_row_has_its_box_and_the_bar_its_actions(as_alice, world):
    page = as_alice.get("/").text
    assert page.count('class="pick" name="ids"') == 7
    assert f'value="{world["Bravo Beers"].pk}" form="bulk" aria-label="Select Bravo Beers"' in page
    assert '<form id="bulk" method="post" action="/companies/bulk"' in page
    for action in ("like", "dislike", "clear", "export"):
        assert f'name="action" value="{action}"' in page


def test_a_rep_takes_the_selection_and_releases_it(as_alice, world, alice):
    picked = [world["Bravo Beers"].pk, world["Echo Review"].pk]
    response = post(as_alice, action="assign", owner="me", ids=picked)
    assert notes_of(response) == ["2 companies now assigned to you."]
    assert set(Company.objects.filter(pk__in=picked).values_list("owner__username", flat=True)) == {"alice"}
    response = post(as_alice, action="assign", owner="none", ids=[world["Bravo Beers"].pk])
    assert notes_of(response)[-1] == "1 company now assigned to nobody."
    assert Company.objects.get(pk=world["Bravo Beers"].pk).owner is None


def test_a_rep_cannot_give_the_selection_to_another_rep_nor_take_theirs(as_alice, world, bob):
    response = post(as_alice, action="assign", owner="bob", ids=[world["Bravo Beers"].pk])
    assert response.status_code == 403 and "ask a sales manager to assign it to bob" in response.text
    Company.objects.filter(pk=world["Echo Review"].pk).update(owner=bob)
    response = post(as_alice, action="assign", owner="me", ids=[world["Echo Review"].pk, world["Bravo Beers"].pk])
    assert notes_of(response) == ["1 company now assigned to you; 1 left as they were (already so, or another rep's)."]
    assert Company.objects.get(pk=world["Echo Review"].pk).owner == bob


def test_a_manager_gives_the_selection_to_a_rep(client, world, alice, bob):
    from django.contrib.auth.models import Group

    from leads.accounts import roles

    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    client.force_login(bob)
    response = post(client, action="assign", owner="alice", ids=[world["Bravo Beers"].pk, world["Copper Stouts"].pk])
    assert notes_of(response) == ["2 companies now assigned to alice."]
    assert post(client, action="assign", owner="nobody-here", ids=[world["Bravo Beers"].pk]).status_code == 400
    page = client.get("/").text
    assert '<option value="alice">alice</option>' in page.split('name="owner" aria-label="Assign')[1]


def notes_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]
