"""The FHIR R4 resources the referral workflow writes, and the Bundles its events carry.

Workflow Task: ``code`` SNOMED CT 3457005 (patient referral), ``focus`` the ServiceRequest, ``for``
the Patient, ``owner.identifier`` the practice's ODS code, ``businessStatus`` the workflow state,
``output`` one entry per eligibility reason once triaged, ``statusReason`` the deciding reasons when
the referral is declined.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.referral.domain.eligibility import SNOMED_SYSTEM, EligibilityResult, Outcome
from services.referral.domain.workflow import REFERRAL_STATUS_SYSTEM, State, status_display, task_status
from shared.fhir import ODS_SYSTEM, BadRequest, OperationCall, Parameters, format_instant, reference

__all__ = [
    "REFERRAL_TASK",
    "URI_SYSTEM",
    "collection",
    "event_header",
    "moved_task",
    "new_task",
    "owner_practice",
    "state_of",
]

URI_SYSTEM = "urn:ietf:rfc:3986"
REFERRAL_TASK = {"system": SNOMED_SYSTEM, "code": "3457005", "display": "Patient referral"}


def _business_status(state: State) -> dict[str, Any]:
    coding = {"system": REFERRAL_STATUS_SYSTEM, "code": state.value, "display": status_display(state)}
    return {"coding": [coding], "text": status_display(state)}


def new_task(service_request: dict[str, Any], practice: str, now: datetime) -> dict[str, Any]:
    """The workflow Task of a referral just received."""
    task: dict[str, Any] = {
        "resourceType": "Task",
        "identifier": [{"system": URI_SYSTEM, "value": f"urn:uuid:{service_request['id']}"}],
        "basedOn": [{"reference": reference(service_request)}],
        "status": task_status(State.RECEIVED),
        "businessStatus": _business_status(State.RECEIVED),
        "intent": "order",
        "code": {"coding": [REFERRAL_TASK], "text": "Referral to the pain and opioid review service"},
        "focus": {"reference": reference(service_request)},
        "for": dict(service_request["subject"]),
        "authoredOn": format_instant(now),
        "lastModified": format_instant(now),
        "owner": {"identifier": {"system": ODS_SYSTEM, "value": practice}},
    }
    if service_request.get("requester"):
        task["requester"] = dict(service_request["requester"])
    return task


def state_of(task: dict[str, Any]) -> State:
    codings = (task.get("businessStatus") or {}).get("coding", [])
    code = next(c["code"] for c in codings if c.get("system") == REFERRAL_STATUS_SYSTEM)
    return State(code)


def owner_practice(task: dict[str, Any]) -> str:
    return str(task["owner"]["identifier"]["value"])


def _reason_outputs(result: EligibilityResult) -> list[dict[str, Any]]:
    return [
        {
            "type": {"text": f"Eligibility reason ({reason.outcome})"},
            "valueCodeableConcept": {
                "coding": [reason.coding.as_fhir()],
                **({"text": reason.detail} if reason.detail else {}),
            },
        }
        for reason in result.reasons
    ]


def moved_task(
    task: dict[str, Any],
    state: State,
    now: datetime,
    *,
    eligibility: EligibilityResult | None = None,
    outputs: list[dict[str, Any]] | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The Task's next version in `state` (the move itself is checked by the caller)."""
    moved = {**task, "status": task_status(state), "businessStatus": _business_status(state)}
    moved["lastModified"] = format_instant(now)
    if eligibility is not None:
        moved["output"] = _reason_outputs(eligibility)
        deciding = [r.coding.as_fhir() for r in eligibility.reasons if r.outcome in _DECLINING]
        if state is State.INELIGIBLE and deciding:
            moved["statusReason"] = {"coding": deciding, "text": "Not eligible"}
    if outputs:
        moved["output"] = [*moved.get("output", []), *outputs]
    if note:
        moved["note"] = [*moved.get("note", []), {"time": format_instant(now), "text": note}]
    return moved


_DECLINING = (Outcome.EXCLUDED, Outcome.NOT_MET)


def collection(resources: list[dict[str, Any]], *, identifier: str | None = None) -> dict[str, Any]:
    """An event's Bundle (type collection), each entry's fullUrl its ``Type/id``."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": reference(r), "resource": r} for r in resources],
    }
    if identifier:
        bundle["identifier"] = {"system": URI_SYSTEM, "value": identifier}
    return bundle


def event_header(header: dict[str, Any], header_id: str) -> dict[str, Any]:
    """The message's MessageHeader as events carry it: its own id, references already ours."""
    return {**header, "id": header_id}


def date_text(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


__all__ += ["date_text"]


def parameters(call: OperationCall) -> Parameters:
    """An operation's Parameters, as the kernel read them; unlike the kernel (an absent body has no
    parameters), every referral operation that reads them needs a body: its absence is a 400."""
    if call.body is None:
        raise BadRequest("The body must be a Parameters resource")
    return call.parameters


__all__ += ["parameters"]
