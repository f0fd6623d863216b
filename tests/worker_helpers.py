"""Real `celery -A leads worker` processes on the test database, for the tests that need them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from leads.core import devstack

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Worker:
    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"the Celery worker exited with {self.process.returncode}:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown: finish the current task
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def worker_database_url() -> str:
    """The test database (not the development one) as a URL for the worker process."""
    db = connection.settings_dict
    if db["HOST"].startswith("/"):  # the embedded Postgres, over its unix socket
        return devstack.postgres_url(db["HOST"], db["NAME"])
    credentials = quote(db["USER"], safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{credentials}@{db['HOST']}{port}/{quote(db['NAME'], safe='')}"


def worker_env(env_overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process of the stack (worker, beat, web server) on the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": settings.CELERY_BROKER_URL,
        # DATABASE_URL without DEBUG makes settings insist on a real secret key.
        "SECRET_KEY": "test-worker-secret-key-not-for-production",
        "LEADS_HOME": str(settings.LEADS_HOME),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "EMBEDDING_MODEL": settings.EMBEDDING_MODEL,
        "SCORING_K": str(settings.SCORING_K),
        "RESCORE_DELAY_SECONDS": "0",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "DJANGO_SETTINGS_MODULE": "leads.settings",
        **(env_overrides or {}),
    }
    env.pop("DEBUG", None)
    return env


def start_worker(
    log_dir: Path,
    name: str,
    env_overrides: dict[str, str] | None = None,
    *,
    processes: int = 1,
    queues: str | None = None,
) -> Worker:
    """Start one worker and wait until it is ready: one task at a time (solo pool), or `processes`
    prefork processes; on both queues, or on `queues` ("interactive", "bulk,interactive")."""
    pool = ["--pool=solo", "--concurrency=1"] if processes == 1 else ["--pool=prefork", f"--concurrency={processes}"]
    pool += [f"--queues={queues}"] if queues else []
    command = [
        sys.executable, "-m", "celery", "-A", "leads", "worker", *pool,
        "--loglevel=INFO", "--without-heartbeat", "--without-mingle", "--without-gossip",
        f"--hostname={name}-{os.getpid()}@%h",
    ]  # fmt: skip
    return start_process(command, log_dir, name, " ready.", env_overrides)


def start_beat(log_dir: Path, sweep_seconds: int = 1) -> Worker:
    """Start Celery beat sending the sweep every `sweep_seconds`, its schedule file in `log_dir`."""
    command = [sys.executable, "-m", "celery", "-A", "leads", "beat", "--loglevel=INFO",
               f"--schedule={log_dir / 'beat-schedule'}"]  # fmt: skip
    return start_process(command, log_dir, "beat", "beat: Starting", {"SWEEP_SECONDS": str(sweep_seconds)})


def start_process(
    command: list[str], log_dir: Path, name: str, ready: str, env_overrides: dict[str, str] | None = None
) -> Worker:
    """Start a process of the stack and wait until its log says `ready`."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=worker_env(env_overrides), stdout=log, stderr=subprocess.STDOUT
        )
    worker = Worker(process, log_path)
    deadline = time.monotonic() + 60
    while ready not in worker.log():
        if process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            pytest.fail(f"{name} did not get ready in 60 s:\n{worker.log_tail()}")
        time.sleep(0.2)
    return worker
