"""`make run`'s last step: a Celery worker, Celery beat and the web server (gunicorn), kept
running together. A child that dies is started again, and said so; Ctrl-C stops everything,
the embedded services included."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from leads import devstack

# A child that dies this many times within RESTART_WINDOW seconds is broken, not unlucky: stop.
MAX_RESTARTS = 5
RESTART_WINDOW = 60


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def supervise(
    commands: dict[str, list[str]], *, env: dict | None, children: dict, say, poll: float = 0.5, keep_going=lambda: True
) -> None:
    """Start every command and keep it running: one that exits is started again (and `say` tells
    why), unless it keeps dying. Runs until interrupted (or `keep_going()` is false); `children`
    holds the live processes."""
    children.update({name: _start(command, env) for name, command in commands.items()})
    exits: dict[str, list[float]] = {name: [] for name in commands}
    while keep_going():
        time.sleep(poll)
        for name, child in list(children.items()):
            if child.poll() is None:
                continue
            now = time.monotonic()
            exits[name] = [t for t in exits[name] if now - t < RESTART_WINDOW] + [now]
            if len(exits[name]) > MAX_RESTARTS:
                raise CommandError(
                    f"The {name} exited {MAX_RESTARTS + 1} times within {RESTART_WINDOW} s; stopping everything. "
                    "Its output above says why."
                )
            say(f"The {name} exited (code {child.returncode}); starting it again.")
            children[name] = _start(commands[name], env)


def _start(command: list[str], env: dict | None) -> subprocess.Popen:
    """A child in a process group of its own: a terminal's Ctrl-C reaches `serve` alone, which
    then stops each child once (`run_together`)."""
    return subprocess.Popen(command, env=env, process_group=0)


def run_together(commands: dict[str, list[str]], *, env: dict | None, say) -> None:
    """Run the commands (`supervise`) until Ctrl-C, `kill` or a closed terminal, then stop each
    child once, with the SIGINT a terminal's Ctrl-C sends (gunicorn stops at once, a Celery worker
    finishes its task); kill them after 20 s or at a second Ctrl-C. The children used to get
    Ctrl-C's SIGINT and then this process's SIGTERM too, and the second signal broke into their
    shutdown (Celery beat printed a traceback)."""
    # Installed explicitly: started in the background by a shell, Python inherits SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    children: dict[str, subprocess.Popen] = {}
    try:
        supervise(commands, env=env, children=children, say=say)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(list(children.values()))


def _stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    try:
        for child in children:
            child.wait(timeout=20)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):  # one hangs, or a second Ctrl-C: no more waiting
        for child in children:
            child.kill()
            child.wait()


class Command(BaseCommand):
    help = "Run a Celery worker, Celery beat and the web server together; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr, **options):
        python = sys.executable
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
        commands = {
            "worker": [python, "-m", "celery", "-A", "leads", "worker", "--loglevel=INFO", "--concurrency=1",
                       "--without-gossip", "--without-mingle"],
            "beat": [python, "-m", "celery", "-A", "leads", "beat", "--loglevel=WARNING"],
            "web server": [python, "-m", "gunicorn", "-c", "python:leads.gunicorn_conf", "--bind", addr,
                           "leads.wsgi:application"],
        }  # fmt: skip
        self.stdout.write(self.style.SUCCESS(f"Dashboard: http://{addr}/  (Ctrl-C stops everything)"))
        try:
            run_together(commands, env=env, say=self.stderr.write)
        finally:
            self._stop_services()

    def _stop_services(self):
        connections.close_all()
        if not os.environ.get("REDIS_URL"):
            devstack.stop_redis(settings.LEADS_HOME)
        if not os.environ.get("DATABASE_URL"):
            devstack.stop_postgres(settings.LEADS_HOME)
        self.stdout.write("Stopped the worker, beat, the web server and the embedded services.")
