"""``POST /fhir/$process-message``: a BaRS servicerequest-request message (reasons new, update, delete).

The message is checked before the kernel's transaction (a malformed one is refused without claiming its
X-Request-Id); then `intake.process_message` stores it in one batched unit of work.
"""

from __future__ import annotations

from starlette.responses import Response

from services.referral.fhir_mapping.bars import Message, check_version, read_message
from services.referral.operations.intake import process_message
from services.referral.repository import referral_of_message
from services.referral.settings import ReferralSettings
from shared.fhir import (
    BadRequest,
    FhirKernel,
    FhirResponse,
    OperationCall,
    UnitOfWork,
    information_outcome,
    now_instant,
)

__all__ = ["register"]

SUCCESS = {
    "new": (201, "RESOURCE_CREATED", "Resource Created", "Resource created"),
    "update": (200, "RESOURCE_UPDATED", "Resource Updated", "Resource updated"),
    "delete": (200, "RESOURCE_DELETED", "Resource Deleted", "Resource deleted"),
}


def register(kernel: FhirKernel, settings: ReferralSettings) -> None:
    def check_message(call: OperationCall) -> Message:
        """Before the transaction: a message that is not well formed is a 400 whatever its X-Request-Id
        (nothing is claimed for it, so a corrected resend with the same id is processed)."""
        request = call.request
        check_version(
            [request.headers.get("content-type"), request.headers.get("accept")], settings.bars_versions
        )
        if not call.ctx.request_id_supplied:
            raise BadRequest("A BaRS message needs an X-Request-Id header", issue_code="required")
        return read_message(call.body, settings.bars_endpoint)

    def process(call: OperationCall, uow: UnitOfWork) -> Response:
        intake = process_message(uow, call.input, now_instant())
        uow.resource_id, uow.patient = intake.service_request_id, intake.patient
        status, code, display, text = SUCCESS[intake.reason]
        outcome = information_outcome(text, success_code=code, display=display)
        location = f"{kernel.base_url(call.request)}/ServiceRequest/{intake.service_request_id}"
        return FhirResponse(outcome, status_code=status, headers={"Location": location})

    def original(call: OperationCall, uow: UnitOfWork) -> str | None:
        """A sender that lost its 201 and resent (the same X-Request-Id or message) learns where its
        referral is without a search; a request id reused for another message points nowhere."""
        found = referral_of_message(uow, call.input.message_id)
        return f"ServiceRequest/{found}" if found else None

    kernel.operation(
        "process-message",
        process,
        level="system",
        resource_type="ServiceRequest",
        scope=("ServiceRequest", "c"),
        prepare=check_message,
        batched=True,
        locate_repeat=original,
        documentation="BaRS servicerequest-request message (reasons new, update, delete) -> OperationOutcome",
    )
