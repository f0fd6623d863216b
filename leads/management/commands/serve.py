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
    children.update({name: subprocess.Popen(command, env=env) for name, command in commands.items()})
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
            children[name] = subprocess.Popen(commands[name], env=env)


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
        # Ctrl-C and `kill` stop everything. Installed explicitly: started in the background by a
        # shell, Python inherits SIGINT ignored, and Ctrl-C would only stop (and so restart) the children.
        signal.signal(signal.SIGINT, _interrupt)
        signal.signal(signal.SIGTERM, _interrupt)
        children: dict[str, subprocess.Popen] = {}
        try:
            supervise(commands, env=env, children=children, say=self.stderr.write)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop(list(children.values()))

    def _stop(self, children):
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        connections.close_all()
        if not os.environ.get("REDIS_URL"):
            devstack.stop_redis(settings.LEADS_HOME)
        if not os.environ.get("DATABASE_URL"):
            devstack.stop_postgres(settings.LEADS_HOME)
        self.stdout.write("Stopped the worker, beat, the web server and the embedded services.")
