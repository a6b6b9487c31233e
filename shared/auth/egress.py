"""The SSRF guard: the server only fetches URLs under endpoints an operator registered.

``check_outbound_url`` refuses a URL unless it lies under a registered endpoint (same scheme, host
and port, path below the registered path), uses https (plain http only with an explicit development
allowance), carries no credentials, and resolves to public addresses only. Private, loopback and
link-local targets pass only when the registration says so (``allow_private``) or the registered
host is itself that literal address or ``localhost``. Call it before every server-side fetch; pass
``OutboundTarget.addresses`` to the connection if you can, so a DNS change between check and connect
(rebinding) cannot redirect the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from shared.fhir.errors import Forbidden

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


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _literal_private(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return not _is_public(ipaddress.ip_address(host))
    except ValueError:
        return False


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
    resolve: Resolver = system_resolver,
) -> OutboundTarget:
    """The vetted target of ``url``; raises ``OutboundUrlRefused`` (403) for anything else."""
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
    private_ok = endpoint.allow_private or _literal_private(host)
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
