"""What stands in front of the simulator: its own bearer token on every route but ``/healthz``, and a
body limit. It holds synthetic patients' records and acts as their GP (approve, decline, faults), so
even on a developer's machine nobody without the token reads or changes it.

The token is ``GPSIM_TOKEN``. ``pain-review up`` makes one when none is set and keeps it in
``<var>/gp-simulator.token`` (owner-only), where the demo and ``pain-review simulator`` read it; gpconnect
sends it as the simulated practices' credentials (the secret store's ``GPCONNECT_SECRET_GP_SIMULATOR``).
"""

from __future__ import annotations

import hmac
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_BODY_BYTES", "SimulatorGuard"]

MAX_BODY_BYTES = 1024 * 1024
OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # health probes: no data behind them


class _TooLarge(HTTPException):
    """Raised while the app reads its body: FastAPI answers an HTTPException as it is (413)."""


async def _answer(send: Send, status: int, text: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "security", "diagnostics": text}],
        }
    ).encode()
    raw = [(b"content-type", b"application/fhir+json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class SimulatorGuard:
    """ASGI middleware: 401 without ``Authorization: Bearer <token>``, 413 past ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, *, token: str, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        if len(token) < 16:
            raise ValueError("the simulator's token must be at least 16 characters")
        self.app, self._expected, self.max_body_bytes = app, f"Bearer {token}".encode(), max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "").removeprefix(scope.get("root_path", ""))
        if path not in OPEN_PATHS:
            supplied = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not hmac.compare_digest(supplied, self._expected):
                await _answer(
                    send, 401, "The GP simulator needs its own token", {"www-authenticate": "Bearer"}
                )
                return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _answer(send, 413, f"The body is larger than {self.max_body_bytes} bytes")
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge(413, f"The body is larger than {self.max_body_bytes} bytes")
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await _answer(send, 413, f"The body is larger than {self.max_body_bytes} bytes")

    def __repr__(self) -> str:  # never the token
        return f"SimulatorGuard(max_body_bytes={self.max_body_bytes})"
