"""One signed POST to a checked address (addresses.Target): no redirect followed, every socket
operation bounded in seconds. Pure: the standard library and standardwebhooks, no Django.

http.client, not a client library: it follows no redirect, and it lets us connect to the address
that was checked while the Host header and TLS's server name (and certificate check) stay the
host's, which is what pins a request to the address the SSRF rule approved."""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from standardwebhooks import Webhook

from leads.webhooks.addresses import Target

EXCERPT = 1000  # characters of a response's body kept in the delivery log
USER_AGENT = "leads-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: `status` (None: no HTTP answer) and a short body, or what went wrong."""

    ok: bool
    status: int | None
    body: str = ""
    error: str = ""


def signed_headers(secret: str, message_id: str, body: bytes, at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers: webhook-id, webhook-timestamp (Unix seconds) and
    webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>")."""
    at = at or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


class _Pinned(http.client.HTTPConnection):
    """A connection to one checked address, with `connect_timeout` for the connect and the
    connection's `timeout` for every read and write after it."""

    def __init__(self, address: str, port: int, *, connect_timeout: float, timeout: float, **kwargs):
        super().__init__(address, port, timeout=timeout, **kwargs)
        self.connect_timeout = connect_timeout

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        sock.settimeout(self.timeout)
        return sock

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedTLS(_Pinned):
    def __init__(self, address: str, port: int, *, server_name: str, **kwargs):
        super().__init__(address, port, **kwargs)
        self.server_name = server_name

    def connect(self) -> None:
        # The certificate is checked against the host's name, as if we had connected by name.
        self.sock = ssl.create_default_context().wrap_socket(self._open(), server_hostname=self.server_name)


def post(target: Target, body: bytes, headers: dict[str, str], *, connect_timeout: float, timeout: float) -> Outcome:
    """POST `body` to the target, trying its checked addresses in turn until one connects."""
    error = "no address to connect to"
    for address in target.addresses:
        connection = _connection(target, address, connect_timeout=connect_timeout, timeout=timeout)
        try:
            connection.request("POST", target.path, body=body, headers=_headers(target, headers))
            response = connection.getresponse()
            return _outcome(response)
        except (ConnectionRefusedError, socket.gaierror) as refused:
            error = f"could not connect to {address} port {target.port} ({refused.strerror or refused})"
            continue  # the next address may answer
        except TimeoutError:
            return Outcome(False, None, error=f"no answer from {target.host} within {timeout:g} s (timed out)")
        except ssl.SSLError as failed:
            return Outcome(False, None, error=f"TLS failed with {target.host}: {failed.reason or failed}")
        except (OSError, http.client.HTTPException) as failed:
            return Outcome(False, None, error=f"{type(failed).__name__}: {failed}")
        finally:
            connection.close()
    return Outcome(False, None, error=error)


def _connection(target: Target, address: str, **timeouts) -> _Pinned:
    if target.scheme == "https":
        return _PinnedTLS(address, target.port, server_name=target.host, **timeouts)
    return _Pinned(address, target.port, **timeouts)


def _headers(target: Target, headers: dict[str, str]) -> dict[str, str]:
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if ":" not in target.host else f"[{target.host}]"
    return {
        "Host": host if target.port == default_port else f"{host}:{target.port}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }


def _outcome(response: http.client.HTTPResponse) -> Outcome:
    body = response.read(EXCERPT * 4).decode("utf-8", "replace")[:EXCERPT]
    status = response.status
    if 200 <= status < 300:
        return Outcome(True, status, body)
    if 300 <= status < 400:
        where = response.getheader("Location", "nowhere")
        return Outcome(False, status, body, f"answered {status} to {where[:200]}: redirects are not followed")
    return Outcome(False, status, body, f"answered {status}")
