"""gpconnect's FHIR operations, one module per family; each handler is ``handler(call, uow)``.

* ``sync``: ``$sync-medications`` (read a patient's GP record again).

The kernel claims ``X-Request-Id`` for each (a repeat is a 409), audits it and runs it in its transaction.
"""

from __future__ import annotations

from services.gpconnect.operations import sync
from shared.fhir import FhirKernel

__all__ = ["register_operations"]


def register_operations(kernel: FhirKernel) -> None:
    """Declare every operation on ``kernel``."""
    sync.register(kernel)
