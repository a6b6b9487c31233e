"""Sending a BaRS message to a referrer's receiver (``POST [base]/$process-message``).

BaRS asks that a retry keeps its ``X-Request-Id``; the receiver answers a repeat with 409 duplicate,
which here means the message had arrived: delivered.
"""

from __future__ import annotations

import uuid
from typing import Any

from services.gpconnect.delivery.adapters.base import PermanentDeliveryError
from services.gpconnect.delivery.adapters.http import HttpGpSystem

__all__ = ["BarsSender", "bars_request_id"]


def bars_request_id(idempotency_key: str) -> str:
    """The same X-Request-Id for every try of one delivery."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pain-review:{idempotency_key}"))


class BarsSender(HttpGpSystem):
    async def send(self, message: dict[str, Any], *, idempotency_key: str, correlation_id: str | None) -> str:
        base = self.practice.bars_endpoint
        if not base:
            raise PermanentDeliveryError("the practice has no BaRS endpoint configured")
        headers = self.headers(
            **{
                "Content-Type": "application/fhir+json",
                "X-Request-Id": bars_request_id(idempotency_key),
                "X-Correlation-Id": correlation_id or bars_request_id(idempotency_key),
            }
        )
        url = f"{base.rstrip('/')}/$process-message"
        await self.call("POST", url, headers=headers, json=message, accept=(409,))
        return str(message.get("id", ""))
