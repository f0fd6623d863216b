"""Who may open what: every URL pattern of the project (the app's, the API's and the
admin's), requested anonymously and as each role, against an explicit table.

A URL added without a row in ACCESS fails test_it_classifies_every_url_pattern: decide who may
see it before it ships. The roles (leads.accounts.roles, groups made by a migration): a sales rep (alice,
a new account, so a rep), a sales manager (bob), an admin (dave), an account with no role
(erin, taken out of every group) and a superuser (charlie).

Real database and services throughout; only the sentence encoder is the fake bag-of-words one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from leads.accounts import roles
from leads.imports import services as imports
from leads.models import ApiToken, ImportJob, Label, Outcome, Profile
from leads.outcomes import services as outcomes
from leads.savedviews import services as saved_views
from leads.webhooks import services as webhooks

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "norole", "rep", "manager", "admin", "superuser")


@dataclass(frozen=True)
class Redirect:
    to: str  # the whole Location; {path} stands for the path requested
    status: int = 302


@dataclass(frozen=True)
class Json:
    status: int | tuple[int, ...]  # and a JSON body; an error one says what is wrong under "error"


LOGIN = Redirect("/accounts/login/?next={path}")
ADMIN_LOGIN = Redirect("/admin/login/?next={path}")  # staff_member_required and the admin's own pages
API_401 = Json(401)


FORBIDDEN = 403  # a page that says which role to ask an admin for
JSON_403 = Json(403)


@dataclass(frozen=True)
class Access:
    """What each role gets: a status code, a Redirect or a Json."""

    anonymous: int | Redirect | Json
    norole: int | Redirect | Json
    rep: int | Redirect | Json
    manager: int | Redirect | Json
    admin: int | Redirect | Json
    superuser: int | Redirect | Json
    method: str = "get"  # POST for the views that take nothing else


def page(method: str = "get", **overrides) -> Access:
    """A page for anyone who may view companies (reps, managers, admins): the login page for
    anonymous visitors, a 403 for an account without a role."""
    ok = {role: 200 for role in ("rep", "manager", "admin", "superuser")}
    return Access(**{"anonymous": LOGIN, "norole": FORBIDDEN, **ok, "method": method, **overrides})


def labelling(method: str = "post", ok=Redirect("/"), **overrides) -> Access:
    """A verdict: reps and managers (and superusers); admins and accounts without a role get 403."""
    return Access(**{"anonymous": LOGIN, "norole": FORBIDDEN, "rep": ok, "manager": ok, "admin": FORBIDDEN,
                     "superuser": ok, "method": method, **overrides})  # fmt: skip


def manager_page(ok: int | Redirect = 200, method: str = "get") -> Access:
    """Import and review: sales managers (and superusers) only."""
    return Access(LOGIN, FORBIDDEN, FORBIDDEN, ok, FORBIDDEN, ok, method=method)


def admin_site(manager, admin, superuser=None, *, everyone_else=ADMIN_LOGIN, method: str = "get") -> Access:
    """An admin page: its login page for those who may not open the admin (anonymous, no role,
    reps); managers and admins get `manager` / `admin`, a superuser `superuser` (default `admin`)."""
    superuser = admin if superuser is None else superuser
    return Access(everyone_else, everyone_else, everyone_else, manager, admin, superuser, method=method)


ALL_RIGHTS = ("view", "add", "change", "delete")


def admin_model(
    app: str, model: str, *, manager=(), admin=(), add: int = 200, change: int = 200, delete: int = 200
) -> dict[str, Access]:
    """The six URLs the admin makes for a registered model. `manager` and `admin` list what those
    roles may do there ("view", "add", "change", "delete"; else 403); a superuser may do it all.
    `add`, `change` and `delete` are what one who may gets (403 where the ModelAdmin forbids it)."""
    prefix = f"admin/{app}/{model}/"

    def status(rights, needs: str, allowed: int = 200) -> int:
        if needs == "view":  # the list, the history, a view-only change page
            return 200 if {"view", "change"} & set(rights) else 403
        return allowed if needs in rights else (200 if needs == "change" and "view" in rights else 403)

    def url(needs: str, allowed: int = 200) -> Access:
        return admin_site(*(status(rights, needs, allowed) for rights in (manager, admin, ALL_RIGHTS)))

    return {
        f"admin:{app}_{model}_changelist": url("view"),
        f"admin:{app}_{model}_add": url("add", add),
        f"admin:{app}_{model}_history": url("view"),
        f"admin:{app}_{model}_delete": url("delete", delete),
        f"admin:{app}_{model}_change": url("change", change),
        # The old change URL, kept as a redirect for anyone who may open the admin.
        f"{prefix}<path:object_id>/": admin_site(*[Redirect("{path}change/")] * 3),
    }


# Keyed by URL name, or by route for the admin's few unnamed patterns.
ACCESS: dict[str, Access] = {
    "dashboard": page(),
    "company-detail": page(),
    "company-label": labelling(),
    # The dashboard's selection: a verdict for reps and managers (admins 403), the CSV for any viewer.
    "companies-bulk": labelling(),
    # Owners and notes: reps and managers (a rep takes an unowned company); admins only look.
    "company-owner": labelling(),
    "company-notes": labelling(),
    "export-scores": page(),
    # Saved views: any viewer saves one and opens one (its link: the dashboard with its filters).
    "view-save": page(
        method="post",
        rep=Redirect("/?q=brew"),
        manager=Redirect("/?q=brew"),
        admin=Redirect("/?q=brew"),
        superuser=Redirect("/?q=brew"),
    ),  # fmt: skip
    "view-open": page(
        rep=Redirect("/?show=unlabelled"),
        manager=Redirect("/?show=unlabelled"),
        admin=Redirect("/?show=unlabelled"),
        superuser=Redirect("/?show=unlabelled"),
    ),  # fmt: skip
    # alice's view: alice, a manager or a superuser may delete it; an admin may not.
    "view-delete": page(
        method="post", rep=Redirect("/"), manager=Redirect("/"), admin=FORBIDDEN, superuser=Redirect("/")
    ),
    # Takes back the rep's last verdict (or says there is none), then back to the dashboard.
    "label-undo": labelling(),
    "label-next": page(),
    # Polled by the dashboard: without `since` a JSON 400 that says what to send.
    "score-changes": page(rep=Json(400), manager=Json(400), admin=Json(400), superuser=Json(400)),
    "score-changes-page": page(),
    "map": page(),
    # The map's JSON: a JSON 401 (not a redirect) so that the page can say the session expired.
    "map-points": Access(Json(401), JSON_403, Json(200), Json(200), Json(200), Json(200)),
    "map-label": labelling(anonymous=Json(401), norole=JSON_403, admin=JSON_403, ok=Json(400)),
    "map-undo": labelling(anonymous=Json(401), norole=JSON_403, admin=JSON_403, ok=Json(400)),
    # Anyone logged in manages their own tokens.
    "api-token": page(norole=200),
    "import-upload": manager_page(),
    "import-detail": manager_page(),
    "import-progress": manager_page(),
    "import-rejected": manager_page(),
    # Label review for managers; its fixes, posted empty, say what is missing and go back to the page.
    "review": manager_page(),
    "review-label": manager_page(Redirect("/review/"), "post"),
    "review-keep": manager_page(Redirect("/review/"), "post"),
    # Deals files and their rejects for managers; the setting for who may change settings; the
    # report for anyone who views companies.
    "outcomes": manager_page(),
    "outcome-import": manager_page(),
    "outcome-progress": manager_page(),
    "outcome-rejected": manager_page(),
    "outcomes-setting": manager_page(Redirect("/outcomes/"), "post"),
    "outcomes-report": page(),
    # Webhooks: the team's settings, for sales managers; the forms go back to the list page.
    "webhooks": manager_page(),
    "webhook-endpoint": manager_page(),
    "webhook-test": manager_page(Redirect("/webhooks/"), "post"),
    "webhook-secret": manager_page(Redirect("/webhooks/"), "post"),
    "webhook-delivery": manager_page(),
    "webhook-replay": manager_page(Redirect("/webhooks/"), "post"),
    "webhook-delete": manager_page(Redirect("/webhooks/"), "post"),
    "login": Access(*[200] * 6),
    "logout": Access(*[Redirect("/accounts/login/")] * 6, method="post"),
    "api-companies": Access(API_401, JSON_403, Json(200), Json(200), Json(200), Json(200)),
    "api-company": Access(API_401, JSON_403, Json(200), Json(200), Json(200), Json(200)),
    "api-company-label": Access(API_401, JSON_403, Json(201), Json(201), JSON_403, Json(201), method="post"),
    "api-company-owner": Access(API_401, JSON_403, Json(200), Json(200), JSON_403, Json(200), method="post"),
    "api-company-notes": Access(API_401, JSON_403, Json(201), Json(201), JSON_403, Json(201), method="post"),
    "api-company-similar": Access(API_401, JSON_403, Json(200), Json(200), Json(200), Json(200)),
    "api-profiles": Access(API_401, JSON_403, Json(200), Json(200), Json(200), Json(200)),
    # Search by meaning: without `about`, a JSON 400 that says what to send.
    "api-companies-by-meaning": Access(API_401, JSON_403, Json(400), Json(400), Json(400), Json(400)),
    # For load balancers, no login: 503 while no Celery worker answers, as in this test.
    "healthz": Access(*[Json((200, 503))] * 6),
    "favicon": Access(*[Redirect("/static/leads/favicon.svg")] * 6),
    # The admin: those who may not open it go to its login page, but for logging out.
    "admin:index": admin_site(200, 200),
    # The app's log-in page (one for every role), then the admin; who may open it goes straight there.
    # The login form for anonymous visitors; a logged-in rep is told whom to ask, not asked to log in again.
    "admin:login": Access(200, 403, 403, Redirect("/admin/"), Redirect("/admin/"), Redirect("/admin/")),
    "admin:logout": admin_site(*[Redirect("/accounts/login/")] * 2, everyone_else=Redirect("/admin/"), method="post"),
    "admin:password_change": admin_site(200, 200),
    "admin:password_change_done": admin_site(200, 200),
    "admin:autocomplete": admin_site(403, 403),  # no term, model or field asked for
    "admin:jsi18n": admin_site(200, 200),
    "admin:view_on_site": admin_site(404, 404),  # a company has no page outside the admin to link to
    "admin:app_list": admin_site(200, 200),
    "admin/(?P<url>.*)$": admin_site(404, 404),
    "admin:auth_user_password_change": admin_site(403, 200),
    # Admins manage users and groups, and may revoke API tokens and unlock log-ins.
    **admin_model("auth", "group", admin=ALL_RIGHTS),
    **admin_model("auth", "user", admin=ALL_RIGHTS),
    # Managers manage companies and imports and read the history.
    **admin_model("leads", "company", manager=ALL_RIGHTS, admin=["view"]),
    **admin_model("leads", "label", manager=["view"], add=403, delete=403),  # read-only history
    **admin_model("leads", "importjob", manager=["view", "delete"]),
    **admin_model("leads", "outcome", manager=["view"], add=403, delete=403),  # read-only: deals imports bring them
    # Managers make, rename and archive profiles; never deleted (their verdicts are the history).
    **admin_model("leads", "profile", manager=["view", "add", "change"], delete=403),
    **admin_model("leads", "apitoken", admin=["view", "delete"], add=403),  # reps make their own
    # django-axes: log-in attempts, recorded by the log-in page, never added by hand.
    **admin_model("axes", "accessattempt", admin=["view", "delete"], add=403),
    **admin_model("axes", "accesslog", admin=["view", "delete"], add=403),
    **admin_model("axes", "accessfailurelog", admin=["view", "delete"], add=403),
}


def url_patterns(resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""):
    """(key, route) for every pattern under `resolver`, the whole project's by default."""
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from url_patterns(pattern, route, inner)
        else:
            assert isinstance(pattern, URLPattern)
            name = pattern.name and ":".join(filter(None, [namespace, pattern.name]))
            yield name or route, route


PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def concrete_path(route: str, objects: dict[str, object]) -> str:
    """The route with its parameters filled: ids of the object that `objects` gives for the
    longest matching route prefix."""
    prefixes = [prefix for prefix in objects if route.startswith(prefix)]
    thing = objects[max(prefixes, key=len)] if prefixes else None

    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name == "content_type_id":
            return str(ContentType.objects.get_for_model(thing).pk)
        if name == "app_label":
            return "leads"
        if name == "url":
            return "no-such-page"
        assert name in ("pk", "id", "object_id") and thing is not None, route
        return str(thing.pk)

    return "/" + PARAMETER.sub(value, route).replace("^", "").replace("$", "")


@pytest.fixture
def users(alice, bob, staff, django_user_model):
    bob.groups.set([Group.objects.get(name=roles.MANAGER)])
    dave = django_user_model.objects.create_user("dave", "dave@example.com", "dave-password-1")
    dave.groups.set([Group.objects.get(name=roles.ADMIN)])
    erin = django_user_model.objects.create_user("erin", "erin@example.com", "erin-password-1")
    erin.groups.clear()
    return {"anonymous": None, "norole": erin, "rep": alice, "manager": bob, "admin": dave, "superuser": staff}


@pytest.fixture
def objects(world, alice, tmp_path, settings) -> dict[str, object]:
    """A real object behind every route that takes an id."""
    csv_file = Path(tmp_path) / "mixed.csv"
    csv_file.write_text("name,description,label\nKeeper,kept row,\nRejected,bad label,maybe\n")
    job = imports.run_import(imports.create_job(path=csv_file, user=alice))
    assert job.state == ImportJob.State.DONE and job.rejected == 1 and job.rejected_file
    deals = Path(tmp_path) / "deals.csv"
    deals.write_text("Record ID,Company,Deal Stage\n1,Keeper,Closed Won\n2,Nobody,Closed Lost\n")
    waiting = outcomes.create_import(path=deals, crm="hubspot")
    outcomes.run_import(outcomes.create_import(path=deals, crm="hubspot"))  # Keeper's deal; Nobody's rejected
    company = world["Bravo Beers"]
    settings.WEBHOOK_ALLOWED_HOSTS = ("localhost",)
    endpoint = webhooks.endpoint_create(url="http://localhost:9/hook", events=["company.labelled"])
    return {
        "companies/": company,
        "review/": company,
        "api/companies/": company,
        "imports/": job,
        "outcomes/": waiting,
        "admin/r/": company,
        "admin/auth/group/": Group.objects.create(name="Managers"),
        "admin/auth/user/": alice,
        "admin/leads/company/": company,
        "admin/leads/label/": Label.objects.first(),
        "admin/leads/importjob/": job,
        "admin/leads/outcome/": Outcome.objects.get(),
        "admin/leads/profile/": Profile.first(),
        "admin/leads/apitoken/": api_token(alice),
        "webhooks/": endpoint,
        "webhooks/deliveries/": webhooks.send_test(endpoint=endpoint),
        "views/": saved_views.save_view(name="Unlabelled", query="show=unlabelled", user=alice),
        **login_records(alice),
    }


def api_token(user) -> ApiToken:
    """The user's token, made the way a rep makes one: on the token page."""
    request(user, "post", "/account/token", data={"action": "new"})
    return ApiToken.objects.get(user=user)


def login_records(user) -> dict[str, object]:
    """What django-axes records of a log-in, then of a wrong password, on the log-in page; its
    failure log is off in our settings, so that record is made here."""
    for password in (f"{user.username}-password-1", "wrong"):
        request(None, "post", "/accounts/login/", data={"username": user.username, "password": password})
    return {
        "admin/axes/accesslog/": AccessLog.objects.filter(username=user.username).latest("attempt_time"),
        "admin/axes/accessattempt/": AccessAttempt.objects.get(username=user.username),
        "admin/axes/accessfailurelog/": AccessFailureLog.objects.create(
            username=user.username, ip_address="127.0.0.1", path_info="/accounts/login/"
        ),
    }


BODIES = {
    "company-label": {"data": {"verdict": "like"}},
    "companies-bulk": {"data": {"action": "like", "ids": ["1"]}},
    "view-save": {"data": {"name": "Brewers", "query": "q=brew"}},
    "api-company-label": {"data": json.dumps({"verdict": "like"}), "content_type": "application/json"},
    "company-owner": {"data": {"owner": "me", "next": "/"}},
    "company-notes": {"data": {"text": "Called; call back in May.", "next": "/"}},
    "api-company-owner": {"data": json.dumps({"owner": "me"}), "content_type": "application/json"},
    "api-company-notes": {"data": json.dumps({"text": "Called."}), "content_type": "application/json"},
}


class Visitor:
    """A test client that stays logged in as `user` (None: anonymous), logging in again after
    a request that logged it out. A 500 is a response to report, not an exception."""

    def __init__(self, user):
        self.user = user
        self.client = Client(raise_request_exception=False)

    def request(self, method: str, path: str, **body):
        session = self.client.cookies.get(settings.SESSION_COOKIE_NAME)
        if self.user is not None and not (session and session.value):
            self.client.force_login(self.user)
        return getattr(self.client, method)(path, **body)


def request(user, method: str, path: str, **body):
    return Visitor(user).request(method, path, **body)


def raised(response) -> BaseException | None:
    """The exception behind a 500, which the client keeps on the response."""
    return response.exc_info[1] if response.exc_info else None


def problem(response, expected: int | Redirect | Json, path: str) -> str:
    """What is wrong with the response, or '' when it is what the table expects."""
    got = f"{response.status_code} {response.get('Location', '')}".strip()
    if response.status_code == 500 or raised(response):
        return f"got {got}: {raised(response)!r}"
    if isinstance(expected, Redirect):
        wanted = f"{expected.status} {expected.to.format(path=path)}"
        return "" if got == wanted else f"expected {wanted}, got {got}"
    if isinstance(expected, Json):
        statuses = expected.status if isinstance(expected.status, tuple) else (expected.status,)
        if response.status_code not in statuses or response["Content-Type"] != "application/json":
            return f"expected {expected.status} JSON, got {got} {response['Content-Type']}"
        body = response.json()
        if response.status_code in (400, 401, 403, 404) and not (isinstance(body.get("error"), str) and body["error"]):
            return f"expected an error message in the JSON, got {body!r}"
        return ""
    return "" if response.status_code == expected else f"expected {expected}, got {got}"


def test_it_classifies_every_url_pattern():
    keys = [key for key, _ in url_patterns()]
    assert len(keys) == len(set(keys)), "two URL patterns share a name"
    assert sorted(set(keys) - set(ACCESS)) == [], "add these URLs to ACCESS: who may see them?"
    assert sorted(set(ACCESS) - set(keys)) == [], "these ACCESS rows match no URL any more"


@pytest.mark.parametrize("role", ROLES)
def test_it_gives_each_role_only_its_pages(users, objects, role):
    visitor, problems = Visitor(users[role]), []
    for key, route in url_patterns():
        access = ACCESS[key]
        path = concrete_path(route, objects)
        response = visitor.request(access.method, path, **BODIES.get(key, {}))
        if wrong := problem(response, getattr(access, role), path):
            problems.append(f"{access.method.upper()} {path} ({key}): {wrong}")
    assert problems == []


@pytest.mark.parametrize("role", ROLES)
def test_it_never_answers_a_plain_get_or_an_empty_post_with_an_error_500(users, objects, role):
    visitor, errors = Visitor(users[role]), []
    for key, route in url_patterns():
        path = concrete_path(route, objects)
        for method in ("get", "post"):
            response = visitor.request(method, path)
            if response.status_code == 500 or raised(response):  # /healthz says 503 on purpose
                errors.append(f"{method.upper()} {path} ({key}): {response.status_code} {raised(response)!r}")
    assert errors == []
