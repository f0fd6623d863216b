"""Gunicorn settings shared by `make run` (manage.py serve) and docker-compose:
`gunicorn -c python:leads.gunicorn_conf leads.wsgi:application`.

Threads, not processes, carry the concurrency: twenty reps clicking at once are served by
WEB_WORKERS x WEB_THREADS request threads, which share WEB_WORKERS pools of at most
WEB_THREADS database connections (settings.DATABASE_POOL_MAX_SIZE), so Postgres never runs out
of connections however many clients connect; extra clients wait in the listen queue."""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# An upload of a 200 MB CSV on a slow link takes a while; the import itself runs in a worker.
timeout = 120
graceful_timeout = 20
# Errors to the terminal; one access line per request would drown the worker's log in `make run`.
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
# gunicorn 23+'s control socket lives at one path per user (~/.gunicorn): two servers on one
# machine (make run and the test suite) would fight over it, and nothing here uses it.
control_socket_disable = True
