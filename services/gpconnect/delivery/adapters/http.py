"""What every HTTP adapter shares: the SSRF guard before each call, the credentials, and turning
httpx outcomes into transient or permanent delivery errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from services.gpconnect.delivery.adapters.base import PermanentDeliveryError, TransientDeliveryError
from services.gpconnect.delivery.credentials import bearer_token
from services.gpconnect.domain.practices import PracticeConfig
from shared.auth.egress import OutboundTarget, OutboundUrlRefused, RegisteredEndpoint, check_outbound_url
from shared.fhir import off_loop

__all__ = ["HttpGpSystem", "OutboundGuard", "default_guard"]

OutboundGuard = Callable[[str, PracticeConfig], OutboundTarget | None]
"""Raises (``OutboundUrlRefused``) unless the URL may be called for this practice; returns the vetted
target (the addresses it resolved to), which the call then connects to, or None (a test's guard)."""

_RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


def default_guard(allow_insecure_http: bool, allow_private: bool = False) -> OutboundGuard:
    """The SSRF guard with the practice's registered endpoints as the only allowed bases; private and
    loopback destinations only for a practice registered with ``allow_private`` or under the
    development allowance (``GPCONNECT_ALLOW_PRIVATE_ENDPOINTS``)."""

    def guard(url: str, practice: PracticeConfig) -> OutboundTarget:
        allowed = [RegisteredEndpoint(practice.endpoint, allow_private=practice.allow_private)]
        if practice.bars_endpoint:
            allowed.append(RegisteredEndpoint(practice.bars_endpoint, allow_private=practice.allow_private))
        return check_outbound_url(
            url, allowed, allow_insecure_http=allow_insecure_http, allow_private=allow_private
        )

    return guard


def _pinned(url: str, target: OutboundTarget) -> tuple[str, str, dict[str, Any]]:
    """``url`` aimed at the first vetted address; the Host header; the TLS server name to verify."""
    parts = httpx.URL(url)
    name = f"[{parts.host}]" if ":" in parts.host else parts.host
    host_header = name if parts.port is None else f"{name}:{parts.port}"
    pinned = parts.copy_with(host=target.addresses[0].split("%", 1)[0])
    return str(pinned), host_header, {"sni_hostname": parts.host}


class HttpGpSystem:
    """Base of the HTTP adapters: one practice, one shared ``httpx.AsyncClient`` (with its timeouts)."""

    def __init__(self, practice: PracticeConfig, client: httpx.AsyncClient, guard: OutboundGuard) -> None:
        self.practice, self.client, self._guard = practice, client, guard

    def url(self, path: str) -> str:
        return f"{self.practice.endpoint.rstrip('/')}/{path.lstrip('/')}"

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {"Accept": "application/fhir+json, application/json"}
        token = bearer_token(self.practice.credentials_ref)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra)
        return headers

    async def call(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json: Any = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One request, vetted by the SSRF guard; raises a delivery error unless the answer is 2xx (or
        one of ``accept``)."""
        try:
            target = await off_loop(self._guard, url, self.practice)
        except OutboundUrlRefused as exc:
            raise PermanentDeliveryError(f"outbound call refused: {exc.diagnostics}") from None
        request_url, extensions = url, dict[str, Any]()
        if target is not None and target.addresses:
            # Connect to the address the guard vetted, not to whatever a second DNS lookup says (DNS
            # rebinding): the URL names the address, Host and TLS SNI/verification keep the name.
            request_url, host_header, extensions = _pinned(url, target)
            headers = {**headers, "Host": host_header}
        try:
            response = await self.client.request(
                method, request_url, headers=headers, json=json, extensions=extensions
            )
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(f"{type(exc).__name__} calling the GP system") from None
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"{type(exc).__name__} calling the GP system") from None
        if response.status_code in accept:
            return response
        if response.status_code in _RETRYABLE or response.status_code >= 500:
            raise TransientDeliveryError(f"GP system answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentDeliveryError(f"GP system refused the message: {response.status_code}")
        return response

    @staticmethod
    def body(response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise PermanentDeliveryError("GP system answered with a body that is not JSON") from None
        if not isinstance(data, dict):
            raise PermanentDeliveryError("GP system answered with a JSON body that is not an object")
        return data
