"""The referral service's FHIR operations: HTTP in -> a handler in one transaction -> FHIR out.

POST /fhir/$process-message                       a BaRS servicerequest-request message
POST /fhir/Task/{id}/$transition                  status=<state> (a review's decision, declined, no-response)
POST /fhir/Task/{id}/$invite                      the practice's letter -> Communication, patient.invited
POST /fhir/Task/{id}/$record-consent              consented=true|false -> Consent
POST /fhir/Task/{id}/$enrol                       start, end -> EpisodeOfCare, patient.enrolled
POST /fhir/Task/{id}/$discharge                   date, note -> EpisodeOfCare finished, patient.discharged
GET  /fhir/Communication/{id}/$letter             the letter as PDF (default) or _format=text
GET|POST /fhir/Communication/$invitation-template the practice's invitation template and details
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.responses import Response

from services.referral.bars import Message, check_version, read_message
from services.referral.fhir_mapping import owner_practice
from services.referral.intake import process_message
from services.referral.invitations import DETAILS, check_template, practice_template
from services.referral.letters import letter_pdf
from services.referral.repository import referral_of_message, save_template
from services.referral.settings import ReferralSettings
from services.referral.transitions import discharge, enrol, invite, move, record_consent
from services.referral.workflow import State
from shared.fhir import (
    BadRequest,
    FhirKernel,
    FhirResponse,
    Forbidden,
    OperationCall,
    Parameters,
    UnitHandler,
    UnitOfWork,
    information_outcome,
    now_instant,
)

__all__ = ["register_operations"]

TaskAction = Callable[[UnitOfWork, dict[str, Any], Parameters, datetime], dict[str, Any]]
SUCCESS = {
    "new": (201, "RESOURCE_CREATED", "Resource Created", "Resource created"),
    "update": (200, "RESOURCE_UPDATED", "Resource Updated", "Resource updated"),
    "delete": (200, "RESOURCE_DELETED", "Resource Deleted", "Resource deleted"),
}
_CAMEL = {"".join(w.capitalize() if i else w for i, w in enumerate(d.split("_"))): d for d in DETAILS}


def parameters(body: Any) -> Parameters:
    """An operation's Parameters (a body that is not one is a 400)."""
    if body is None:
        raise BadRequest("The body must be a Parameters resource")
    return Parameters(body)


def _details(values: Parameters) -> dict[str, str]:
    return {_CAMEL[name]: str(values.text(name)) for name in values.by_name if name in _CAMEL}


def register_operations(kernel: FhirKernel, settings: ReferralSettings) -> None:
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

    def task_operation(action: TaskAction) -> UnitHandler:
        def handler(call: OperationCall, unit: UnitOfWork) -> dict[str, Any]:
            values = parameters(call.body)
            task = unit.read("Task", str(call.resource_id))
            unit.patient = task["for"]["reference"]
            uow = unit.owned_by(owner_practice(task))
            result = action(uow, task, values, now_instant())
            uow.sign("UPDATE")
            return result

        return handler

    def do_transition(
        uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime
    ) -> dict[str, Any]:
        try:
            target = State(str(values.text("status")))
        except ValueError as exc:
            allowed = ", ".join(s.value for s in State)
            raise BadRequest(f"status must be one of {allowed}", issue_code="required") from exc
        return move(uow, task, target, now, values.text("note"))

    def do_invite(uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime) -> dict[str, Any]:
        overrides = _details(values)
        check_template("", overrides)
        return invite(uow, task, overrides, now)

    def do_consent(
        uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime
    ) -> dict[str, Any]:
        agreed = values.boolean("consented")
        if agreed is None:
            raise BadRequest("consented (boolean) is required", issue_code="required")
        on = values.day("date") or now.date()
        return record_consent(uow, task, agreed, on, now)

    def do_enrol(uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime) -> dict[str, Any]:
        start = values.day("start") or now.date()
        return enrol(uow, task, start, values.day("end"), settings.enrolment_months, now)

    def do_discharge(
        uow: UnitOfWork, task: dict[str, Any], values: Parameters, now: datetime
    ) -> dict[str, Any]:
        on = values.day("date") or now.date()
        return discharge(uow, task, on, values.text("note"), now)

    def letter(call: OperationCall, unit: UnitOfWork) -> dict[str, Any]:
        wanted = call.request.query_params.get("_format") or call.request.headers.get("accept") or "pdf"
        resource = unit.read("Communication", str(call.resource_id))
        unit.patient = (resource.get("subject") or {}).get("reference")

        def render(communication: dict[str, Any]) -> Response:  # after the commit, off the event loop
            text = str(communication.get("payload", [{}])[0].get("contentString", ""))
            if "text" in wanted:
                return Response(text, media_type="text/plain; charset=utf-8")
            return Response(letter_pdf(text, title="Invitation"), media_type="application/pdf")

        unit.then(render)
        return resource

    def template(call: OperationCall, unit: UnitOfWork) -> dict[str, Any]:
        practice = call.request.query_params.get("practice") or call.ctx.principal.practice
        if practice not in call.ctx.tenants or practice.startswith("#"):  # "#...": not a practice
            raise Forbidden(f"This client does not act for practice {practice}")
        text, details = "", {}
        if call.request.method == "POST":
            if not call.ctx.principal.allows("Communication", "u"):
                raise Forbidden("Changing the invitation template needs the scope system/Communication.u")
            values = parameters(call.body)
            given = values.text("template")
            if not given or not given.strip():
                raise BadRequest("template (string) is required", issue_code="required")
            text, details = given, _details(values)
            check_template(text, details)

        if call.request.method == "POST":
            save_template(unit, practice, text, details)
        held, held_details = practice_template(unit, practice)
        named = {d: c for c, d in _CAMEL.items()}
        return {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "template", "valueString": held},
                *({"name": named[k], "valueString": v} for k, v in held_details.items() if k in named),
            ],
        }

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
    for name, action, doc in (
        ("transition", do_transition, "Move a referral: status=eligible|ineligible|declined|no-response"),
        ("invite", do_invite, "Send the practice's invitation letter (a Communication); eligible -> invited"),
        (
            "record-consent",
            do_consent,
            "consented=true|false (date): a Consent; invited -> consented|declined",
        ),
        ("enrol", do_enrol, "start, end (up to 2 years): an EpisodeOfCare; consented -> enrolled"),
        ("discharge", do_discharge, "date, note: the EpisodeOfCare finished; enrolled -> discharged"),
    ):
        kernel.operation(
            name,
            task_operation(action),
            level="instance",
            resource_type="Task",
            scope=("Task", "u"),
            documentation=doc,
            batched=True,
        )
    kernel.operation(
        "letter",
        letter,
        level="instance",
        resource_type="Communication",
        scope=("Communication", "r"),
        methods=("GET",),
        documentation="The invitation letter as application/pdf (default) or _format=text",
    )
    kernel.operation(
        "invitation-template",
        template,
        level="type",
        resource_type="Communication",
        scope=("Communication", "r"),
        methods=("GET", "POST"),
        write_methods=("POST",),  # adapting the template: its X-Request-Id is claimed
        documentation="GET the practice's invitation template; POST Parameters(template, practiceName, "
        "practiceAddress, gpName, projectWorkerName, contactPhone) to adapt it (wording checked); "
        "?practice=<ODS> for staff acting for several practices",
    )
