"""medreview's FHIR operations, one module per family; each handler is ``handler(call, uow)``.

* ``review``: ``$medication-review`` (system, and on a Patient);
* ``taper``: ``$propose-taper`` and ``$record-mdt-review`` on a Patient;
* ``decisions``: ``$decide`` on a Task;
* ``pace``: ``$pause``, ``$step-back``, ``$resume`` on a CarePlan, and the SOWS write rule on Observation;
* ``concerns``: ``$raise-concern`` on a CarePlan, ``$answer-concern`` on a Task;
* ``params``: reading their ``Parameters``.

The kernel claims ``X-Request-Id`` for each (a repeat is a 409), audits it and runs it in its transaction.
"""

from __future__ import annotations

from decimal import Decimal

from services.medreview.domain.concerns import ConcernPolicy
from services.medreview.operations import concerns, decisions, pace, review, taper
from services.medreview.workflow import APPROVAL_LEAD_DAYS
from shared.fhir import FhirKernel

__all__ = ["register_operations"]


def register_operations(
    kernel: FhirKernel,
    *,
    withdrawal_pause_score: Decimal,
    concern_policy: ConcernPolicy,
    approval_lead_days: int = APPROVAL_LEAD_DAYS,
) -> None:
    """Declare every operation (and the Observation write rule) on ``kernel``, whose clock they act on."""
    review.register(kernel)
    taper.register(kernel, lead_days=approval_lead_days)
    decisions.register(kernel, lead_days=approval_lead_days)
    pace.register(kernel, withdrawal_pause_score=withdrawal_pause_score, lead_days=approval_lead_days)
    concerns.register(kernel, concern_policy)
