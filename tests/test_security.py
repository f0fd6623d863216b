"""Accounts and deployment security: the API token page (keys stored hashed, shown once,
revocable), log-in throttling (django-axes: per username and address, and per address) and the
production settings (`check --deploy`, docker-compose's SECRET_KEY).

Real database throughout; the settings tests run manage.py in a subprocess with a production
environment, as a server would."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from django.test import Client

from leads.models import ApiToken

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


# --- the API token page ----------------------------------------------------------------


def make_token(client) -> str:
    """A new key, made the way a rep makes one, read off the page that shows it once."""
    response = client.post("/account/token", {"action": "new"})
    assert response.status_code == 200
    return shown_key(response)


def shown_key(response) -> str:
    return re.search(r'<code class="token">([0-9a-f]{40})</code>', response.text).group(1)


def api_status(key: str) -> int:
    return Client().get("/api/companies/", headers={"Authorization": f"Token {key}"}).status_code


def test_it_offers_a_token_to_a_rep_who_has_none_without_making_one(as_alice):
    response = as_alice.get("/account/token")
    assert response.status_code == 200
    assert "You have no API token." in response.text
    assert '<button type="submit" name="action" value="new">Make a token</button>' in response.text
    assert not ApiToken.objects.exists()


def test_it_shows_a_new_key_once_and_afterwards_only_its_prefix(as_alice):
    made = as_alice.post("/account/token", {"action": "new"})
    key = shown_key(made)
    assert f'curl -H "Authorization: Token {key}" \'http://testserver/api/companies/' in made.text
    assert "Copy your new token now: it is shown only this once" in made.text
    assert "no-store" in made["Cache-Control"]  # not kept by the browser or a proxy

    later = as_alice.get("/account/token")
    assert key not in later.text
    assert f'Your token starts with <code class="token-prefix">{key[:8]}</code>' in later.text
    assert "has not been used yet" in later.text
    assert 'curl -H "Authorization: Token YOUR_TOKEN"' in later.text


def test_it_stores_only_a_hash_of_the_key(as_alice, alice):
    key = make_token(as_alice)
    token = ApiToken.objects.get(user=alice)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.prefix == key[:8]
    assert token.key == ""  # a token read back has no key
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM leads_apitoken")
        assert not any(key in str(value) for value in cursor.fetchone())


def test_the_page_shows_when_the_token_was_last_used(as_alice, world):
    key = make_token(as_alice)
    assert api_status(key) == 200
    assert "last used" in as_alice.get("/account/token").text


def test_each_rep_sees_only_their_own_token(client, alice, bob):
    client.force_login(alice)
    alice_key = make_token(client)
    client.force_login(bob)
    bob_page = client.get("/account/token").text
    assert "You have no API token." in bob_page
    assert alice_key[:8] not in bob_page


def test_making_a_new_token_retires_the_old_one(as_alice, world):
    old = make_token(as_alice)
    assert api_status(old) == 200

    response = as_alice.post("/account/token", {"action": "new"})
    assert "The token you had before no longer works." in response.text
    new = shown_key(response)
    assert new != old

    refused = Client().get("/api/companies/", headers={"Authorization": f"Token {old}"})
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid API token; get yours at /account/token"}
    accepted = Client().get("/api/companies/", headers={"Authorization": f"Token {new}"})
    assert accepted.status_code == 200 and accepted.json()["count"] == 7


def test_a_rep_revokes_their_token(as_alice, alice, world):
    key = make_token(as_alice)
    response = as_alice.post("/account/token", {"action": "revoke"}, follow=True)
    assert response.redirect_chain == [("/account/token", 302)]
    assert "Your API token was revoked: it no longer works." in response.text
    assert "You have no API token." in response.text
    assert not ApiToken.objects.filter(user=alice).exists()
    assert api_status(key) == 401


def test_the_token_page_refuses_an_unknown_action(as_alice):
    response = as_alice.post("/account/token", {"action": "show"})
    assert response.status_code == 400
    assert response.text == "action must be new or revoke"
    assert not ApiToken.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_the_plain_keys_made_before_it(alice, world):
    before = [("leads", "0004_pending_change_entered")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        OldToken = executor.loader.project_state(before).apps.get_model("leads", "ApiToken")
        key = secrets.token_hex(20)
        OldToken.objects.create(user_id=alice.pk, key=key)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    token = ApiToken.objects.get(user=alice)
    assert (token.prefix, token.key_hash) == (key[:8], hashlib.sha256(key.encode()).hexdigest())
    assert api_status(key) == 200


# --- log-in throttling ---------------------------------------------------------------

LOCKED = "Too many failed log-ins: after 5 wrong passwords, log-ins as this user from your address are refused."


def log_in(client, username: str, password: str, address: str = "10.0.0.1", path: str = "/accounts/login/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def lock_out(client, username: str, address: str = "10.0.0.1", path: str = "/accounts/login/"):
    for _ in range(4):
        response = log_in(client, username, "wrong", address, path)
        assert response.status_code == 200
    response = log_in(client, username, "wrong", address, path)
    assert response.status_code == 429
    return response


def test_it_locks_a_username_out_after_five_wrong_passwords_from_one_address(client, alice):
    for _ in range(4):
        response = log_in(client, "alice", "wrong")
        assert response.status_code == 200
        assert "Your username and password didn't match." in response.text
    locked = log_in(client, "alice", "wrong")
    assert locked.status_code == 429
    assert LOCKED in locked.text
    assert "Try again in 15 minutes" in locked.text
    assert 'value="alice"' in locked.text

    right = log_in(client, "alice", "alice-password-1")
    assert right.status_code == 429
    assert LOCKED in right.text
    assert "_auth_user_id" not in client.session


def test_the_lock_holds_one_username_from_one_address(client, alice, bob):
    lock_out(client, "alice", "10.0.0.1")
    assert log_in(Client(), "bob", "bob-password-1", "10.0.0.1").status_code == 302
    assert log_in(Client(), "alice", "alice-password-1", "10.0.0.2").status_code == 302


def test_the_lock_lifts_after_the_lockout_minutes(client, alice):
    lock_out(client, "alice")
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
    response = log_in(client, "alice", "alice-password-1")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_a_right_password_starts_the_count_again(client, alice):
    for _ in range(4):
        assert log_in(client, "alice", "wrong").status_code == 200
    assert log_in(client, "alice", "alice-password-1").status_code == 302
    client.logout()
    for _ in range(4):
        assert log_in(client, "alice", "wrong").status_code == 200
    assert log_in(client, "alice", "alice-password-1").status_code == 302


def test_the_admin_log_in_is_throttled_too(client, staff):
    locked = lock_out(client, "charlie", path="/admin/login/")
    assert LOCKED in locked.text
    assert log_in(client, "charlie", "charlie-password-1", path="/admin/login/").status_code == 429


def spray(address: str, count: int, headers: dict | None = None) -> list[int]:
    """One wrong password for each of `count` usernames from one address: password spraying."""
    return [
        Client().post("/accounts/login/", {"username": f"user{i}", "password": "Winter2026!"}, REMOTE_ADDR=address,
                      headers=headers or {}).status_code
        for i in range(count)
    ]  # fmt: skip


def test_it_locks_an_address_out_after_twenty_wrong_passwords_for_any_usernames(alice):
    assert spray("10.0.0.9", 40) == [200] * 19 + [429] * 21
    locked = log_in(Client(), "alice", "alice-password-1", "10.0.0.9")
    assert locked.status_code == 429
    assert "Too many failed log-ins from your address: after 20 wrong passwords for any usernames, every" in locked.text
    assert "as this user" not in locked.text  # alice never typed a wrong password: the address is locked
    assert log_in(Client(), "alice", "alice-password-1", "10.0.0.10").status_code == 302


def test_the_address_lock_lifts_after_the_lockout_minutes(alice):
    spray("10.0.0.9", 20)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))
    assert log_in(Client(), "alice", "alice-password-1", "10.0.0.9").status_code == 302


def test_a_few_mistakes_by_several_reps_at_one_address_lock_no_one(alice, bob):
    for username in ("alice", "bob", "carol"):
        for _ in range(4):
            assert log_in(Client(), username, "wrong", "10.0.0.1").status_code == 200
    assert log_in(Client(), "alice", "alice-password-1", "10.0.0.1").status_code == 302


def test_behind_a_proxy_the_address_is_the_one_the_proxy_forwards(settings, alice):
    settings.AXES_CLIENT_IP_CALLABLE = "leads.accounts.throttling.forwarded_address"
    proxy = "172.18.0.2"
    # The browser may write its own X-Forwarded-For: the proxy appends the address it saw.
    attacker = {"X-Forwarded-For": "10.9.9.9, 203.0.113.7"}
    assert spray(proxy, 21, attacker)[-2:] == [429, 429]
    colleague = {"X-Forwarded-For": "198.51.100.4"}
    response = Client().post("/accounts/login/", {"username": "alice", "password": "alice-password-1"},
                             REMOTE_ADDR=proxy, headers=colleague)  # fmt: skip
    assert response.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


# --- production settings -------------------------------------------------------------

PRODUCTION = {"DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "leads.example.com"}


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py with only the given environment, as on a server: external services named (never
    contacted by these commands), so that no embedded Postgres or Redis starts."""
    base = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": "postgresql://leads@db.invalid/leads",
        "REDIS_URL": "redis://redis.invalid:6379/0",
        "LEADS_HOME": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=120
    )


def settings_in(tmp_path: Path, **env: str) -> dict:
    names = [
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER",
        "LOGIN_FAILURE_LIMIT",
        "LOGIN_ADDRESS_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
        "AXES_CLIENT_IP_CALLABLE",
    ]
    code = (
        "from django.conf import settings; import json; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {names}}}))"
    )
    result = manage(tmp_path, "shell", "--verbosity", "0", "-c", code, **PRODUCTION, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_finds_no_issue_with_https_on(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", HTTPS="1", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_flags_a_production_set_up_without_https(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_https_turns_every_switch_on_and_each_can_be_set_on_its_own(tmp_path):
    assert settings_in(tmp_path) == {
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "LOGIN_FAILURE_LIMIT": 5,
        "LOGIN_ADDRESS_FAILURE_LIMIT": 20,
        "AXES_COOLOFF_TIME": 0.25,
        "AXES_CLIENT_IP_CALLABLE": None,
    }
    assert settings_in(
        tmp_path,
        HTTPS="1",
        SECURE_HSTS_SECONDS="3600",
        SECURE_HSTS_PRELOAD="0",
        TRUST_X_FORWARDED_PROTO="0",
        LOGIN_FAILURE_LIMIT="3",
        LOGIN_ADDRESS_FAILURE_LIMIT="50",
        LOGIN_LOCKOUT_MINUTES="30",
    ) == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "LOGIN_FAILURE_LIMIT": 3,
        "LOGIN_ADDRESS_FAILURE_LIMIT": 50,
        "AXES_COOLOFF_TIME": 0.5,
        "AXES_CLIENT_IP_CALLABLE": None,
    }
    behind_a_proxy = settings_in(tmp_path, HTTPS="1")
    assert behind_a_proxy["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert behind_a_proxy["AXES_CLIENT_IP_CALLABLE"] == "leads.accounts.throttling.forwarded_address"
    assert settings_in(tmp_path, HTTPS="1", TRUST_X_FORWARDED_FOR="0")["AXES_CLIENT_IP_CALLABLE"] is None


def test_a_bad_https_value_stops_the_app(tmp_path):
    result = manage(tmp_path, "check", HTTPS="maybe", **PRODUCTION)
    assert result.returncode != 0
    assert "ImproperlyConfigured: HTTPS='maybe': use 1/0, true/false, yes/no or on/off" in result.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_refuses_to_start_without_a_secret_key():
    def config(**env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker-compose", "config", "--quiet"],
            cwd=ROOT,
            env={"PATH": os.environ["PATH"], **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    refused = config()
    assert refused.returncode != 0
    assert "set SECRET_KEY to 50 or more random characters" in refused.stderr
    assert config(SECRET_KEY=PRODUCTION["SECRET_KEY"]).returncode == 0
