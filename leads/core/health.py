"""`GET /healthz`: is this deployment able to do its work, and how far behind is it?

For a load balancer or a monitor: HTTP 200 when the database, Redis and at least one worker
answer, 503 otherwise. Anyone gets that status and {"ok": true/false}; which part failed, the
workers' host names and the backlog (embeddings pending, label changes not yet scored, chunks of
a full rescore left) only a logged-in manager or admin, or a monitor that sends
`Authorization: Bearer $HEALTHZ_TOKEN`: they describe the deployment to whoever asks."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.http import HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from leads.accounts import roles
from leads.celery import app
from leads.core import queue
from leads.embedding import active
from leads.models import Company, PendingScoreChange, ScoringState

# Counting companies that wait for embedding stops here: a monitor needs "many", not the exact figure.
BACKLOG_COUNT_LIMIT = 100_000
# How long the worker ping waits for replies (each /healthz call pays it when no worker answers).
PING_SECONDS = 1.0


def check(*, backlog: bool = True) -> dict:
    database = _timed(_check_database)
    redis = _timed(_check_redis)
    workers = _timed(_check_workers) if redis["ok"] else {"ok": False, "error": "Redis is unreachable"}
    report = {"database": database, "redis": redis, "workers": workers}
    if backlog and database["ok"]:
        report["backlog"] = _backlog()
    report["ok"] = all(part["ok"] for part in (database, redis, workers))
    return report


def _timed(probe) -> dict:
    started = time.perf_counter()
    try:
        result = {"ok": True, **probe()}
    except Exception as error:  # noqa: BLE001 - any failure of the probed service is the answer
        result = {"ok": False, "error": f"{type(error).__name__}: {error}".strip()[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("select 1")
    return {}


def _check_redis() -> dict:
    waiting = queue.backlog()
    if waiting is None:
        raise ConnectionError("the task queue does not answer")
    return {"queued_tasks": waiting}


def _check_workers() -> dict:
    replies = app.control.ping(timeout=PING_SECONDS)
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError(
            f"no Celery worker answered within {PING_SECONDS:g} s: start one with `celery -A leads worker`"
        )
    return {"count": len(names), "names": names}


def _backlog() -> dict:
    waiting = Company.objects.needing_embedding(active.model_name()).order_by()[:BACKLOG_COUNT_LIMIT].count()
    # Every profile's together: the deployment's backlog, whichever profile it is in.
    chunks_left = ScoringState.objects.aggregate(left=Sum("chunks_left"))["left"] or 0
    return {
        "embeddings_pending": waiting,
        "embeddings_pending_capped": waiting >= BACKLOG_COUNT_LIMIT,
        "label_changes_pending": PendingScoreChange.objects.count(),
        "full_rescore_chunks_left": chunks_left,
    }


def may_see_details(request: HttpRequest) -> bool:
    """Managers and admins (who may open the admin), or the monitor's HEALTHZ_TOKEN."""
    token = settings.HEALTHZ_TOKEN
    if token and constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return True
    return request.user.is_authenticated and request.user.has_perm(roles.OPEN_ADMIN)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    details = may_see_details(request)
    report = check(backlog=details)
    status = 200 if report["ok"] else 503
    return JsonResponse(report if details else {"ok": report["ok"]}, status=status)
