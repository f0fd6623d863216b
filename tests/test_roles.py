"""Roles (leads.accounts.roles): the groups the migration made, what a new account is, and that a refused
action changes nothing. Which role may open which URL is tests/test_access.py's table."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from leads.accounts import roles
from leads.models import FIRST_PROFILE_ID, Company, Label
from tests.web_helpers import in_role, logged_in

pytestmark = pytest.mark.django_db


def test_the_migration_made_each_role_a_group_with_exactly_its_permissions():
    for name, wanted in roles.ROLES.items():
        group = Group.objects.get(name=name)
        got = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert got == set(wanted), name


def test_a_new_account_is_a_sales_rep(django_user_model):
    user = django_user_model.objects.create_user("newbie", "n@example.com", "newbie-password-1")
    assert list(user.groups.values_list("name", flat=True)) == [roles.REP]
    assert user.has_perm(roles.LABEL) and not user.has_perm(roles.IMPORT) and not user.has_perm(roles.REVIEW)


def test_the_demo_command_makes_one_user_per_role(fake_encoder):
    call_command("demo", stdout=open("/dev/null", "w"))
    User = Group.objects.get(name=roles.REP).user_set.model
    for username, role in {"rep": roles.REP, "manager": roles.MANAGER, "admin": roles.ADMIN}.items():
        assert list(User.objects.get(username=username).groups.values_list("name", flat=True)) == [role]
    assert User.objects.get(username="demo").is_superuser


@pytest.fixture
def admin_only(django_user_model):
    return in_role(django_user_model.objects.create_user("dave", "dave@example.com", "dave-password-1"), roles.ADMIN)


def test_a_role_without_the_right_changes_nothing_and_is_told_whom_to_ask(world, alice, admin_only):
    company = world["Bravo Beers"]
    before = Label.objects.count()
    # An admin may look at companies but not label them: page, map and API alike.
    response = logged_in(admin_only).post(f"/companies/{company.pk}/label", {"verdict": "like"})
    assert response.status_code == 403
    assert "ask an admin to add you to “Sales reps”" in response.content.decode()
    response = logged_in(admin_only).post(
        "/map/label", json.dumps({"ids": [company.pk], "verdict": "like"}), content_type="application/json"
    )
    assert response.status_code == 403 and "Sales reps" in response.json()["error"]
    # A rep may not review: the fix is refused and the label stays.
    response = logged_in(alice).post(f"/review/companies/{company.pk}/label", {"verdict": "dislike"})
    assert response.status_code == 403 and "Sales managers" in response.content.decode()
    assert Label.objects.count() == before
    assert Company.objects.in_profile(FIRST_PROFILE_ID).get(pk=company.pk).verdict == world["Bravo Beers"].verdict


def test_the_dashboard_hides_what_a_role_may_not_do(world, alice, admin_only):
    rep_page = logged_in(alice).get("/").content.decode()
    admin_page = logged_in(admin_only).get("/").content.decode()
    assert 'value="like"' in rep_page and 'value="like"' not in admin_page
    assert ">Import<" not in rep_page and ">Review<" not in rep_page and ">Admin<" not in rep_page
    assert ">Admin<" in admin_page and ">Import<" not in admin_page
