"""Operations on the pain management plan: start from a template, activate, send summaries to the GP.

* ``POST PlanDefinition/{id}/$apply?subject=Patient/x`` (or ``subject`` in a Parameters body): the
  patient's plan (the open one, else a new draft) with the template's activities, not started.
* ``POST CarePlan/{id}/$activate``: Parameters ``patientAgreement`` and ``projectWorkerAgreement``
  (dateTime), ``sendSummary`` (boolean); honours If-Match; answers the active plan.
* ``POST CarePlan/{id}/$gp-summary`` and ``POST Encounter/{id}/$gp-summary``: Parameters ``note``
  (string), ``attach`` (boolean); answers the Task sent to the GP (``gp.task-requested``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.careplan.domain.activities import NewActivity, add_activities, with_agreements
from services.careplan.domain.catalogue import INTERVENTION_SYSTEM, PAIN_MANAGEMENT_CATEGORY, interventions
from services.careplan.domain.summaries import plan_summary, session_summary
from services.careplan.fhir_mapping.plans import gp_task, plan_end
from services.careplan.repository import (
    CLOSED_PLAN,
    is_pain_plan,
    pain_plan_for,
    patient_resources,
)
from services.careplan.write_rules import WriteRules
from shared.contracts import GP_TASK_REQUESTED_V1
from shared.fhir import (
    BadRequest,
    FhirKernel,
    OperationCall,
    UnitOfWork,
    Unprocessable,
    etag_version,
    format_instant,
    new_id,
    now_instant,
    owner_practice,
)

__all__ = ["PlanOperations"]

DESCRIPTIONS = {
    "plan-summary": "Pain management plan updated",
    "session-summary": "Session with the project worker",
}


def _instant() -> str:
    return format_instant(now_instant())


def _money(value: Decimal) -> dict[str, Any]:
    return {"value": float(value), "currency": "GBP"}


class PlanOperations:
    def __init__(self, kernel: FhirKernel, rules: WriteRules) -> None:
        self.kernel, self.rules = kernel, rules

    def register(self) -> None:
        k = self.kernel
        k.operation(
            "apply",
            self.apply,
            level="instance",
            resource_type="PlanDefinition",
            scope=("CarePlan", "c"),
            methods=("POST",),
            documentation="Start or extend a patient's pain management plan from a template "
            "(subject=Patient/x)",
        )
        k.operation(
            "activate",
            self.activate,
            level="instance",
            resource_type="CarePlan",
            scope=("CarePlan", "u"),
            documentation="Activate a draft plan once the patient and the project worker agreed "
            "(honours If-Match)",
        )
        for resource_type in ("CarePlan", "Encounter"):
            k.operation(
                "gp-summary",
                self.gp_summary,
                level="instance",
                resource_type=resource_type,
                scope=("Task", "c"),
                documentation=f"Send a summary of this {resource_type} to the GP practice as a Task",
            )

    # ---- $apply ---------------------------------------------------------------------------------
    def apply(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        subject = call.request.query_params.get("subject") or _reference(call.parameters.value("subject"))
        if not isinstance(subject, str) or not subject.startswith("Patient/") or len(subject) < 9:
            raise BadRequest("$apply needs subject=Patient/<id>")
        uow.patient = subject
        if_match = etag_version(call.request.headers.get("if-match"))
        conn = uow.conn
        definition = uow.read("PlanDefinition", str(call.resource_id))
        additions = [_new_activity(a) for a in definition.get("action") or [] if a.get("code")]
        plan = pain_plan_for(conn, subject, uow.tenants)
        if plan is None or plan.get("status") in CLOSED_PLAN:
            plan = _new_plan(subject)
            created = True
        else:
            created = False
        plan = add_activities(plan, additions)
        canonical = definition.get("url")
        if canonical and canonical not in (plan.get("instantiatesCanonical") or []):
            plan["instantiatesCanonical"] = [*(plan.get("instantiatesCanonical") or []), canonical]
        self.kernel.validate(plan, "CarePlan")
        if created:
            stored = uow.owned_by(owner_practice(conn, uow.tenants, uow.practice, plan)).create(plan)
        else:
            stored = uow.update(
                plan, if_match=if_match if if_match is not None else int(plan["meta"]["versionId"])
            )
        self.rules.plan_written(uow, stored)
        return stored

    # ---- $activate ------------------------------------------------------------------------------
    def activate(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        agreed = {
            "patient": call.parameters.value("patientAgreement"),
            "project-worker": call.parameters.value("projectWorkerAgreement"),
        }
        for party, moment in agreed.items():
            if not isinstance(moment, str) or len(moment) < 10:
                raise BadRequest(f"$activate needs the {party}'s agreement as a dateTime")
        send = call.parameters.value("sendSummary") is True
        if_match = etag_version(call.request.headers.get("if-match"))
        plan = uow.read("CarePlan", str(call.resource_id))
        uow.patient = (plan.get("subject") or {}).get("reference")
        if plan.get("status") != "draft":
            status = plan.get("status")
            raise Unprocessable(f"only a draft plan can be activated; this one is {status}")
        activated = {**with_agreements(plan, agreed), "status": "active"}
        stored = uow.update(
            activated, if_match=if_match if if_match is not None else int(plan["meta"]["versionId"])
        )
        self.rules.plan_written(uow, stored)
        if send:
            self._send(uow, "plan-summary", stored, plan_summary(stored), attach=True)
        return stored

    # ---- $gp-summary ----------------------------------------------------------------------------
    def gp_summary(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        resource_type = _type_of(call)
        note = call.parameters.value("note")
        attach = call.parameters.value("attach") is True
        conn = uow.conn
        focus = uow.read(resource_type, str(call.resource_id))
        uow.patient = (focus.get("subject") or {}).get("reference")
        if resource_type == "CarePlan":
            if not is_pain_plan(focus):
                raise Unprocessable("only a pain management plan is summarised for the GP")
            goals = [
                g
                for g in patient_resources(conn, "Goal", str(uow.patient), uow.tenants)
                if {"reference": f"Goal/{g['id']}"} in (focus.get("goal") or [])
            ]
            text = plan_summary(focus, goals, note if isinstance(note, str) else None)
            kind = "plan-summary"
        else:
            text = session_summary(focus, note if isinstance(note, str) else None)
            kind = "session-summary"
        return self._send(uow, kind, focus, text, attach=attach and kind == "plan-summary")

    @staticmethod
    def _send(
        uow: UnitOfWork, kind: str, focus: dict[str, Any], text: str, *, attach: bool
    ) -> dict[str, Any]:
        patient = (focus.get("subject") or {}).get("reference")
        if not isinstance(patient, str) or not patient.startswith("Patient/"):
            raise Unprocessable(f"the {focus['resourceType']} has no Patient subject to send a summary about")
        # The summary goes to the GP of the practice that holds the plan or session, which is not the
        # caller's own when staff act for several practices.
        owner = uow.practice_of(f"{focus['resourceType']}/{focus['id']}")
        owner = owner or uow.practice
        task = gp_task(
            task_id=new_id(),
            kind=kind,
            practice=owner,
            patient=patient,
            focus=f"{focus['resourceType']}/{focus['id']}",
            description=DESCRIPTIONS[kind],
            summary=text,
            authored=_instant(),
            attach=attach,
        )
        stored = uow.owned_by(owner).create(task, resource_id=task["id"], activity=None)
        uow.write_provenance(stored, "CREATE", practice=owner)
        uow.emit(GP_TASK_REQUESTED_V1, f"Task/{stored['id']}", stored, practice=owner)
        return stored


def _type_of(call: OperationCall) -> str:
    path = call.request.url.path
    return "Encounter" if "/Encounter/" in path else "CarePlan"


def _reference(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("reference")
    return value


def _new_activity(action: dict[str, Any]) -> NewActivity:
    codings = [c for concept in action.get("code") or [] for c in concept.get("coding") or []]
    ours = next((c for c in codings if c.get("system") == INTERVENTION_SYSTEM), None)
    if ours and ours.get("code") in interventions():
        entry = interventions()[ours["code"]]
        kind = "ServiceRequest" if entry.setting == "community" else None
        return NewActivity(entry.code, entry.concept(), action.get("description"), kind)
    concept = (action.get("code") or [{}])[0]
    key = str((codings[0] if codings else {}).get("code") or action.get("id") or new_id())
    return NewActivity(key, concept, action.get("description"))


def _new_plan(subject: str) -> dict[str, Any]:
    today = _instant()[:10]
    return {
        "resourceType": "CarePlan",
        "status": "draft",
        "intent": "plan",
        "category": [PAIN_MANAGEMENT_CATEGORY],
        "title": "Pain management plan",
        "subject": {"reference": subject},
        "period": {"start": today, "end": plan_end(today, None)},
        "created": _instant(),
    }
