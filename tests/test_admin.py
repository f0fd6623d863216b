"""The admin's company changelist and company page, through Django's test client.

Real database and services throughout; only the sentence encoder is the fake bag-of-words one."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from leads import bands, roles, selectors
from leads.models import ApiToken, Company, Label, Score
from leads.services import embeddings
from tests.conftest import WORLD_COMPANIES
from tests.web_helpers import table_row

pytestmark = pytest.mark.django_db


def admin_names(response) -> list[str]:
    return re.findall(
        r'<th class="field-name"><a href="/admin/leads/company/\d+/change/[^"]*">([^<]+)</a>', response.text
    )


def test_admin_changelist_shows_score_label_and_embedding(as_staff, world):
    response = as_staff.get("/admin/leads/company/")
    assert response.status_code == 200
    newest_first = [c.name for c in Company.objects.order_by("-pk")]  # the primary key's order: fast at a million
    assert admin_names(response) == newest_first and set(newest_first) == WORLD_COMPANIES.keys() | {"Golf Pending"}
    for header in ("column-score_value", "column-verdict", "column-embedded"):
        assert header in response.text
    bravo = table_row(response, "Bravo Beers")
    score = Score.objects.get(company=world["Bravo Beers"])
    cell = f'<td class="field-score_value">{score.signed_fit} (strong fit; score {score.signed})</td>'
    assert cell in bravo  # the dashboard's bands
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
    distribution = selectors.score_distribution()
    expected = {
        s.company.name
        for s in Score.objects.select_related("company")
        if selectors.band_of(s, distribution).key == band
    }
    assert {c.name for c in selectors.company_listing(band=band)} == expected  # the dashboard's filter
    assert set(admin_names(as_staff.get(f"/admin/leads/company/?band={band}"))) == expected


def test_admin_orders_by_fit(as_staff, world):
    by_score = [s.company.name for s in Score.objects.select_related("company").order_by("fit")]
    assert by_score == ["Echo Review", "Foxtrot Fashion", "Copper Stouts", "Bravo Beers"]
    # Column 3 of list_display is the score.
    assert admin_names(as_staff.get("/admin/leads/company/?o=3"))[:4] == by_score
    descending = admin_names(as_staff.get("/admin/leads/company/?o=-3"))
    assert descending == by_score[::-1]  # the scored companies, off the score index; "not scored" lists the rest


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
        company.refresh_from_db()
        assert company.verdict == "like"
        latest = company.labels.first()
        assert (latest.verdict, latest.user, latest.source) == ("like", staff, "admin")
    assert set(PendingScoreChange.objects.values_list("company_id", flat=True)) == {bravo.pk, echo.pk}


def test_editing_a_description_in_the_admin_makes_the_company_wait_for_embedding(
    as_staff, world, django_capture_on_commit_callbacks, monkeypatch
):
    from leads.models import PendingScoreChange
    from leads.services import queue

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
    from leads.services import companies

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


# --- Managers' review of scored companies (issue #10) --------------------------------------------


def test_the_admin_list_says_who_labelled_a_company_when_and_from_where(as_staff, world):
    alpha = table_row(as_staff.get("/admin/leads/company/"), "Alpha Brewing")
    assert re.search(r'<td class="field-labelled">alice, [^<]+, Dashboard click</td>', alpha)
    assert '<td class="field-labelled">—</td>' in table_row(as_staff.get("/admin/leads/company/"), "Bravo Beers")


def test_the_admin_company_page_explains_the_score_and_lists_similar_companies(as_staff, world, fresh_hnsw_index):
    bravo = world["Bravo Beers"]
    page = as_staff.get(f"/admin/leads/company/{bravo.pk}/change/").text
    explanation = page.split("The neighbours that made its score")[1]
    for neighbour in selectors.score_explanation(bravo):
        share = f"{100 * neighbour.share:.0f}%"
        assert re.search(
            rf">{re.escape(neighbour.company.name)}</a></td><td>{neighbour.verdict}</td><td>[\d.]+</td><td>{share}</td>",
            explanation,
        )
    similar = page.split("Similar companies")[1]
    found = selectors.similar_companies(bravo, limit=10)
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
    assert "Queued for embedding in 1 batches" in response.text
    response = as_staff.post("/admin/leads/company/", {"action": "export_csv", **selected})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert len(lines) == 3 and {line.split(",")[1] for line in lines[1:]} == {"Bravo Beers", "Copper Stouts"}


def test_the_admin_counts_at_most_ten_thousand_companies(as_staff, world, monkeypatch):
    from leads.admin import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "COUNT_LIMIT", 3)
    response = as_staff.get("/admin/leads/company/")
    assert response.context["cl"].result_count == 3  # not 7: the count stops at the limit


# --- Who may run the bulk actions, and who may make whom a superuser ---------------------------


ACTIONS = {"delete_selected", "mark_like", "mark_dislike", "mark_clear", "reembed", "rescore", "export_csv"}


def in_role(user, role: str):
    user.groups.set([Group.objects.get(name=role)])
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dave(django_user_model):
    """An admin: manages users, may look at companies, may not label or score them."""
    return in_role(django_user_model.objects.create_user("dave", "dave@example.com", "dave-password-1"), roles.ADMIN)


def offered_actions(response) -> set[str]:
    return set(re.findall(r'<option value="(\w+)"', response.text.split('name="action"')[1].split("</select>")[0]))


def test_a_manager_is_offered_every_bulk_action(world, bob):
    response = logged_in(in_role(bob, roles.MANAGER)).get("/admin/leads/company/")
    assert offered_actions(response) == ACTIONS


def test_an_admin_neither_sees_nor_runs_the_bulk_actions(world, dave, monkeypatch):
    queued = []
    monkeypatch.setattr(embeddings, "queue_embedding", lambda ids: queued.append(ids) or 1)
    bravo, echo = world["Bravo Beers"], world["Echo Review"]
    Score.objects.filter(company=bravo).delete()
    labels_before = set(Label.objects.values_list("pk", flat=True))
    client = logged_in(dave)
    listing = client.get("/admin/leads/company/")
    assert listing.status_code == 200 and 'name="action"' not in listing.text  # view only: no checkboxes
    for action in sorted(ACTIONS):
        response = client.post("/admin/leads/company/", {"action": action, "_selected_action": [bravo.pk, echo.pk]})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/html"), action
    assert set(Label.objects.values_list("pk", flat=True)) == labels_before
    assert Company.objects.get(pk=bravo.pk).verdict == "" and Company.objects.get(pk=echo.pk).verdict == ""
    assert not Score.objects.filter(company=bravo).exists()  # not rescored
    assert queued == []  # not re-embedded
    assert Company.objects.filter(pk__in=[bravo.pk, echo.pk]).count() == 2  # not deleted


def user_form(user, **changes) -> dict:
    """The admin's change form for `user` as its page posts it, with `changes`."""
    form = {"username": user.username, "first_name": "", "last_name": "", "email": user.email,
            "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00",
            "groups": [g.pk for g in user.groups.all()]}  # fmt: skip
    form.update(changes)
    return {name: value for name, value in form.items() if value is not None}


def test_an_admin_cannot_make_themself_a_superuser_staff_or_anything_more(world, dave):
    manager_group = Group.objects.get(name=roles.MANAGER)
    everything = list(Permission.objects.values_list("pk", flat=True))
    form = user_form(dave, is_superuser="on", is_staff="on", user_permissions=everything, groups=[manager_group.pk])
    response = logged_in(dave).post(f"/admin/auth/user/{dave.pk}/change/", form)
    assert response.status_code == 302, response.text[:2000]  # the rest of the form is saved
    dave.refresh_from_db()
    assert not dave.is_superuser and not dave.is_staff and not dave.user_permissions.exists()
    assert list(dave.groups.values_list("name", flat=True)) == [roles.ADMIN]  # not their own role either
    assert logged_in(dave).get("/imports/").status_code == 403
    page = logged_in(dave).get(f"/admin/auth/user/{dave.pk}/change/").text
    for field in ("is_superuser", "is_staff", "user_permissions", "groups"):
        assert f'name="{field}"' not in page, field


def test_an_admin_gives_others_their_roles(world, dave, alice):
    manager_group = Group.objects.get(name=roles.MANAGER)
    form = user_form(alice, is_superuser="on", is_staff="on", groups=[manager_group.pk])
    assert logged_in(dave).post(f"/admin/auth/user/{alice.pk}/change/", form).status_code == 302
    alice.refresh_from_db()
    assert list(alice.groups.values_list("name", flat=True)) == [roles.MANAGER]
    assert not alice.is_superuser and not alice.is_staff


def test_an_admin_may_look_at_a_superuser_but_not_change_or_delete_them(world, dave, staff):
    client = logged_in(dave)
    page = client.get(f"/admin/auth/user/{staff.pk}/change/")
    assert page.status_code == 200 and 'name="username"' not in page.text  # view only
    assert client.post(f"/admin/auth/user/{staff.pk}/change/", user_form(staff, is_active=None)).status_code == 403
    assert client.get(f"/admin/auth/user/{staff.pk}/password/").status_code == 403
    new_password = {"password1": "a-new-password-1", "password2": "a-new-password-1"}
    assert client.post(f"/admin/auth/user/{staff.pk}/password/", new_password).status_code == 403
    assert client.post(f"/admin/auth/user/{staff.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [staff.pk], "post": "yes"}
    assert client.post("/admin/auth/user/", bulk).status_code == 403
    staff.refresh_from_db()
    assert staff.is_active and staff.check_password("charlie-password-1")


def test_an_admin_cannot_give_a_group_more_permissions(world, dave):
    admins = Group.objects.get(name=roles.ADMIN)
    before = set(admins.permissions.values_list("pk", flat=True))
    everything = list(Permission.objects.values_list("pk", flat=True))
    response = logged_in(dave).post(
        f"/admin/auth/group/{admins.pk}/change/", {"name": roles.ADMIN, "permissions": everything}
    )
    assert response.status_code == 302
    assert set(admins.permissions.values_list("pk", flat=True)) == before
    assert not dave.has_perm(roles.IMPORT)


def test_a_superuser_grants_superuser_staff_and_roles(as_staff, world, dave):
    form = user_form(dave, is_superuser="on", is_staff="on", groups=[Group.objects.get(name=roles.MANAGER).pk])
    assert as_staff.post(f"/admin/auth/user/{dave.pk}/change/", form).status_code == 302
    dave.refresh_from_db()
    assert dave.is_superuser and dave.is_staff
    assert list(dave.groups.values_list("name", flat=True)) == [roles.MANAGER]


# --- One log-in page for every role --------------------------------------------------------------


def test_the_admin_log_in_page_is_the_apps(world):
    admins, app = Client().get("/admin/login/"), Client().get("/accounts/login/")
    assert admins.status_code == app.status_code == 200
    assert admins.templates[0].name == app.templates[0].name == "registration/login.html"
    assert 'name="next" value=""' in admins.text  # then the admin's index (LoginView.next_page)


@pytest.mark.parametrize("role", [roles.MANAGER, roles.ADMIN])
def test_managers_and_admins_log_in_to_the_admin_like_everyone_else(world, bob, role):
    in_role(bob, role)
    client = Client()
    assert client.get("/admin/leads/company/")["Location"] == "/admin/login/?next=/admin/leads/company/"
    credentials = {"username": "bob", "password": "bob-password-1"}
    response = client.post("/admin/login/", {**credentials, "next": "/admin/leads/company/"})
    assert response.status_code == 302 and response["Location"] == "/admin/leads/company/"
    assert client.get("/admin/leads/company/").status_code == 200
    response = Client().post("/admin/login/", credentials)
    assert response.status_code == 302 and response["Location"] == "/admin/"  # not the dashboard
