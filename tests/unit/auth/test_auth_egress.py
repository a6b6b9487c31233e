"""The SSRF guard, as a table: which server-side fetches are made and which are refused."""

from __future__ import annotations

import ipaddress

import pytest

from shared.auth import OutboundUrlRefused, RegisteredEndpoint, check_outbound_url

DNS = {
    "gp.example.nhs.uk": ["51.140.10.20"],
    "rebound.example.com": ["10.0.0.7"],
    "mixed.example.com": ["51.140.10.21", "127.0.0.1"],
    "hscn.gp.nhs.uk": ["10.10.1.5"],
    "metadata.example.com": ["169.254.169.254"],
    "v6.example.com": ["::ffff:127.0.0.1"],
    "localhost": ["127.0.0.1"],
    "2130706433": ["127.0.0.1"],  # what getaddrinfo makes of a decimal IPv4 address
}

# Literal addresses a URL may name, each of them somewhere the server must not be sent.
PRIVATE_LITERALS = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[fec0::1]",  # site-local
    "[ff02::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:169.254.169.254]",
    "[::127.0.0.1]",  # IPv4-compatible
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "2130706433",
]

REGISTERED = [
    "https://gp.example.nhs.uk/fhir",
    "https://rebound.example.com/",
    "https://mixed.example.com/",
    "https://metadata.example.com/",
    "https://v6.example.com/",
    RegisteredEndpoint("https://hscn.gp.nhs.uk/fhir", allow_private=True),
    "http://localhost:9000/simulator",
    *(f"https://{literal}:8443/" for literal in PRIVATE_LITERALS),
]


def resolve(host: str, _port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if host not in DNS:
        raise OSError("no such host")
    return DNS[host]


ALLOWED = [
    "https://gp.example.nhs.uk/fhir/Patient/123",
    "https://gp.example.nhs.uk/fhir",
    "https://GP.example.nhs.uk:443/fhir/metadata",
    "https://hscn.gp.nhs.uk/fhir/Patient",  # private, and registered as such
]

REFUSED = {
    "https://evil.example.com/fhir": "not under a registered endpoint",
    "https://gp.example.nhs.uk/other": "not under a registered endpoint",
    "https://gp.example.nhs.uk/fhirevil/Patient": "not under a registered endpoint",
    "https://gp.example.nhs.uk:8443/fhir": "not under a registered endpoint",
    "http://gp.example.nhs.uk/fhir": "https",
    "ftp://gp.example.nhs.uk/fhir": "https",
    "file:///etc/passwd": "https",
    "https:///fhir": "no host",
    "gopher://127.0.0.1:6379/_FLUSHALL": "https",
    "https://user:pw@gp.example.nhs.uk/fhir": "credentials",
    "https://gp.example.nhs.uk@evil.example.com/fhir": "credentials",
    "https://gp.example.nhs.uk/fhir/../admin": "dot segments",
    "https://gp.example.nhs.uk/fhir/%2e%2e/admin": "dot segments",
    "https://rebound.example.com/x": "private or loopback",
    "https://mixed.example.com/x": "private or loopback",
    "https://metadata.example.com/latest/meta-data": "private or loopback",
    "https://v6.example.com/": "private or loopback",
    "http://localhost:9000/simulator/Patient": "https",  # needs the development allowance
    "https://127.0.0.1:8443.evil.com/": "malformed",
    "https://[::1/": "malformed",
}


@pytest.mark.parametrize("literal", PRIVATE_LITERALS)
def test_a_private_loopback_or_link_local_literal_is_refused_even_when_registered(literal: str) -> None:
    with pytest.raises(OutboundUrlRefused, match="private or loopback"):
        check_outbound_url(f"https://{literal}:8443/anything", REGISTERED, resolve=resolve)


@pytest.mark.parametrize("literal", PRIVATE_LITERALS)
def test_the_development_allowance_lets_a_registered_private_endpoint_through(literal: str) -> None:
    target = check_outbound_url(f"https://{literal}:8443/x", REGISTERED, allow_private=True, resolve=resolve)
    assert target.addresses


def test_the_development_allowance_never_lets_an_unregistered_endpoint_through() -> None:
    with pytest.raises(OutboundUrlRefused, match="not under a registered endpoint"):
        check_outbound_url("https://10.9.9.9/x", REGISTERED, allow_private=True, resolve=resolve)


@pytest.mark.parametrize("url", ALLOWED)
def test_a_url_under_a_registered_endpoint_is_allowed(url: str) -> None:
    target = check_outbound_url(url, REGISTERED, resolve=resolve)
    assert target.addresses


@pytest.mark.parametrize("url", list(REFUSED))
def test_a_url_the_guard_refuses(url: str) -> None:
    with pytest.raises(OutboundUrlRefused, match=REFUSED[url]) as refused:
        check_outbound_url(url, REGISTERED, resolve=resolve)
    assert refused.value.status == 403
    assert url not in refused.value.diagnostics


def test_plain_http_to_a_registered_local_simulator_needs_both_development_allowances() -> None:
    url = "http://localhost:9000/simulator/Patient"
    with pytest.raises(OutboundUrlRefused, match="private or loopback"):
        check_outbound_url(url, REGISTERED, allow_insecure_http=True, resolve=resolve)
    allowances = {"allow_insecure_http": True, "allow_private": True}
    target = check_outbound_url(url, REGISTERED, **allowances, resolve=resolve)
    assert target.addresses == ("127.0.0.1",)


def test_a_registered_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(OutboundUrlRefused, match="does not resolve"):
        check_outbound_url("https://gone.example.com/x", ["https://gone.example.com/"], resolve=resolve)


def test_nothing_registered_means_nothing_is_fetched() -> None:
    with pytest.raises(OutboundUrlRefused):
        check_outbound_url("https://gp.example.nhs.uk/fhir", [], resolve=resolve)
