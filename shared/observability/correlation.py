"""``X-Request-Id`` and ``X-Correlation-Id``: accepted (generated when absent), echoed, and logged."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CorrelationMiddleware", "correlation_id", "request_id"]

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# Ids are echoed in headers and logs: accept only a safe shape, so no header or log injection.
_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            text = value.decode("latin-1").strip()
            return text if _SAFE.match(text) else None
    return None


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
        supplied = _header(scope, b"x-request-id")
        req_id = supplied or str(uuid.uuid4())
        corr_id = _header(scope, b"x-correlation-id") or str(uuid.uuid4())
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
