"""The invitation letters: ``GET /fhir/Communication/{id}/$letter`` (PDF by default, or ``_format=text``) and
``GET|POST /fhir/Communication/$invitation-template`` (the practice's template and details)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from services.referral.domain.letters import letter_pdf
from services.referral.fhir_mapping import parameters
from services.referral.operations.invitations import CAMEL, check_template, details_of, practice_template
from services.referral.repository import save_template
from shared.fhir import BadRequest, FhirKernel, Forbidden, OperationCall, UnitOfWork

__all__ = ["register"]


def register(kernel: FhirKernel) -> None:
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
            values = parameters(call)
            given = values.text("template")
            if not given or not given.strip():
                raise BadRequest("template (string) is required", issue_code="required")
            text, details = given, details_of(values)
            check_template(text, details)

        if call.request.method == "POST":
            save_template(unit, practice, text, details)
        held, held_details = practice_template(unit, practice)
        named = {d: c for c, d in CAMEL.items()}
        return {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "template", "valueString": held},
                *({"name": named[k], "valueString": v} for k, v in held_details.items() if k in named),
            ],
        }

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
