"""Where a webhook may go: an http(s) URL whose host resolves only to public addresses, unless the
operator allows the host by name (WEBHOOK_ALLOWED_HOSTS). Pure: the standard library, no Django.

A webhook is a request the server makes on a manager's behalf, so a URL is a way to reach what
the server can reach and the manager cannot (server-side request forgery): Postgres and Redis on
the loopback, the cloud's metadata service at 169.254.169.254, the office network. Every address a
host resolves to is checked (a name with one public and one private address is refused), and the
request then connects to the address checked, not to the name again: a DNS server that answers
differently the second time (DNS rebinding) gets no second look."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 2000

Resolver = Callable[[str, int], list[str]]


class Refused(ValueError):
    """A URL the server will not send to; the message says what to change."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (`addresses`, in resolver order) and what to ask for."""

    scheme: str  # http or https
    host: str  # as written, lower case: the Host header, TLS's server name
    port: int
    path: str  # with its query
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6), in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(f"cannot find the host {host!r} (DNS: {error}): check the URL's spelling") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path and query) of an http(s) URL, or Refused saying what is wrong."""
    url = (url or "").strip()
    if not url:
        raise Refused("give the endpoint's URL, such as https://hooks.example.com/leads")
    if len(url) > MAX_URL:
        raise Refused(f"the URL is {len(url)} characters long; at most {MAX_URL}")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise Refused("the URL holds spaces or control characters: percent-encode them")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Refused(f"not a URL ({error}): write it as https://host/path") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise Refused(f"the URL must start with https:// or http:// (got {parts.scheme or 'no scheme'!r})")
    if not parts.hostname:
        raise Refused("the URL names no host: write it as https://host/path")
    if parts.username or parts.password:
        raise Refused("put no user name or password in the URL: receivers check the signature instead")
    if port == 0:  # no server listens on port 0 (it would have gone to the scheme's default)
        raise Refused("port 0 is no port: give the receiver's port (1-65535), or none for the scheme's default")
    scheme = parts.scheme.lower()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname.lower().rstrip("."), port or (443 if scheme == "https" else 80), path


def refused_address(address: str) -> str:
    """Why a request may not go to this IP address, as "a loopback address" ('' when it may): it
    is not a public unicast one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope ("fe80::1%eth0") aside
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is the loopback
    for kind, flag in (
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a multicast", ip.is_multicast),
        ("a reserved", ip.is_reserved or ip.is_unspecified),
        ("a private", ip.is_private),
    ):
        if flag:
            return f"{kind} address"
    return "" if ip.is_global else "not a public address"


def check(url: str, *, allowed_hosts: Iterable[str] = (), resolver: Resolver = resolve) -> Target:
    """The URL checked against the server-side request forgery rule: every address its host resolves
    to must be public, unless the host is one of `allowed_hosts` (names as written in URLs, or
    addresses). Raises Refused with what to change."""
    scheme, host, port, path = parse(url)
    addresses = resolver(host, port)  # urlsplit's hostname: no IPv6 brackets
    if not addresses:
        raise Refused(f"the host {host!r} has no address")
    if host not in {h.strip().lower().rstrip(".") for h in allowed_hosts}:
        for address in addresses:
            if why := refused_address(address):
                where = f"is {why}" if address == host else f"resolves to {address}, {why}"
                raise Refused(
                    f"webhooks go to public addresses only, and {host} {where}; "
                    f"the operator can allow this host with WEBHOOK_ALLOWED_HOSTS={host}"
                )
    return Target(scheme, host, port, path, tuple(addresses))
