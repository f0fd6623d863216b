"""Who may do what: three roles, each a Django group with its permissions (made by a migration,
kept in step by `sync_groups`), and the checks every page, action and API endpoint uses.

- Sales reps view companies and label them, write notes on them, and take a company that nobody
  owns (or release their own).
- Sales managers also assign companies to anyone, import, review labels, use the admin's company
  pages and bulk actions, read the deals (outcomes) there, and change scoring settings.
- Admins manage users, groups and API tokens (in the admin) and may view companies, nothing more:
  they write no verdict, note or owner.

A new account is a sales rep until an admin gives it another role; a superuser may do anything.
The app's own permissions are declared on Company (Meta.permissions); the rest are Django's
model permissions, which the admin checks."""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject

REP, MANAGER, ADMIN = "Sales reps", "Sales managers", "Admins"

# What the app checks, by name (app label "leads").
VIEW = "leads.view_company"
LABEL = "leads.label_company"
IMPORT = "leads.import_companies"
REVIEW = "leads.review_labels"
SETTINGS = "leads.change_scoring_settings"
OPEN_ADMIN = "leads.open_admin"
CLAIM = "leads.claim_company"  # take an unowned company, release one's own (leads/owners/services.py)
ASSIGN = "leads.assign_company"  # give any company to anyone, or to nobody
NOTE = "leads.note_company"


_REP = [VIEW, LABEL, CLAIM, NOTE]
ROLES: dict[str, list[str]] = {
    REP: _REP,
    MANAGER: [
        *_REP,
        ASSIGN,
        IMPORT,
        REVIEW,
        SETTINGS,
        OPEN_ADMIN,
        "leads.add_company",
        "leads.change_company",
        "leads.delete_company",
        "leads.view_label",
        "leads.view_score",
        "leads.view_importjob",
        "leads.delete_importjob",
        "leads.view_outcome",  # the deals, read-only: they come in only through a deals import
        # Ideal-customer profiles: made, renamed, archived, reps limited to some (never deleted).
        "leads.add_profile",
        "leads.change_profile",
        "leads.view_profile",
        "leads.add_profileaccess",
        "leads.change_profileaccess",
        "leads.delete_profileaccess",
        "leads.view_profileaccess",
    ],  # fmt: skip
    ADMIN: [
        VIEW,
        OPEN_ADMIN,
        *(f"auth.{action}_{model}" for model in ("user", "group") for action in ("add", "change", "delete", "view")),
        "leads.view_apitoken",
        "leads.delete_apitoken",
        *(
            f"axes.{action}_{model}"
            for model in ("accessattempt", "accesslog", "accessfailurelog")
            for action in ("view", "delete")
        ),
    ],  # fmt: skip
}


def create_permissions(apps) -> None:
    """Every model permission, now: a migration needs them before post_migrate would make them."""
    from django.contrib.auth.management import create_permissions as create

    for config in apps.get_app_configs():
        config.models_module = True  # historical app configs have none; create() skips those
        create(config, apps=apps, verbosity=0)
        config.models_module = None


def sync_groups(apps) -> None:
    """Create the three groups and give each exactly its permissions: by the migration that
    introduced roles, and after every migrate (post_migrate), so that the groups follow ROLES
    and come back after a test flushes the database.

    A permission a later migration introduces (the owners' and notes', 0020) does not exist yet
    when migration 0009 runs this: it is left out then, and given by the post_migrate that follows."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = []
        for label in wanted:
            app_label, codename = label.split(".")
            permissions += Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        group.permissions.set(permissions)


def sync_groups_after_migrate(sender, apps=None, **kwargs) -> None:
    """post_migrate of this app (after auth made every app's permissions); a test's flush sends
    it without `apps`."""
    from django.apps import apps as installed

    sync_groups(apps or installed)


def add_new_user_to_reps(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """post_save of User: a new account starts as a sales rep (not a superuser: it has everything)."""
    from django.contrib.auth.models import Group

    if created and not raw and not instance.is_superuser:
        group = Group.objects.filter(name=REP).first()
        if group is not None:
            instance.groups.add(group)


def missing(user, permission: str) -> str:
    """Why `user` may not: one sentence saying whom to ask."""
    role = next((name for name, granted in ROLES.items() if permission in granted), MANAGER)  # the first that has it
    return f"Your account ({user.get_username()}) cannot do this: ask an admin to add you to “{role}”."


def required(permission: str):
    """For a page or a form's action: the login page for anonymous visitors, a 403 page that says
    which role is needed for a logged-in user without `permission`."""

    def decorate(view):
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not request.user.has_perm(permission):
                return render(request, "403.html", {"reason": missing(request.user, permission)}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def forbidden_json(user, permission: str) -> JsonResponse | None:
    """For JSON endpoints: a 403 with the reason when `user` lacks `permission`, else None."""
    if user.has_perm(permission):
        return None
    return JsonResponse({"error": missing(user, permission)}, status=403)


def context(request: HttpRequest) -> dict:
    """Template context: `can_label`, `can_claim`, `can_assign` and `can_note`, each asked once per
    request (a page of fifty rows would ask the permission backends fifty times through `perms`)."""
    user = getattr(request, "user", None)

    def may(permission: str) -> SimpleLazyObject:
        return SimpleLazyObject(lambda: bool(user and user.has_perm(permission)))

    return {"can_label": may(LABEL), "can_claim": may(CLAIM), "can_assign": may(ASSIGN), "can_note": may(NOTE)}
