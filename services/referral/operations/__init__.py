"""The referral service's FHIR operations, one module per family: HTTP in -> ``handler(call, uow)`` in the
kernel's unit of work -> FHIR out.

POST /fhir/$process-message                       `messages`: a BaRS servicerequest-request message
POST /fhir/Task/{id}/$transition|$invite|...      `tasks`: the workflow's moves
GET  /fhir/Communication/{id}/$letter             `letters`: the letter as PDF (default) or _format=text
GET|POST /fhir/Communication/$invitation-template `letters`: the practice's invitation template and details
POST /fhir/$screen                                `screen`: rank a practice's patients for review

The workflow they run: `intake` (a message or a REST referral becomes a referral and its Task), `triage`
(eligibility decides it), `transitions` (the moves after triage), `invitations` (the practice's letter),
`direct` (the REST write hooks: ServiceRequest, Patient).
"""

from __future__ import annotations

from services.referral.operations import letters, messages, screen, tasks
from services.referral.settings import ReferralSettings
from shared.fhir import FhirKernel

__all__ = ["register_operations"]


def register_operations(kernel: FhirKernel, settings: ReferralSettings) -> None:
    messages.register(kernel, settings)
    tasks.register(kernel, settings)
    letters.register(kernel)
    screen.register(kernel, settings)
