"""Where deliveries may go (SSRF): http(s) URLs only, no credentials in them, and, unless
configured for development, never to loopback, private, link-local or other non-public addresses.

The address check runs twice: when an endpoint is saved (a clear 422 for the operator) and at
every connection, on the addresses the connection actually uses (`GuardedBackend`), so a name
that resolves somewhere else later (DNS rebinding) is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore

MAX_URL_LENGTH = 2048


class UrlRefused(Exception):
    """The URL or the address it resolves to is not one we deliver to; the message says why."""


def check_url_shape(url: str) -> str:
    """The URL if its shape is acceptable; else UrlRefused naming the problem."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("only http and https URLs are allowed")
    if not parts.hostname:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("credentials in the URL are not allowed (they would be stored and shown)")
    if parts.fragment:
        raise UrlRefused("a fragment is never sent to a server")
    if port == 0:
        raise UrlRefused("port 0 is not a port")
    return url


def address_refusal(address: str) -> str | None:
    """Why `address` (an IP literal) is not a public one we may connect to, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for label, flag in (
        ("loopback", ip.is_loopback),
        ("private", ip.is_private),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"{address} is a {label} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlRefused(f"{host} does not resolve ({exc.strerror})") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _first_allowed(addresses: Iterable[str]) -> str:
    addresses = list(addresses)
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            raise UrlRefused(reason)  # one bad address is enough: the resolver may pick it next
    return addresses[0]


async def check_destination(url: str, *, allow_private: bool) -> None:
    """UrlRefused if the URL's shape, or (unless allowed) the addresses its host has, are refused."""
    check_url_shape(url)
    if allow_private:
        return
    parts = urlsplit(url)
    assert parts.hostname is not None
    _first_allowed(await resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the address check at connect time: it resolves the host
    itself, refuses if any address is not public, and connects to the address it checked (TLS
    still verifies the certificate against the URL's host name)."""

    def __init__(self, *, allow_private: bool, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.allow_private = allow_private
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if not self.allow_private:
            host = _first_allowed(await resolve(host, port))
        return await self.inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise UrlRefused("unix sockets are not a delivery destination")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
