"""leads.core.devstack on the real binaries: the packaged redis-server and the running embedded Postgres.

No second Postgres is started (slow): the suite already runs on one started by ensure_postgres.
Every Redis started here is stopped again, by SHUTDOWN and, failing that, by its pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dj_database_url
import kombu
import psycopg
import pytest
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from leads.core import devstack

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# sun_path holds 108 bytes including the terminating NUL.
UNIX_SOCKET_LIMIT = 107

AWKWARD_DIRS = [
    "/tmp/leads home/pgdata",
    "/Users/Ada Lovelace/Library/Application Support/leads/pgdata",
    "/srv/a@b:c/#hash?query=1&x=y/100% sure/+plus~tilde",
    "/home/zoë/données/pgdata",
]


@pytest.mark.parametrize("socket_dir", AWKWARD_DIRS)
def test_postgres_url_percent_encodes_the_socket_dir_so_parsers_read_it_back(socket_dir):
    url = devstack.postgres_url(socket_dir, "test_leads")
    netloc = url.removeprefix("postgresql://").split("/", 1)[0]
    assert not set(netloc) & set(" /#?:&"), url  # nothing a URL parser could split on
    assert url.endswith("/test_leads")

    parsed = dj_database_url.parse(url)
    assert (parsed["HOST"], parsed["NAME"], parsed["USER"], parsed["PORT"]) == (
        socket_dir,
        "test_leads",
        "postgres",
        "",
    )
    assert parsed["ENGINE"] == "django.db.backends.postgresql"

    libpq = psycopg.conninfo.conninfo_to_dict(url)
    assert (libpq["host"], libpq["dbname"], libpq["user"]) == (socket_dir, "test_leads", "postgres")


def test_postgres_url_defaults_to_the_leads_database():
    assert dj_database_url.parse(devstack.postgres_url("/tmp/pg"))["NAME"] == devstack.DATABASE_NAME


def test_postgres_url_connects_through_a_socket_dir_with_special_characters(tmp_path):
    socket_dir = settings.DATABASES["default"]["HOST"]
    if not socket_dir.startswith("/"):
        pytest.skip("DATABASE_URL points at a TCP server, not the embedded Postgres")
    # The same running server, reached through a directory name that needs every kind of escaping.
    link = tmp_path / "a b#c?d@e%f&g"
    link.symlink_to(socket_dir, target_is_directory=True)
    assert len(os.fsencode(f"{link}/.s.PGSQL.65535")) <= UNIX_SOCKET_LIMIT

    url = devstack.postgres_url(str(link), "postgres")
    with psycopg.connect(url, connect_timeout=10) as conn:
        assert conn.execute("select current_database(), current_user").fetchone() == ("postgres", "postgres")
    params = dj_database_url.parse(url)
    with psycopg.connect(host=params["HOST"], dbname=params["NAME"], user=params["USER"], connect_timeout=10) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


# --- Redis ---------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead already


def _redis_pids(sock_path: Path) -> list[int]:
    """Live redis-server processes listening on this socket (redis puts it in its process title)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "redis-server" in cmdline and str(sock_path) in cmdline and _alive(int(proc.name)):
            pids.append(int(proc.name))
    return pids


def _wait_until_dead(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _client(sock_path: Path) -> redis.Redis:
    # No retries: a stopped server must fail at once, not after redis-py's back-off.
    return redis.Redis(
        unix_socket_path=str(sock_path), socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0)
    )


@pytest.fixture
def redis_home(tmp_path):
    """A fresh LEADS_HOME-like directory; whatever Redis ran there is gone afterwards."""
    homes: list[Path] = []

    def make(name: str = "home") -> Path:
        home = tmp_path / name
        home.mkdir()
        homes.append(home)
        return home

    yield make
    for home in homes:
        sock_path = devstack.redis_socket_path(home)
        pids = set(_redis_pids(sock_path))
        devstack.stop_redis(home)
        pidfile = home / "redis" / "redis.pid"
        if pidfile.exists():
            pids.add(int(pidfile.read_text().strip()))
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if not sock_path.is_relative_to(home):
            shutil.rmtree(sock_path.parent, ignore_errors=True)


def test_ensure_redis_starts_joins_and_stop_redis_stops_a_real_server(redis_home):
    home = redis_home()
    sock_path = devstack.redis_socket_path(home)
    assert sock_path == home / "redis" / "redis.sock"
    assert not sock_path.exists()

    url = devstack.ensure_redis(home)
    assert url == f"redis+socket://{sock_path}"
    client = _client(sock_path)
    assert client.ping() is True
    pid = client.info("server")["process_id"]
    assert pid == int((home / "redis" / "redis.pid").read_text())
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    client.set("leads:test", "kept")

    # A second caller (the worker, a management command) joins the same server.
    assert devstack.ensure_redis(home) == url
    assert _client(sock_path).info("server")["process_id"] == pid
    assert _client(sock_path).get("leads:test") == b"kept"
    assert _redis_pids(sock_path) == [pid]

    # Celery's transport understands the URL: a message goes through and comes back.
    with kombu.Connection(url, connect_timeout=5) as conn:
        queue = conn.SimpleQueue("leads-devstack-test")
        queue.put({"hello": "worker"})
        message = queue.get(timeout=5)
        assert message.payload == {"hello": "worker"}
        message.ack()
        queue.close()

    assert devstack.stop_redis(home) is True
    assert _wait_until_dead(pid)
    with pytest.raises(redis.ConnectionError):
        _client(sock_path).ping()
    assert devstack.stop_redis(home) is False  # nothing left to stop

    # Starting again over the stale socket file works, and the append-only file kept the data.
    assert devstack.ensure_redis(home) == url
    client = _client(sock_path)
    assert client.info("server")["process_id"] != pid
    assert client.get("leads:test") == b"kept"
    assert len(_redis_pids(sock_path)) == 1


def test_processes_starting_at_the_same_moment_share_one_redis(redis_home):
    home = redis_home()
    code = "import sys; from pathlib import Path; from leads.core import devstack; print(devstack.ensure_redis(Path(sys.argv[1])))"
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(home)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outputs = [starter.communicate(timeout=30) for starter in starters]
    assert [starter.returncode for starter in starters] == [0] * 4, [err.decode() for _, err in outputs]
    sock_path = devstack.redis_socket_path(home)
    assert {out.decode().strip() for out, _ in outputs} == {f"redis+socket://{sock_path}"}
    assert len(_redis_pids(sock_path)) == 1
    assert _client(sock_path).ping() is True


def test_a_very_long_home_gets_a_short_redis_socket_that_works(redis_home):
    home = redis_home("deep-" + "x" * 150)
    assert len(os.fsencode(str(home / "redis" / "redis.sock"))) > UNIX_SOCKET_LIMIT
    sock_path = devstack.redis_socket_path(home)
    assert len(os.fsencode(str(sock_path))) <= UNIX_SOCKET_LIMIT
    assert sock_path.parent.parent == Path(tempfile.gettempdir())

    url = devstack.ensure_redis(home)
    assert url == f"redis+socket://{sock_path}"
    assert _client(sock_path).ping() is True
    assert (home / "redis" / "redis.pid").exists()  # the data stays in the home
    assert devstack.stop_redis(home) is True


@pytest.mark.parametrize("length", [120, 300, 2000])
def test_redis_socket_path_stays_under_the_unix_socket_limit(length):
    home = Path("/srv") / ("h" * length)
    path = devstack.redis_socket_path(home)
    assert len(os.fsencode(str(path))) <= UNIX_SOCKET_LIMIT
    assert path == devstack.redis_socket_path(home)  # every process finds the same server
    assert path != devstack.redis_socket_path(home.with_name(home.name + "2"))  # and no other home's


def test_a_short_home_keeps_its_redis_socket_inside_it():
    home = Path("/srv/leads")
    assert devstack.redis_socket_path(home) == home / "redis" / "redis.sock"


def test_redis_socket_path_counts_bytes_not_characters():
    home = Path("/home/zoë") / ("é" * 45)  # socket path: 72 characters, 118 bytes
    path = devstack.redis_socket_path(home)
    assert len(os.fsencode(str(path))) <= UNIX_SOCKET_LIMIT


def test_the_data_lives_in_the_projects_own_dot_leads_unless_told_otherwise(monkeypatch):
    """Not under leads/ (where the module moved with #25's regrouping: make run then started a second,
    empty installation beside the team's data)."""
    monkeypatch.delenv("LEADS_HOME")
    assert devstack.leads_home() == settings.BASE_DIR / ".leads"
    assert (settings.BASE_DIR / "manage.py").exists()
    monkeypatch.setenv("LEADS_HOME", "/srv/leads-data")
    assert devstack.leads_home() == Path("/srv/leads-data")
