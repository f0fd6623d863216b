"""Saved views: save the dashboard's view under a name, open it by its link, see the companies
new in it since one last opened it, delete it; names and queries that cannot be saved."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from leads.models import FIRST_PROFILE_ID, Company, SavedView, SavedViewVisit
from leads.savedviews import services
from tests.test_dashboard import dashboard_names

pytestmark = pytest.mark.django_db


def notes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_rep_saves_the_view_and_anyone_opens_it_by_its_link(as_alice, client, world, bob):
    response = as_alice.post(
        "/views/", {"name": "  Unlabelled   brewers ", "query": "q=brew&show=unlabelled&page=3&x=1"}
    )
    view = SavedView.objects.get()
    assert (view.name, view.query) == ("Unlabelled brewers", "show=unlabelled&q=brew")  # known filters, one order
    assert response["Location"] == "/?show=unlabelled&q=brew"
    assert notes(response) == ["Saved “Unlabelled brewers”: anyone on the team can open it from Views, or by its link."]

    client.force_login(bob)
    page = client.get(f"/views/{view.pk}/", follow=True)
    assert dashboard_names(page) == ["Bravo Beers", "Copper Stouts"]
    assert re.search(rf'<li class="current"><a href="/views/{view.pk}/">Unlabelled brewers</a>', page.text)
    assert "by alice" in page.text


def test_it_counts_the_companies_new_since_each_rep_last_opened_it(as_alice, client, world, bob):
    view = services.save_view(name="Brewers", query="q=brew", user=bob)
    long_ago = timezone.now() - timedelta(days=1)
    SavedView.objects.filter(pk=view.pk).update(created_at=long_ago)
    SavedViewVisit.objects.filter(view=view).update(visited_at=long_ago)
    Company.objects.filter(pk=world["Alpha Brewing"].pk).update(created_at=long_ago - timedelta(days=1))
    # alice never opened it: new since it was made (every brewer but Alpha, made before it)
    assert [
        (v.view.name, v.new)
        for v in services.views_for(world["Alpha Brewing"].labels.first().user, profile_id=FIRST_PROFILE_ID)
    ] == [("Brewers", 2)]
    assert "2 new</span>" in as_alice.get("/").text
    as_alice.get(f"/views/{view.pk}/")
    assert services.views_for(world["Alpha Brewing"].labels.first().user, profile_id=FIRST_PROFILE_ID)[0].new == 0
    Company.objects.create(name="Brewster Hall", industry="Brewery")  # a new brewer
    assert services.views_for(world["Alpha Brewing"].labels.first().user, profile_id=FIRST_PROFILE_ID)[0].new == 1
    assert services.views_for(bob, profile_id=FIRST_PROFILE_ID)[0].new == 3  # bob's last visit is a day old


def test_new_companies_are_counted_up_to_a_limit(world, alice, monkeypatch):
    monkeypatch.setattr(services, "NEW_COUNT_LIMIT", 2)
    view = services.save_view(name="Everyone", query="", user=alice)
    SavedViewVisit.objects.filter(view=view).update(visited_at=timezone.now() - timedelta(days=1))
    listed = services.views_for(alice, profile_id=FIRST_PROFILE_ID)[0]
    assert (listed.new, listed.new_is_capped) == (2, True)


@pytest.mark.parametrize(
    "name, query, message",
    [
        ("", "q=brew", "Not saved: Give the view a name."),
        ("x" * 101, "", "Not saved: A view's name is at most 100 characters (got 101)."),
        (
            "Odd",
            "band=purple",
            "Not saved: band must be one of: strong, likely, unsure, unlikely, unexplored (got 'purple')",
        ),
        ("Odd", "ordering=salary", "Not saved: ordering must be one of: -fit, fit,"),
        ("Nul", "q=a%00b", "Not saved: The view holds a NUL character."),
    ],
)
def test_what_cannot_be_saved_says_why(as_alice, world, name, query, message):
    response = as_alice.post("/views/", {"name": name, "query": query})
    assert response.status_code == 302 and notes(response)[0].startswith(message)
    assert not SavedView.objects.exists()
    assert as_alice.get(response["Location"]).status_code == 200  # back to a page that opens


def test_two_views_cannot_share_a_name(as_alice, world, alice):
    services.save_view(name="Brewers", query="q=brew", user=alice)
    response = as_alice.post("/views/", {"name": "BREWERS", "query": "show=liked"})
    assert notes(response) == ["Not saved: A view named “BREWERS” exists already: choose another name."]
    assert SavedView.objects.count() == 1


def test_only_its_owner_or_a_manager_deletes_a_view(client, world, alice, bob):
    view = services.save_view(name="Mine", query="", user=bob)
    client.force_login(alice)  # a rep, not its owner
    response = client.post(f"/views/{view.pk}/delete")
    assert response.status_code == 403 and response.text == "Only bob or a sales manager may delete “Mine”."
    client.force_login(bob)
    assert client.post(f"/views/{view.pk}/delete").status_code == 302
    assert not SavedView.objects.exists()


def test_a_view_whose_filter_no_longer_applies_still_lists(world, alice):
    view = services.save_view(name="Old import", query="import=12345", user=alice)
    assert [(v.view, v.new) for v in services.views_for(alice, profile_id=FIRST_PROFILE_ID)] == [(view, 0)]
