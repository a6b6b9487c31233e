"""The SSRF guard: the server only fetches URLs under endpoints an operator registered.

``check_outbound_url`` refuses a URL unless it lies under a registered endpoint (same scheme, host
and port, path below the registered path), uses https (plain http only with an explicit development
allowance), carries no credentials, and resolves to public addresses only. Private, loopback,
link-local (cloud metadata at 169.254.169.254), unspecified, multicast and site-local targets, and
IPv6 addresses that embed one (IPv4-mapped, IPv4-compatible, 6to4, NAT64), are refused whether the
URL names them literally or a hostname resolves to them. They pass only when the operator's
registration says so (``allow_private``, e.g. an HSCN address) or the caller passes the development
allowance (``allow_private=True``). Call it before every server-side fetch; pass
``OutboundTarget.addresses`` to the connection if you can, so a DNS change between check and connect
(rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from shared.core.errors import Forbidden

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
_DEFAULT_PORTS = {"https": 443, "http": 80}


class OutboundUrlRefused(Forbidden):
    """A server-side fetch the guard will not make; the message names the rule, not the URL."""

    issue_code = "security"


@dataclass(frozen=True)
class RegisteredEndpoint:
    base_url: str
    allow_private: bool = False  # e.g. an HSCN-internal GP system address


@dataclass(frozen=True)
class OutboundTarget:
    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _parts(url: str) -> tuple[SplitResult, str, int]:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        raise OutboundUrlRefused("The outbound URL is malformed") from None
    if parts.scheme not in _DEFAULT_PORTS:
        raise OutboundUrlRefused("Only https URLs may be fetched")
    if not host:
        raise OutboundUrlRefused("The outbound URL has no host")
    return parts, host, port


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (and a host would reach through it), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64) or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            address = embedded
    return address.is_global and not address.is_multicast and not address.is_unspecified


def _under(parts: SplitResult, host: str, port: int, endpoint: RegisteredEndpoint) -> bool:
    base, base_host, base_port = _parts(endpoint.base_url)
    if (parts.scheme, host, port) != (base.scheme, base_host, base_port):
        return False
    prefix = base.path.rstrip("/")
    return parts.path == prefix or parts.path.startswith(prefix + "/") or not prefix


def check_outbound_url(
    url: str,
    allowed: Iterable[str | RegisteredEndpoint],
    *,
    allow_insecure_http: bool = False,
    allow_private: bool = False,
    resolve: Resolver = system_resolver,
) -> OutboundTarget:
    """The vetted target of ``url``; raises ``OutboundUrlRefused`` (403) for anything else.
    ``allow_private`` is the development allowance (a GP simulator on this machine): every registered
    endpoint may then resolve to private or loopback addresses."""
    parts, host, port = _parts(url)
    if parts.scheme == "http" and not allow_insecure_http:
        raise OutboundUrlRefused("Only https URLs may be fetched outside development")
    if parts.username is not None or parts.password is not None:
        raise OutboundUrlRefused("Outbound URLs must not carry credentials")
    if "/../" in f"{parts.path}/" or "/./" in f"{parts.path}/" or "%2e" in parts.path.lower():
        raise OutboundUrlRefused("Outbound URL paths must not contain dot segments")
    endpoints = [e if isinstance(e, RegisteredEndpoint) else RegisteredEndpoint(e) for e in allowed]
    endpoint = next((e for e in endpoints if _under(parts, host, port, e)), None)
    if endpoint is None:
        raise OutboundUrlRefused("The URL is not under a registered endpoint")
    private_ok = endpoint.allow_private or allow_private
    try:
        addresses = resolve(host, port)
    except OSError:
        raise OutboundUrlRefused("The outbound host does not resolve") from None
    if not addresses:
        raise OutboundUrlRefused("The outbound host does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not private_ok and not _is_public(address):
            raise OutboundUrlRefused("The outbound host resolves to a private or loopback address")
    return OutboundTarget(url=url, host=host, port=port, addresses=tuple(addresses))
