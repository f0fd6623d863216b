import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from leads import devstack


class Command(BaseCommand):
    help = "Run a Celery worker and the web server together; Ctrl-C stops both (and the embedded services)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr, **options):
        python = sys.executable
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
        children = [
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "leads",
                    "worker",
                    "--loglevel=INFO",
                    "--concurrency=1",
                    "--without-gossip",
                    "--without-mingle",
                ],
                env=env,
            ),
            subprocess.Popen([python, "manage.py", "runserver", addr, "--noreload"], env=env),
        ]
        self.stdout.write(self.style.SUCCESS(f"Dashboard: http://{addr}/  (Ctrl-C stops everything)"))
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop(children)

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
        self.stdout.write("Stopped the worker, the web server and the embedded services.")
