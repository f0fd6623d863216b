"""Webhooks: the SSRF rule, signed deliveries to real receivers on the loopback (verified with
standardwebhooks), timeouts, redirects never followed, backoff, giving up and disabling, replay,
the messages verdicts, rescore passes and imports make, the pages and the command.
The worker end to end (a receiver killed and started again) is tests/test_webhook_deliveries.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import WebhookDelivery, WebhookEndpoint
from leads.webhooks import addresses, backoff, services
from tests.webhook_receivers import running

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status


def fake_dns(answers: dict[str, list[str]]):
    return lambda host, port: answers[host]


# --- The SSRF rule (no database) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url, kind",
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.7:8080/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0/", "reserved"),
        ("http://224.0.0.1/", "multicast"),
    ],
)
def test_it_refuses_addresses_that_are_not_public(url, kind):
    host = url.split("//")[1].split("/")[0].rsplit(":", 1)[0] if "[" not in url else url.split("[")[1].split("]")[0]
    with pytest.raises(addresses.Refused) as refused:
        addresses.check(url, resolver=fake_dns({host: [host]}))
    assert kind in str(refused.value) and "WEBHOOK_ALLOWED_HOSTS" in str(refused.value)


def test_it_refuses_a_name_when_any_of_its_addresses_is_private():
    dns = fake_dns({"hooks.example.com": ["93.184.215.14", "10.0.0.5"]})
    with pytest.raises(addresses.Refused, match="hooks.example.com resolves to 10.0.0.5, a private address"):
        addresses.check("https://hooks.example.com/x", resolver=dns)


def test_it_lets_a_public_name_through_and_keeps_the_addresses_it_checked():
    dns = fake_dns({"hooks.example.com": ["93.184.215.14"]})
    target = addresses.check("https://Hooks.Example.com/in?a=1", resolver=dns)
    assert (target.scheme, target.host, target.port, target.path) == ("https", "hooks.example.com", 443, "/in?a=1")
    assert target.addresses == ("93.184.215.14",)


def test_an_allowed_host_may_be_private_and_only_that_host():
    dns = fake_dns({"n8n.office": ["192.168.1.20"], "other.office": ["192.168.1.21"]})
    assert addresses.check("http://n8n.office/w", allowed_hosts=["n8n.office"], resolver=dns).addresses == (
        "192.168.1.20",
    )
    with pytest.raises(addresses.Refused):
        addresses.check("http://other.office/w", allowed_hosts=["n8n.office"], resolver=dns)


@pytest.mark.parametrize(
    "url, says",
    [
        ("", "give the endpoint's URL"),
        ("ftp://example.com/x", "must start with https:// or http://"),
        ("https:///path", "names no host"),
        ("https://user:pw@example.com/", "no user name or password"),
        ("https://exa mple.com/", "spaces or control characters"),
        ("https://example.com:99999/", "not a URL"),
        ("https://1.1.1.1:0/x", "port 0 is no port"),
    ],
)
def test_a_bad_url_is_refused_with_what_to_fix(url, says):
    with pytest.raises(addresses.Refused, match=says):
        addresses.check(url, resolver=fake_dns({}))


def test_backoff_grows_then_stays_hourly_and_scales():
    assert [backoff.delay_after(n) for n in (1, 2, 3, 4, 5, 6, 30)] == [5, 30, 120, 600, 1800, 3600, 3600]
    assert backoff.delay_after(2, scale=0.01) == pytest.approx(0.3)
    assert not backoff.gives_up(86399, retry_seconds=86400) and backoff.gives_up(86400, retry_seconds=86400)


# --- Deliveries to real receivers -------------------------------------------------------------


@pytest.fixture
def loopback(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ("127.0.0.1", "localhost")
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    return settings


def endpoint_for(url: str, secret: str, events=("company.labelled",), bands=()) -> WebhookEndpoint:
    endpoint = services.endpoint_create(url=url, events=list(events), bands=list(bands))
    endpoint.secret = secret
    endpoint.save()
    return endpoint


def test_it_delivers_a_signed_message_that_the_receiver_verifies(loopback):
    with running() as receiver:
        endpoint = endpoint_for(receiver.url, receiver.secret)
        delivery = services.send_test(endpoint=endpoint)
        assert services.deliver(delivery.pk) == Status.DELIVERED
    delivery.refresh_from_db()
    (request,) = receiver.requests
    assert request["verdict"] == "verified" and request["id"] == delivery.message_id
    assert receiver.kept[delivery.message_id]["type"] == "webhook.test"
    assert (delivery.attempts, delivery.response_status, delivery.response_body) == (1, 200, "kept")
    assert services.deliver(delivery.pk) is None  # delivered: never sent again


def test_a_wrong_secret_fails_the_receivers_check_and_is_retried(loopback):
    with running() as receiver:
        endpoint = endpoint_for(receiver.url, "whsec_" + "A" * 43)
        delivery = services.send_test(endpoint=endpoint)
        assert services.deliver(delivery.pk) == Status.PENDING
    delivery.refresh_from_db()
    assert receiver.requests[0]["verdict"].startswith("refused") and receiver.kept == {}
    assert (delivery.response_status, delivery.error) == (400, "answered 400")
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=4)  # the first backoff, 5 s


def test_a_slow_receiver_times_out_and_is_tried_again(loopback):
    with running(delay=2) as receiver:
        delivery = services.send_test(endpoint=endpoint_for(receiver.url, receiver.secret))
        started = timezone.now()
        assert services.deliver(delivery.pk) == Status.PENDING
        took = (timezone.now() - started).total_seconds()
    delivery.refresh_from_db()
    assert took < 1.5
    assert "timed out" in delivery.error and delivery.attempts == 1 and delivery.response_status is None


def test_a_redirect_to_the_loopback_is_not_followed(loopback, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ("localhost",)  # the redirector is allowed; 127.0.0.1 is not
    with running() as inside, running(redirect="http://127.0.0.1:%d/hook") as redirector:
        redirector.redirect %= inside.server_address[1]
        url = redirector.url.replace("127.0.0.1", "localhost")
        delivery = services.send_test(endpoint=endpoint_for(url, redirector.secret))
        assert services.deliver(delivery.pk) == Status.PENDING
    delivery.refresh_from_db()
    assert inside.requests == []  # the redirect's target was never asked
    assert delivery.response_status == 302 and "redirects are not followed" in delivery.error
    assert str(inside.server_address[1]) in delivery.error


def test_a_host_no_longer_allowed_is_refused_at_delivery_without_a_request(loopback, settings):
    with running() as receiver:
        delivery = services.send_test(endpoint=endpoint_for(receiver.url, receiver.secret))
        settings.WEBHOOK_ALLOWED_HOSTS = ()
        assert services.deliver(delivery.pk) == Status.PENDING
    delivery.refresh_from_db()
    assert receiver.requests == [] and "WEBHOOK_ALLOWED_HOSTS" in delivery.error


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://10.0.0.8/hook", "http://169.254.169.254/"])
def test_registering_a_private_address_is_refused(url):
    with pytest.raises(services.InvalidEndpoint, match="WEBHOOK_ALLOWED_HOSTS"):
        services.endpoint_create(url=url, events=["company.labelled"])
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_failing_for_a_day_is_disabled_and_a_replay_delivers(loopback):
    with running() as receiver:
        endpoint = endpoint_for(receiver.url.replace(str(receiver.server_address[1]), "9"), receiver.secret)
        first, second = services.send_test(endpoint=endpoint), services.send_test(endpoint=endpoint)
        assert services.deliver(first.pk) == Status.PENDING  # port 9: nothing listens
        endpoint.refresh_from_db()
        assert endpoint.failing_since is not None and endpoint.enabled
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=1))
        WebhookDelivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
        assert services.deliver(first.pk) == Status.FAILED
        endpoint.refresh_from_db()
        assert not endpoint.enabled and "could not connect" in endpoint.disabled_reason
        assert WebhookDelivery.objects.get(pk=second.pk).status == Status.FAILED  # not sent to a disabled endpoint
        services.endpoint_update(
            endpoint=endpoint, url=receiver.url, events=endpoint.events, bands=[], description="", enabled=True
        )
        assert services.replay_failed(endpoint=endpoint) == 2
        assert [services.deliver(pk) for pk in (first.pk, second.pk)] == [Status.DELIVERED] * 2
    assert set(receiver.kept) == {first.message_id, second.message_id}  # the same ids after the replay
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == "" and endpoint.failing_since is None


def test_a_delivery_gives_up_after_the_retry_window(loopback, settings):
    settings.WEBHOOK_RETRY_SECONDS = 60
    endpoint = endpoint_for("http://127.0.0.1:9/hook", "whsec_" + "A" * 43)
    delivery = services.send_test(endpoint=endpoint)
    assert services.deliver(delivery.pk) == Status.PENDING
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now(), first_attempt_at=timezone.now() - timedelta(seconds=61)
    )
    assert services.deliver(delivery.pk) == Status.FAILED
    assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == 2


def test_two_claims_of_one_delivery_send_it_once(loopback):
    with running() as receiver:
        delivery = services.send_test(endpoint=endpoint_for(receiver.url, receiver.secret))
        WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now() + timedelta(minutes=1))
        assert services.deliver(delivery.pk) is None  # another worker holds it
        WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
        assert services.deliver(delivery.pk) == Status.DELIVERED  # its worker died: the lease ran out
    assert len(receiver.requests) == 1
