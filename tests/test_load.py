"""Twenty reps labelling at once through the stack `make run` starts (gunicorn with pooled
connections, a real worker): no errors, bounded connections, every label stored once, every
current verdict equal to its latest label, scores caught up."""

from __future__ import annotations

import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from leads.bench import loadtest
from leads.models import FIRST_PROFILE_ID, Company, Label
from leads.scoring import labels
from leads.scoring import services as scores
from tests.test_workers import make_companies
from tests.worker_helpers import start_process, start_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WEB_WORKERS, WEB_THREADS = 2, 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connections_now() -> int:
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from pg_stat_activity where datname = current_database()")
        return cursor.fetchone()[0]


def test_twenty_reps_at_once_get_no_errors_and_keep_verdicts_in_step(tmp_path, alice):
    made = make_companies(150)
    labels.label_companies(profile_id=FIRST_PROFILE_ID, verdicts=[(c.pk, "like" if i % 3 else "dislike") for i, c in enumerate(made[::15])],
                           user=alice, source="admin")  # fmt: skip
    scores.catch_up()
    port = free_port()
    web = start_process(
        [sys.executable, "-m", "gunicorn", "-c", "python:leads.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
         "leads.wsgi:application"],
        tmp_path, "web", "Booting worker",
        {"WEB_WORKERS": str(WEB_WORKERS), "WEB_THREADS": str(WEB_THREADS)},
    )  # fmt: skip
    worker = start_worker(tmp_path, "load")
    peak, sampling = [connections_now()], threading.Event()

    def sample() -> None:
        while not sampling.wait(0.05):
            peak.append(connections_now())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        report = loadtest.run(url=f"http://127.0.0.1:{port}", reps=20, requests=200, companies=5, timeout=120)
    finally:
        sampling.set()
        sampler.join()
        worker.stop()
        web.stop()
    assert report["errors"] == 0, report["first_errors"]
    assert report["answered"] == 200 and report["statuses"] == {"201": 200}
    assert report["labels_stored_once"] and report["labels_stored"] == 200
    assert report["verdicts_match_latest_label"], report["verdicts_out_of_step"]
    assert report["scores_caught_up"]
    assert report["passed"]
    # The web server's pools hold at most WEB_THREADS connections each, however many clients;
    # the rest: this test's own two, the worker's, and the pool's minimum while it opens.
    assert max(peak) <= WEB_WORKERS * WEB_THREADS + 4, f"peak connections: {max(peak)}"
    # The load test clears what it gave: no verdict left on its companies.
    assert (
        not Company.objects.filter(pk__in=[c.pk for c in made])
        .labelled(FIRST_PROFILE_ID)
        .exclude(pk__in=[c.pk for c in made[::15]])
    )


def test_concurrent_verdicts_on_one_company_leave_the_latest_current(alice, bob):
    made = make_companies(5)

    def click(n: int) -> None:
        try:
            labels.label_company(profile_id=FIRST_PROFILE_ID, company=made[n % 5], user=(alice, bob)[n % 2], verdict=("like", "dislike", "clear")[n % 3],
                                 source="api")  # fmt: skip
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(click, range(200)))
    assert Label.objects.count() == 200
    for company in Company.objects.in_profile(FIRST_PROFILE_ID).filter(pk__in=[c.pk for c in made]):
        latest = Label.objects.filter(company=company).order_by("-created_at", "-pk").first()
        assert company.verdict == ("" if latest.verdict == "clear" else latest.verdict), company
