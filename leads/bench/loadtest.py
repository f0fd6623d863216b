"""`manage.py loadtest`: reps labelling at once through the running web server's API, then checks.

R reps (users loadtest-1 .. loadtest-R, each with a fresh API token) send N label requests in all
to a server on this machine (loopback only), each picking one of C unlabelled companies and a
verdict at random. Then it checks what a team relies on:

- every request answered 201 (no 5xx, no connection error);
- every label stored exactly once: one Label row per answer, with the id the answer gave;
- every touched company's current verdict equals its latest label;
- scores caught up (no pending label change) within --timeout.

It prints latency p50 / p95 and throughput as JSON, and finally clears the verdicts it gave (the
history keeps them, under the loadtest users), so that the scores return to what they were.
All in the first profile, the one the API labels in without a choice (profiles.current_id())."""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model

from leads.models import ApiToken, Company, Label, LabelSource
from leads.profiles import selectors as profiles
from leads.scoring import labels, reads

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
VERDICTS = ("like", "dislike", "clear")


class LoadTestError(ValueError):
    pass


@dataclass
class Answer:
    company_id: int
    status: int  # 0: no answer (connection refused, reset, timed out)
    seconds: float
    label_id: int | None = None
    error: str = ""


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadTestError(f"--url must look like http://127.0.0.1:8000 (got {url!r})")
    if parts.hostname not in LOOPBACK:
        raise LoadTestError(f"--url must point at this machine (127.0.0.1, localhost or ::1), not {parts.hostname!r}")
    return url.rstrip("/")


def rep_tokens(count: int) -> dict[str, str]:
    """{username: API key} for loadtest-1 .. loadtest-count, made (or re-keyed) now."""
    users = get_user_model().objects
    tokens = {}
    for n in range(1, count + 1):
        user, created = users.get_or_create(username=f"loadtest-{n}")
        if created:
            user.set_unusable_password()  # API only: nobody logs in as a load-test rep
            user.save()
        tokens[user.username] = ApiToken.issue(user=user).key
    return tokens


def pick_companies(count: int, seed: int) -> list[int]:
    profile_id = profiles.current_id()
    scored = Company.objects.in_profile(profile_id).unlabelled(profile_id).filter(score__isnull=False)
    ids = list(scored.values_list("pk", flat=True)[:50_000])
    if len(ids) < count:
        raise LoadTestError(f"{count} scored, unlabelled companies needed, {len(ids)} found: import or label fewer")
    return random.Random(seed).sample(ids, count)


def _send(base: str, key: str, company_id: int, verdict: str, timeout: float) -> Answer:
    request = urllib.request.Request(
        f"{base}/api/companies/{company_id}/label",
        data=json.dumps({"verdict": verdict}).encode(),
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
        method="POST",
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
            return Answer(company_id, response.status, time.perf_counter() - started, body.get("label_id"))
    except urllib.error.HTTPError as error:
        return Answer(
            company_id, error.code, time.perf_counter() - started, error=error.read()[:200].decode(errors="replace")
        )
    except (OSError, ValueError) as error:  # refused, reset, timed out, not JSON
        return Answer(company_id, 0, time.perf_counter() - started, error=f"{type(error).__name__}: {error}")


def run(*, url: str, reps: int, requests: int, companies: int, timeout: float, seed: int = 1) -> dict:
    base = check_url(url)
    if not 1 <= reps <= 200 or not 1 <= requests <= 100_000:
        raise LoadTestError("--reps must be 1..200 and --requests 1..100000")
    tokens = list(rep_tokens(reps).values())
    targets = pick_companies(companies, seed)
    rng = random.Random(seed)
    plan = [(tokens[i % reps], rng.choice(targets), rng.choice(VERDICTS)) for i in range(requests)]
    started_at = Label.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    lock, answers = threading.Lock(), []
    deadline = time.monotonic() + timeout

    def one(job) -> None:
        if time.monotonic() > deadline:  # bounded in time as well as in count
            return
        answer = _send(base, *job, timeout=30)
        with lock:
            answers.append(answer)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=reps) as pool:
        list(pool.map(one, plan))
    wall = time.perf_counter() - began

    report = _report(answers, requests, wall)
    report |= _check_labels(answers, targets, started_at)
    report |= _wait_for_scores(deadline)
    _restore(targets)
    report["passed"] = (
        report["errors"] == 0
        and report["answered"] == requests
        and report["labels_stored_once"]
        and report["verdicts_match_latest_label"]
        and report["scores_caught_up"]
    )
    return report


def _report(answers: list[Answer], requests: int, wall: float) -> dict:
    times = sorted(a.seconds * 1000 for a in answers)
    statuses: dict[str, int] = {}
    for answer in answers:
        statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
    return {
        "requests": requests,
        "answered": len(answers),
        "statuses": statuses,
        "errors": sum(1 for a in answers if a.status != 201),
        "first_errors": [f"{a.status} {a.error}" for a in answers if a.status != 201][:5],
        "p50_ms": round(statistics.median(times), 1) if times else None,
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1) if times else None,
        "throughput_per_s": round(len(answers) / wall, 1) if wall else None,
        "wall_s": round(wall, 2),
    }


def _check_labels(answers: list[Answer], targets: list[int], started_at: int) -> dict:
    given = sorted(a.label_id for a in answers if a.status == 201)
    stored = sorted(
        Label.objects.filter(pk__gt=started_at, company_id__in=targets, source=LabelSource.API).values_list(
            "pk", flat=True
        )
    )
    profile_id = profiles.current_id()
    latest = Label.objects.current_of_company("verdict", profile_id)
    out_of_step = [
        company_id
        for company_id, verdict, last in Company.objects.in_profile(profile_id)
        .filter(pk__in=targets)
        .annotate(last=latest)
        .values_list("pk", "verdict", "last")
        if last is not None and verdict != ("" if last == "clear" else last)
    ]
    return {
        "labels_stored": len(stored),
        "labels_stored_once": given == stored,
        "verdicts_match_latest_label": not out_of_step,
        "verdicts_out_of_step": out_of_step[:10],
    }


def _wait_for_scores(deadline: float) -> dict:
    began = time.perf_counter()
    profile_id = profiles.current_id()
    while not reads.scores_are_current(profile_id):
        if time.monotonic() > deadline:
            return {"scores_caught_up": False, "scores_caught_up_s": None}
        time.sleep(0.2)
    return {"scores_caught_up": True, "scores_caught_up_s": round(time.perf_counter() - began, 2)}


def _restore(targets: list[int]) -> None:
    """Clear the verdicts the load test gave (it picked unlabelled companies)."""
    profile_id = profiles.current_id()
    labelled = Company.objects.filter(pk__in=targets).labelled(profile_id).values_list("pk", flat=True)
    clears = [(pk, "clear") for pk in labelled]
    labels.label_companies(profile_id=profile_id, verdicts=clears, user=None, source=LabelSource.ADMIN)
