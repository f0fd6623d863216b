"""`python manage.py worker [celery worker options]`: how a worker machine (and docker-compose's
worker service) runs a Celery worker. It runs `celery -A leads worker` with the options given and
starts it again whenever it exits, after 1, 2, 4 ... 30 s if it keeps exiting, as `serve` does for
`make run`. The worker itself survives Redis and Postgres restarts (leads/celery.py, the task
retries in leads/tasks.py); this covers the rest: a crash, the kernel's OOM killer, an outage
longer than Celery's own retries. SIGTERM or Ctrl-C stops the worker warmly (it finishes its task).

Without `-Q` the worker consumes both queues, "interactive" and "bulk" (settings.CELERY_TASK_QUEUES);
`-Q interactive --concurrency=1` runs the small worker that keeps verdicts from waiting behind
bulk work, `-Q bulk,interactive` one that takes anything (README: Running it for a team)."""

import sys

from django.core.management.base import BaseCommand

from leads.management.supervise import run_together

# The longest wait before starting a worker that keeps exiting again (seconds).
MAX_RESTART_DELAY = 30


class Command(BaseCommand):
    help = (
        "Run `celery -A leads worker` with the options given (e.g. --concurrency=4 --loglevel=info) and start "
        "it again whenever it exits. See `celery -A leads worker --help` for the options."
    )

    def run_from_argv(self, argv):
        """Every argument after `worker` goes to `celery worker` as it is (Django's parser would
        refuse options it does not know); only -h/--help is this command's own."""
        if {"-h", "--help"} & set(argv[2:]):
            return super().run_from_argv(argv)
        self.celery_args = argv[2:]
        return super().run_from_argv(argv[:2])

    def handle(self, *args, **options):
        command = [sys.executable, "-m", "celery", "-A", "leads", "worker", *getattr(self, "celery_args", [])]
        self.stderr.write(f"Running {' '.join(command[2:])}; it is started again whenever it exits.")
        run_together(
            {"worker": command},
            env=None,
            say=self.stderr.write,
            max_restarts=None,
            max_delay=MAX_RESTART_DELAY,
        )
