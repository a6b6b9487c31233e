"""Sessions after booking: attendance recorded, and each patient's sessions counted.

* ``POST Appointment/{id}/$record-attendance``: Parameters ``outcome`` (attended, did-not-attend,
  cancelled), ``reason`` (why cancelled); honours If-Match; answers a Bundle of what changed: the Appointment
  (fulfilled, noshow, cancelled) and the finished Encounter of an attended session or the Task to the
  project worker to re-offer a missed one; a cancelled booking frees its place.
* ``GET Appointment/$session-totals?patient=Patient/x``: Parameters, one ``patient`` part each (without
  ``patient``: every patient with a pain management plan the caller sees): sessions attended, their total
  length (min), and appointments booked, missed, cancelled and waiting.
"""

from __future__ import annotations

from typing import Any

from services.careplan.domain.sessions import HOLDS_PLACE, AttendanceError, attendance_status, session_totals
from services.careplan.fhir_mapping.plans import stable_id
from services.careplan.fhir_mapping.sessions import attended_encounter, reoffer_task, totals_parameters
from services.careplan.operations.sessions import patient_of_appointment, set_slot_status
from services.careplan.repository import is_session, pain_plans, patient_resources
from shared.core.principal import Tenancy
from shared.fhir import (
    BadRequest,
    FhirKernel,
    Forbidden,
    NotFound,
    OperationCall,
    UnitOfWork,
    Unprocessable,
    etag_version,
    format_instant,
    now_instant,
    reference_id,
)

__all__ = ["AttendanceOperations"]


class AttendanceOperations:
    def __init__(self, kernel: FhirKernel) -> None:
        self.kernel = kernel

    def register(self) -> None:
        k = self.kernel
        k.operation(
            "record-attendance",
            self.record_attendance,
            level="instance",
            resource_type="Appointment",
            scope=("Appointment", "u"),
            documentation="Record a session as attended (Encounter finished), did not attend (a Task to "
            "re-offer) or cancelled; honours If-Match",
        )
        k.operation(
            "session-totals",
            self.totals,
            level="type",
            resource_type="Appointment",
            scope=("Appointment", "r"),
            methods=("GET",),
            documentation="Number and total length of each patient's sessions (patient=Patient/x, or every "
            "patient with a plan)",
        )

    # ---- $record-attendance ---------------------------------------------------------------------
    def record_attendance(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        params = call.parameters
        outcome = params.text("outcome")
        if outcome is None:
            raise BadRequest("$record-attendance needs outcome (attended, did-not-attend or cancelled)")
        reason = params.text("reason")
        ctx = uow.ctx
        made = {"attended": "Encounter", "did-not-attend": "Task"}.get(outcome)
        refusal = ctx.principal.refusal(made, "c") if made else None  # what this outcome creates
        if made and refusal is not None:
            raise Forbidden(f"$record-attendance {outcome} creates a {made}: {refusal}")
        if_match = etag_version(call.request.headers.get("if-match"))

        appointment = uow.read("Appointment", str(call.resource_id))
        uow.patient = patient_of_appointment(appointment)
        # Everything this records is filed under the practice that owns the Appointment (staff
        # act for each of their assigned practices), never under the caller's own.
        practice = uow.practice_of(f"Appointment/{appointment['id']}")
        if practice is None:  # read just above among the same tenants
            raise NotFound(f"Appointment/{call.resource_id} is not known")
        if not is_session(appointment):
            raise Unprocessable("only a session's Appointment (booked with Slot/$book) records attendance")
        try:
            status = attendance_status(str(appointment.get("status")), outcome)
        except AttendanceError as exc:
            raise Unprocessable(str(exc)) from None
        changed: dict[str, Any] = {**appointment, "status": status}
        if status == "cancelled" and reason:
            changed["cancelationReason"] = {"text": reason}
        owner = uow.owned_by(practice)
        stored = owner.update(
            changed,
            if_match=if_match if if_match is not None else int(appointment["meta"]["versionId"]),
            activity=None,
        )
        uow.write_provenance(stored, "UPDATE")
        written = [stored]
        if status == "fulfilled":
            encounter = attended_encounter(
                stored, encounter_id=stable_id(practice, "session", str(stored["id"]))
            )
            self.kernel.validate(encounter, "Encounter")
            written.append(_create(uow, owner, encounter))
        elif status == "noshow":
            task = reoffer_task(
                stored,
                task_id=stable_id(practice, "re-offer", str(stored["id"])),
                practice=practice,
                authored=format_instant(now_instant()),
            )
            self.kernel.validate(task, "Task")
            written.append(_create(uow, owner, task))
        elif appointment.get("status") in HOLDS_PLACE:
            _free_place(uow, owner, stored)
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in written],
        }

    # ---- $session-totals ------------------------------------------------------------------------
    def totals(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        query = call.request.query_params
        patient = query.get("patient")
        if patient is not None and reference_id(patient, "Patient") is None:
            raise BadRequest("patient must be a reference to a Patient (Patient/<id>)")
        conn = uow.conn
        if patient is not None:
            uow.patient = patient
            patients = [patient]
        else:
            patients = sorted(
                {str((p.get("subject") or {}).get("reference")) for p in pain_plans(conn, uow.tenants)}
            )
        found = [
            session_totals(
                who,
                patient_resources(conn, "Encounter", who, uow.tenants),
                [a for a in patient_resources(conn, "Appointment", who, uow.tenants) if is_session(a)],
            )
            for who in patients
        ]
        return totals_parameters(found)


def _create(uow: UnitOfWork, owner: UnitOfWork, resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` filed under ``owner``'s practice, its Provenance where ``uow`` files it."""
    stored = owner.create(resource, resource_id=resource["id"], activity=None)
    uow.write_provenance(stored, "CREATE")
    return stored


def _free_place(uow: UnitOfWork, owner: UnitOfWork, appointment: dict[str, Any]) -> None:
    """A cancelled booking frees its place: a full (busy) Slot of ``owner``'s practice is free again."""
    own = owner.within(Tenancy({owner.practice}))
    for ref in appointment.get("slot") or ():
        slot_id = reference_id(ref, "Slot")
        if slot_id is None:
            continue
        try:
            slot = own.read("Slot", slot_id)
        except NotFound:
            continue
        if slot.get("status") == "busy":
            uow.write_provenance(set_slot_status(own, slot, "free"), "UPDATE")
