"""What an operator gets without configuring anything: `serve` without debug pages, the demo
users only on a fresh database, a secret key of the installation's own, Django's password rules,
a /healthz that tells strangers only whether it works, and a Content-Security-Policy.

Real database throughout; the settings tests run manage.py in a subprocess, as a server would."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings

from leads.accounts import roles
from leads.management.commands import demo, serve
from leads.models import Company
from leads.settings import installation_secret_key
from tests.web_helpers import in_role, logged_in

ROOT = Path(__file__).resolve().parent.parent
FIXED_KEY_OF_OLD = "leads-local-development-key-not-for-production"


# --- serve: DEBUG as given, else off --------------------------------------------------------


def env_serve_passes(monkeypatch, debug: str | None) -> dict:
    if debug is None:
        monkeypatch.delenv("DEBUG", raising=False)
    else:
        monkeypatch.setenv("DEBUG", debug)
    with (
        mock.patch.object(serve, "run_together") as run_together,
        mock.patch.object(serve.Command, "_stop_services"),
    ):
        call_command("serve", stdout=open(os.devnull, "w"))
    return run_together.call_args.kwargs["env"]


def test_serve_runs_its_children_without_debug_when_debug_is_unset(monkeypatch):
    assert env_serve_passes(monkeypatch, None)["DEBUG"] == "0"


@pytest.mark.parametrize("given", ["1", "0", "true"])
def test_serve_passes_on_the_debug_it_was_given(monkeypatch, given):
    assert env_serve_passes(monkeypatch, given)["DEBUG"] == given


def test_make_run_still_turns_debug_on_for_a_laptop():
    makefile = (ROOT / "Makefile").read_text()
    assert "DEBUG=$${DEBUG:-1} $(BIN)/python manage.py serve" in makefile


# --- demo: only on a fresh database ---------------------------------------------------------


def run_demo() -> None:
    call_command("demo", stdout=open(os.devnull, "w"))


@pytest.mark.django_db
def test_demo_fills_a_fresh_database(fake_encoder):
    run_demo()
    User = get_user_model()
    assert set(User.objects.values_list("username", flat=True)) == {"demo", "rep", "manager", "admin"}
    assert Company.objects.exists()


@pytest.mark.django_db
def test_demo_never_brings_back_a_user_an_operator_deleted(fake_encoder):
    run_demo()
    User = get_user_model()
    User.objects.filter(username__in=["demo", "manager"]).delete()
    run_demo()
    assert set(User.objects.values_list("username", flat=True)) == {"rep", "admin"}


@pytest.mark.django_db
def test_demo_leaves_a_database_in_use_alone(alice):
    run_demo()
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]
    assert not Company.objects.exists()


@pytest.mark.django_db
def test_demo_adds_no_users_beside_companies_already_there():
    Company.objects.create(name="Kept Co", dedupe_key="kept-co")
    run_demo()
    assert not get_user_model().objects.exists()
    assert list(Company.objects.values_list("name", flat=True)) == ["Kept Co"]


# --- SECRET_KEY: one of the installation's own ------------------------------------------------


def test_it_makes_a_secret_key_on_the_first_start_and_keeps_it(tmp_path):
    home = tmp_path / "home"
    key = installation_secret_key(home)
    assert len(key) >= 50 and key != FIXED_KEY_OF_OLD
    path = home / "secret_key"
    assert path.read_text() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert installation_secret_key(home) == key
    assert [p.name for p in home.iterdir()] == ["secret_key"]  # no temporary file left behind


def test_each_installation_gets_its_own_key(tmp_path):
    assert installation_secret_key(tmp_path / "one") != installation_secret_key(tmp_path / "two")


def test_processes_starting_together_all_read_the_same_whole_key(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: installation_secret_key(tmp_path), range(32)))
    assert len(keys) == 1 and len(keys.pop()) >= 50


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py with only the given environment; external services named (never contacted), so
    that no embedded Postgres or Redis starts."""
    base = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": "postgresql://leads@db.invalid/leads",
        "REDIS_URL": "redis://redis.invalid:6379/0",
        "LEADS_HOME": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=120
    )


def secret_key_in(tmp_path: Path, **env: str) -> str:
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    result = manage(tmp_path, "shell", "--verbosity", "0", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_app_uses_the_installation_key_on_every_start(tmp_path):
    first = secret_key_in(tmp_path, DEBUG="1")
    assert first == (tmp_path / "secret_key").read_text()
    assert first != FIXED_KEY_OF_OLD
    assert secret_key_in(tmp_path, DEBUG="1") == first


def test_a_given_secret_key_wins_and_no_file_is_made(tmp_path):
    assert secret_key_in(tmp_path, SECRET_KEY="from-the-environment") == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_a_production_server_still_needs_its_secret_key(tmp_path):
    result = manage(tmp_path, "check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DATABASE_URL points at a real server" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_the_suites_own_key_stays_out_of_the_repository(settings):
    """The suite runs without SECRET_KEY too: its key lies under its LEADS_HOME, which git ignores."""
    key_file = Path(settings.LEADS_HOME) / "secret_key"
    if key_file.is_relative_to(ROOT):
        assert subprocess.run(["git", "check-ignore", "--quiet", str(key_file)], cwd=ROOT).returncode == 0


# --- password rules ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["password", "12345678", "short1!", "alice123"])
def test_it_refuses_weak_passwords(alice, password):
    with pytest.raises(ValidationError):
        validate_password(password, alice)
    form = SetPasswordForm(alice, {"new_password1": password, "new_password2": password})
    assert not form.is_valid()


@pytest.mark.django_db
def test_the_demo_and_fixture_passwords_pass_the_rules(fake_encoder, alice, bob, staff):
    for user, password in ((alice, "alice-password-1"), (bob, "bob-password-1"), (staff, "charlie-password-1")):
        validate_password(password, user)
    run_demo()
    for user in get_user_model().objects.filter(username__in=["demo", *demo.ROLE_USERS]):
        validate_password(demo.DEMO_PASSWORD, user)


# --- /healthz --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_tells_an_anonymous_caller_only_whether_it_works(client):
    response = client.get("/healthz")
    assert response.status_code == 503  # no Celery worker runs here
    assert response.json() == {"ok": False}


@pytest.mark.django_db
def test_healthz_tells_a_rep_only_whether_it_works(alice):
    response = logged_in(alice).get("/healthz")
    assert (response.status_code, response.json()) == (503, {"ok": False})


@pytest.mark.django_db
def test_healthz_gives_managers_and_admins_the_details(bob, alice):
    for user in (in_role(bob, roles.MANAGER), in_role(alice, roles.ADMIN)):
        response = logged_in(user).get("/healthz")
        assert response.status_code == 503
        report = response.json()
        assert report["database"]["ok"] and report["redis"]["ok"] and not report["workers"]["ok"]
        assert "no Celery worker answered" in report["workers"]["error"]
        assert report["backlog"]["label_changes_pending"] == 0


@pytest.mark.django_db
@override_settings(HEALTHZ_TOKEN="monitor-token-1")
def test_healthz_gives_a_monitor_with_the_token_the_details(client):
    response = client.get("/healthz", headers={"Authorization": "Bearer monitor-token-1"})
    assert response.status_code == 503
    assert set(response.json()) == {"ok", "database", "redis", "workers", "backlog"}
    for wrong in ("Bearer monitor-token-2", "monitor-token-1", "Bearer "):
        assert client.get("/healthz", headers={"Authorization": wrong}).json() == {"ok": False}


@pytest.mark.django_db
@override_settings(HEALTHZ_TOKEN="")
def test_healthz_takes_no_empty_token(client):
    assert client.get("/healthz", headers={"Authorization": "Bearer "}).json() == {"ok": False}


# --- Content-Security-Policy ------------------------------------------------------------------


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


@pytest.mark.django_db
def test_the_dashboard_sends_a_strict_content_security_policy(as_alice):
    response = as_alice.get("/")
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no inline script, no eval
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_log_in_page_and_the_admin_send_it_too(client, staff):
    assert policy(client.get("/accounts/login/"))["script-src"] == ["'self'"]
    assert policy(logged_in(staff).get("/admin/"))["script-src"] == ["'self'"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["']""", re.IGNORECASE)
HTMX_EVAL = re.compile(r"""\b(hx-on|data-hx-on)[:\-]|\bhx-vals\s*=\s*["']\s*js:|javascript:""", re.IGNORECASE)


@pytest.mark.parametrize("template", sorted((ROOT / "templates").rglob("*.html")), ids=lambda p: p.name)
def test_no_template_has_a_script_the_policy_would_block(template):
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "move the script into static/leads/*.js"
    assert not EVENT_HANDLER.search(text), "listen for the event in static/leads/*.js instead"
    assert not HTMX_EVAL.search(text), "htmx evaluates these with eval(), which the policy forbids"
