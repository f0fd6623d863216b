"""`make run`'s last step: two Celery workers, Celery beat and the web server (gunicorn), kept
running together. One worker takes both queues; the other takes only the interactive queue, so
that a verdict's label pass never waits behind an import's embedding (settings: CELERY_TASK_ROUTES). A child that dies is started again, and said so; Ctrl-C stops everything,
the embedded services included."""

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from leads.core import devstack
from leads.management.supervise import run_together


class Command(BaseCommand):
    help = "Run the Celery workers, Celery beat and the web server together; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr, **options):
        python = sys.executable
        # DEBUG as given, else off, as settings has it: `make run` turns it on for a laptop, a
        # server that runs `serve` itself must not get debug pages by default.
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "0")}
        worker = [python, "-m", "celery", "-A", "leads", "worker", "--loglevel=INFO", "--concurrency=1",
                  "--without-gossip", "--without-mingle"]  # fmt: skip
        commands = {
            "worker": [*worker, f"--queues={settings.BULK_QUEUE},{settings.INTERACTIVE_QUEUE}"],
            # Small (no encoder is ever loaded in it) and always free for the next verdict.
            "interactive worker": [*worker, f"--queues={settings.INTERACTIVE_QUEUE}",
                                   f"--hostname={settings.INTERACTIVE_QUEUE}@%h"],
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
        self.stdout.write("Stopped the workers, beat, the web server and the embedded services.")
