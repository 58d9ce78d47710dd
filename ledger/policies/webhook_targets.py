"""Where a webhook may be sent: https only, and never to this machine or a private network.

A target's host is resolved when the partner subscribes and again before every delivery: a
name that resolves (now, or later) to loopback, a private or link-local network, an
unspecified, multicast or reserved address is refused, so a subscription cannot make the
ledger call its own network (server-side request forgery). A delivery then goes to the
address that check resolved (``pinned``), not to whatever the name resolves to a moment
later: a name whose answer changes between the check and the connection (DNS rebinding)
cannot slip a private address through. LEDGER_WEBHOOKS_ALLOW_INSECURE=1 allows http:// and
such addresses, for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ledger.domain.errors import InvalidInputError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
MAX_URL = 2000


def resolve(host: str, port: int) -> list[str]:
    """Every address the host's name resolves to now (the host itself if it is one), in the
    order the system prefers them (RFC 6724: an IPv6 address first only where it is routed)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def forbidden(address: Address) -> bool:
    """Whether a delivery may never go to this address (without the insecure setting)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return forbidden(address.ipv4_mapped)
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or not address.is_global
    )


def refuse(slug: str, **params: object) -> InvalidInputError:
    return InvalidInputError(slug, field="url", params=params)


def check_target(url: str, allow_insecure: bool, resolver: Resolver = resolve) -> list[str]:
    """Refuse (422, on the field ``url``) a target a delivery may not go to; the addresses
    its host resolved to, each checked."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # an unbalanced [ or ] around an IPv6 address
        raise refuse("webhook-url-invalid") from None
    spaced = any(c.isspace() or not c.isprintable() for c in url.strip())
    if spaced or len(url) > MAX_URL or parts.scheme not in ("https", "http") or not host:
        raise refuse("webhook-url-invalid")
    if parts.username or parts.password:
        raise refuse("webhook-url-credentials")
    if parts.scheme != "https" and not allow_insecure:
        raise refuse("webhook-url-not-https")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolver(host, port)
    except (OSError, UnicodeError, ValueError):
        raise refuse("webhook-url-unresolved", host=host) from None
    if not addresses:
        raise refuse("webhook-url-unresolved", host=host)
    if not allow_insecure:
        for text in addresses:
            if forbidden(ipaddress.ip_address(text.split("%")[0])):
                raise refuse("webhook-url-private", host=host)
    return addresses


@dataclass(frozen=True)
class Pinned:
    """A delivery's request, sent to one address its check resolved."""

    name: str
    """The target's host name, as sent (IDNA, ASCII)."""
    url: httpx.URL
    """The target with its host replaced by the address."""
    headers: dict[str, str]
    """``Host``: the target's own host (and port), as the receiver expects it."""
    extensions: dict[str, Any]
    """``sni_hostname``: TLS is asked for, and its certificate checked against, the target's
    name, not the address."""


def pinned(url: str, address: str) -> Pinned:
    """The request to ``url`` sent to ``address`` (one that ``check_target`` returned)."""
    target = httpx.URL(url.strip())
    host = target.raw_host.decode("ascii")  # the name as sent: IDNA, ASCII
    if "%" in address:  # an IPv6 address of one interface (insecure setting): as resolved
        return Pinned(host, target, {}, {})
    return Pinned(
        host,
        target.copy_with(host=address),
        {"Host": target.netloc.decode("ascii")},
        {"sni_hostname": host},
    )


class TargetClients:
    """One HTTP client per target name. A client keeps its connections alive by address
    (the pinned request's host): shared by several names, a connection opened, and its
    certificate checked, for one name would carry another name's deliveries on the same
    address unchecked. A client is made on a name's first delivery; past ``LIMIT`` names
    the least recently used one is closed (a delivery it was sending fails, retried later)."""

    LIMIT = 256

    def __init__(self, timeout: float, verify: ssl.SSLContext | bool = True) -> None:
        self.timeout = timeout
        self.verify = verify
        """Certificates trusted (the system's by default; the tests' own authority)."""
        self._clients: OrderedDict[str, httpx.Client] = OrderedDict()
        self._lock = threading.Lock()

    def post(self, to: Pinned, content: bytes, headers: dict[str, str]) -> httpx.Response:
        """Send the delivery's request to its pinned address, on its name's connections."""
        return self._client(to.name).post(
            to.url, content=content, headers={**headers, **to.headers}, extensions=to.extensions
        )

    def _client(self, name: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(name)
            if client is not None:
                self._clients.move_to_end(name)
                return client
            client = self._clients[name] = httpx.Client(
                verify=self.verify,
                timeout=httpx.Timeout(self.timeout),
                follow_redirects=False,
                trust_env=False,
            )
            if len(self._clients) > self.LIMIT:
                self._clients.popitem(last=False)[1].close()
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
