"""The admin's bulk actions by role, users and groups (only a superuser gives more than the roles),
and one log-in page for every role."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from leads.accounts import roles
from leads.embedding import services as embeddings
from leads.models import FIRST_PROFILE_ID, Company, Label, Score
from tests.web_helpers import in_role, logged_in

pytestmark = pytest.mark.django_db

# --- Who may run the bulk actions, and who may make whom a superuser ---------------------------


ACTIONS = {
    "delete_selected", "mark_like", "mark_dislike", "mark_clear", "assign_to", "unassign", "reembed", "rescore",
    "export_csv",
}  # fmt: skip


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
    in_profile = Company.objects.in_profile(FIRST_PROFILE_ID)
    assert in_profile.get(pk=bravo.pk).verdict == "" and in_profile.get(pk=echo.pk).verdict == ""
    assert not Score.objects.filter(company=bravo).exists()  # not rescored
    assert queued == []  # not re-embedded
    assert Company.objects.filter(pk__in=[bravo.pk, echo.pk]).count() == 2  # not deleted
    assert not Company.objects.filter(owner__isnull=False).exists()  # not assigned


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
