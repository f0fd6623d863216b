"""Webhooks end to end: a real `celery -A leads worker`, a real verdict and its rescore pass, and
a receiver process on 127.0.0.1 that verifies every signature and keeps each message once (by
webhook-id), killed and started again while deliveries are under way: nothing is lost, and the
receiver keeps each message exactly once."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leads.core import queue
from leads.models import FIRST_PROFILE_ID, WebhookDelivery
from leads.scoring import labels
from leads.webhooks import services
from tests.webhook_receivers import kept_ids
from tests.worker_helpers import start_worker

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RECEIVER = Path(__file__).resolve().parent / "webhook_receivers.py"
# Backoff x0.05: retries after 0.25 s, 1.5 s, 6 s: a receiver down for a second is caught up at once.
WORKER_ENV = {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "WEBHOOK_BACKOFF_SCALE": "0.05", "WEBHOOK_TIMEOUT_SECONDS": "2"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_receiver(port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, str(RECEIVER), str(port), SECRET, str(log)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("the receiver did not start")


def wait_until(worker, what: str, predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not predicate():
        worker.assert_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{worker.log_tail()}")
        time.sleep(0.2)


def band_changes():
    return WebhookDelivery.objects.filter(event="company.band_changed")


def pending() -> int:
    return WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.DELIVERED).count()


def test_a_receiver_killed_mid_run_loses_nothing_and_keeps_each_message_once(world, alice, settings, tmp_path):
    settings.WEBHOOK_ALLOWED_HOSTS = ("127.0.0.1",)
    port, log = free_port(), tmp_path / "kept.jsonl"
    receiver = start_receiver(port, log)
    endpoint = services.endpoint_create(
        url=f"http://127.0.0.1:{port}/hook", events=["company.band_changed", "company.labelled"]
    )
    endpoint.secret = SECRET
    endpoint.save()
    world.pop("Golf Pending").delete()  # nothing for the worker's start-up sweep to embed
    queue.purge()  # tasks other tests queued for rows long gone
    worker = start_worker(tmp_path, "webhooks", WORKER_ENV)
    try:
        wait_until(worker, "the start-up sweep", lambda: "leads.sweep" in worker.log() and "succeeded" in worker.log())
        # A real verdict: its message at once, and its pass's band changes from the worker.
        labels.label_company(
            profile_id=FIRST_PROFILE_ID, company=world["Alpha Brewing"], user=alice, verdict="dislike", source="click"
        )
        wait_until(worker, "the band change", lambda: band_changes().filter(status="delivered").exists())
        (band,) = band_changes()
        moves = {c["name"]: (c["old_band"], c["new_band"]) for c in band.payload["data"]["companies"]}
        assert moves["Bravo Beers"][0] == "strong" and moves["Bravo Beers"][1] != "strong"
        # Twenty messages under way, the receiver killed among them, started again a second later.
        for _ in range(20):
            services.send_test(endpoint=endpoint)
        time.sleep(0.3)
        receiver.kill()
        receiver.wait()
        for name in ("Echo Review", "Foxtrot Fashion"):
            labels.label_company(
                profile_id=FIRST_PROFILE_ID, company=world[name], user=alice, verdict="dislike", source="click"
            )
        time.sleep(1)
        assert pending() > 0  # some were refused while it was down
        receiver = start_receiver(port, log)
        wait_until(worker, "every delivery", lambda: pending() == 0)
    finally:
        worker.stop()
        receiver.kill()
    sent = set(WebhookDelivery.objects.values_list("message_id", flat=True))
    kept, again = kept_ids(log)
    assert kept == sent and len(sent) >= 24  # 20 tests, 3 verdicts, a band change: nothing lost
    assert WebhookDelivery.objects.filter(attempts__gt=1).exists()  # the kill cost retries
    assert "refused" not in log.read_text()  # every signature verified
    assert again <= WebhookDelivery.objects.filter(attempts__gt=1).count()  # a repeat only after a lost answer
