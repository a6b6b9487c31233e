"""GP system adapters: one small interface (:class:`GpSystemAdapter`), one implementation per supplier
style, and a fake for unit tests. :func:`adapter_for` picks the implementation a practice is configured for.
"""

from __future__ import annotations

import httpx

from services.gpconnect.delivery.adapters.bars import BarsSender
from services.gpconnect.delivery.adapters.base import (
    DeliveryError,
    Document,
    DocumentChannel,
    GpSystemAdapter,
    NotReady,
    PermanentDeliveryError,
    TaskDecision,
    TransientDeliveryError,
)
from services.gpconnect.delivery.adapters.emis_style import EmisStyleAdapter
from services.gpconnect.delivery.adapters.fake import FakeDocumentChannel, FakeGpSystem
from services.gpconnect.delivery.adapters.gpconnect_fhir import GpConnectFhirAdapter
from services.gpconnect.delivery.adapters.http import OutboundGuard, default_guard
from services.gpconnect.domain.practices import PracticeConfig

__all__ = [
    "BarsSender",
    "DeliveryError",
    "Document",
    "DocumentChannel",
    "EmisStyleAdapter",
    "FakeDocumentChannel",
    "FakeGpSystem",
    "GpConnectFhirAdapter",
    "GpSystemAdapter",
    "NotReady",
    "OutboundGuard",
    "PermanentDeliveryError",
    "TaskDecision",
    "TransientDeliveryError",
    "adapter_for",
    "default_guard",
]


def adapter_for(
    practice: PracticeConfig, client: httpx.AsyncClient, guard: OutboundGuard, documents: DocumentChannel
) -> GpSystemAdapter:
    """The adapter for ``practice``'s supplier style."""
    if practice.supplier == "emis-style":
        return EmisStyleAdapter(practice, client, guard, documents)
    return GpConnectFhirAdapter(practice, client, guard, documents)
