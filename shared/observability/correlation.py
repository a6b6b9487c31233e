"""``X-Request-Id`` and ``X-Correlation-Id``: accepted (generated when absent), echoed, and logged.

A write's ``X-Request-Id`` is what makes a resend a repeat (the kernel claims it, a repeat is a 409), so
on a write (POST, PUT, PATCH, DELETE) one that is supplied but malformed is refused with a 400 rather
than swapped for a random id: the resend would otherwise get another random id and be done twice. A
read claims nothing, so a malformed id there is still replaced by a fresh one. A GUID in braces
(``{A1B2...}``, as Windows tools write one) is taken as the GUID without them: braces are not in the
accepted shape, so the stripped id can only equal the same GUID sent bare, which is the same request.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.core.errors import BadRequest

__all__ = ["REQUEST_ID_FORMAT", "CorrelationMiddleware", "correlation_id", "request_id"]

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# Ids are echoed in headers and logs: accept only a safe shape, so no header or log injection.
_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_BRACED_GUID = re.compile(
    r"^\{([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}$"
)
REQUEST_ID_FORMAT = (
    "1 to 128 characters of A-Z a-z 0-9 . _ : - (a UUID/GUID, which may be wrapped in braces {...})"
)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _header(scope: Scope, name: bytes) -> tuple[bool, str | None]:
    """Whether the header was sent, and its value when it has the accepted shape (else None)."""
    for key, value in scope.get("headers", []):
        if key == name:
            text = value.decode("latin-1").strip()
            braced = _BRACED_GUID.match(text)
            if braced:
                text = braced.group(1)
            return True, text if _SAFE.match(text) else None
    return False, None


def _malformed_request_id() -> bytes:
    refusal = BadRequest(
        f"X-Request-Id is malformed: send {REQUEST_ID_FORMAT}, or leave it out. A write's id is not "
        "replaced, so that a resend of it is recognised as a repeat",
        expression=["http.X-Request-Id"],  # R4 OperationOutcome: "http." + the header's name
    )
    return orjson.dumps(refusal.to_operation_outcome())


class CorrelationMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: streaming bodies must pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "request_id" in scope.get("state", {}):
            # An outer CorrelationMiddleware (the embedded process around a mounted service) already
            # gave this request its ids and echoes them: one request, one id.
            await self.app(scope, receive, send)
            return
        sent, supplied = _header(scope, b"x-request-id")
        req_id = supplied or str(uuid.uuid4())
        corr_id = _header(scope, b"x-correlation-id")[1] or str(uuid.uuid4())
        if sent and supplied is None and scope.get("method") in WRITE_METHODS:
            await self._refuse(send, req_id, corr_id)
            return
        state = scope.setdefault("state", {})
        state["request_id"], state["correlation_id"] = req_id, corr_id
        state["request_id_supplied"] = supplied is not None
        req_token, corr_token = request_id.set(req_id), correlation_id.set(corr_id)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", req_id.encode()))
                headers.append((b"x-correlation-id", corr_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            request_id.reset(req_token)
            correlation_id.reset(corr_token)

    @staticmethod
    async def _refuse(send: Send, req_id: str, corr_id: str) -> None:
        """The 400 for a write whose X-Request-Id is malformed, before anything reads its body."""
        body = _malformed_request_id()
        headers = [
            (b"content-type", b"application/fhir+json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", req_id.encode()),
            (b"x-correlation-id", corr_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
