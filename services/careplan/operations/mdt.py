"""The monthly MDT: one meeting per practice per month with an agenda built from the patients who need it.

* ``POST Appointment/$mdt-agenda``: Parameters ``month`` (YYYY-MM, default next month). Answers a Bundle
  (collection) of the month's MDT Appointment (the care teams' members asked, first ``CAREPLAN_MDT_WEEKDAY``
  at ``CAREPLAN_MDT_TIME``; no patient participant: it is the practice's meeting, in no patient's
  compartment) and its agenda, a List (``supportingInformation`` of the Appointment): one entry per patient
  (``item`` the Patient; extensions ``mdt-plan``, the CarePlan, and ``mdt-reason``, one per reason). Asked
  again, the same two resources are returned with patients who newly need it added and the reasons of
  items not yet decided refreshed; a decided item is never changed.
* ``POST List/{id}/$record-mdt-outcome``: Parameters ``patient``, ``outcome`` (code of ``mdt-outcome``),
  ``note``; the item's ``flag`` is the outcome and the patient's plan gets a note and a link to the agenda
  (``supportingInfo``), published as ``careplan.updated``. Answers a Bundle of the List and the CarePlan.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import Connection

from services.careplan.domain.mdt import (
    OUTCOMES,
    AgendaItem,
    MdtPatient,
    agenda,
    carry_over,
    descripting_of,
    parse_month,
    previous_month,
)
from services.careplan.fhir_mapping.mdt import (
    agenda_list,
    deferred_patients,
    is_agenda,
    meeting,
    merge_entries,
    merge_members,
    outcome_flag,
    plan_of_entry,
    plan_with_outcome,
)
from services.careplan.fhir_mapping.plans import stable_id
from services.careplan.operations.review import first_weekday
from services.careplan.repository import CLOSED_PLAN, medication_reviews, pain_plans
from services.careplan.write_rules import WriteRules
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

__all__ = ["MdtOperations"]


class MdtOperations:
    def __init__(
        self, kernel: FhirKernel, rules: WriteRules, *, weekday: int, at: time, minutes: int
    ) -> None:
        self.kernel, self.rules = kernel, rules
        self.weekday, self.at, self.minutes = weekday, at, minutes

    def register(self) -> None:
        self.kernel.operation(
            "mdt-agenda",
            self.build,
            level="type",
            resource_type="Appointment",
            scope=("Appointment", "c"),
            documentation="The practice's monthly MDT meeting and its agenda (a List of the patients who "
            "need it and why) for month=YYYY-MM (default next month)",
        )
        self.kernel.operation(
            "record-mdt-outcome",
            self.record_outcome,
            level="instance",
            resource_type="List",
            scope=("List", "u"),
            documentation="Record the MDT's outcome for one patient on the agenda; noted in their plan",
        )

    @staticmethod
    def _read(uow: UnitOfWork, resource_type: str, resource_id: str) -> Any:
        try:
            return uow.read(resource_type, resource_id)
        except NotFound:
            return None

    def _save(self, uow: UnitOfWork, resource: dict[str, Any], existing: Any) -> Any:
        """Create ``resource``, or update ``existing`` to it; an unchanged resource keeps its version."""
        self.kernel.validate(resource, resource["resourceType"])
        if existing is None:
            return uow.create(resource, resource_id=resource["id"])
        if {k: v for k, v in existing.items() if k != "meta"} == resource:
            return existing
        return uow.update(resource, if_match=int(existing["meta"]["versionId"]))

    # ---- $mdt-agenda ----------------------------------------------------------------------------
    def build(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        params = call.parameters
        now = now_instant()
        try:
            year, month = parse_month(params.text("month"), now.date())
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        label, last = f"{year:04d}-{month:02d}", "{:04d}-{:02d}".format(*previous_month(year, month))
        start = datetime.combine(first_weekday(year, month, self.weekday), self.at, tzinfo=UTC)
        practice = uow.practice
        mine = uow.tenants & {practice}
        own = uow.within(mine)  # the agenda and the meeting are the caller's own practice's
        list_id = stable_id(practice, "mdt-agenda", label)
        meeting_id = stable_id(practice, "mdt-meeting", label)
        conn = uow.conn

        plans = [p for p in pain_plans(conn, mine) if p.get("status") not in CLOSED_PLAN]
        by_patient = {str((p.get("subject") or {}).get("reference")): p for p in plans}
        reviews = medication_reviews(conn, mine, by_patient)
        patients = []
        for patient, plan in by_patient.items():
            status, notes = descripting_of(plan)
            patients.append(MdtPatient(patient, plan["id"], status, notes, tuple(reviews.get(patient, ()))))
        previous = self._read(own, "List", stable_id(practice, "mdt-agenda", last))
        deferred = {p: by_patient[p]["id"] for p in deferred_patients(previous) if p in by_patient}
        items: list[AgendaItem] = carry_over(agenda(patients), deferred, last)
        stamp = format_instant(now)
        existing_list = self._read(own, "List", list_id)
        # An undecided item of a patient with no open plan any more (discharged) leaves the agenda,
        # whoever rebuilds it: judged over the whole practice, not the caller's view.
        open_patients = {
            str((p.get("subject") or {}).get("reference"))
            for p in pain_plans(conn, Tenancy({practice}))
            if p.get("status") not in CLOSED_PLAN
        }
        entries = merge_entries((existing_list or {}).get("entry") or (), items, stamp, open_patients)
        if existing_list is not None and (existing_list.get("entry") or []) == entries:
            stored_list = existing_list  # nothing new: the same version, its date kept
        else:
            stored_list = self._save(own, agenda_list(list_id, label, entries, stamp), existing_list)
        teams = []
        for item in items:
            for ref in by_patient[item.patient].get("careTeam") or ():
                team_id = reference_id(ref, "CareTeam")
                if team_id:
                    team = self._read(own, "CareTeam", team_id)
                    if team is not None:
                        teams.append(team)
        existing_meeting = self._read(own, "Appointment", meeting_id)
        participants = merge_members((existing_meeting or {}).get("participant") or (), teams)
        if existing_meeting is None:
            made = meeting(meeting_id, list_id, start, self.minutes, participants)
        else:
            made = {k: v for k, v in existing_meeting.items() if k != "meta"}
            made["participant"] = participants
        stored_meeting = self._save(own, made, existing_meeting)
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"fullUrl": f"Appointment/{stored_meeting['id']}", "resource": stored_meeting},
                {"fullUrl": f"List/{stored_list['id']}", "resource": visible_agenda(conn, mine, stored_list)},
            ],
        }

    # ---- $record-mdt-outcome --------------------------------------------------------------------
    def record_outcome(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        params = call.parameters
        value = params.value("patient")
        patient = value.get("reference") if isinstance(value, dict) else value
        if reference_id(patient, "Patient") is None:
            raise BadRequest("$record-mdt-outcome needs patient (a reference to the Patient)")
        outcome = params.text("outcome")
        if outcome is None or outcome not in OUTCOMES:
            raise BadRequest(f"outcome must be one of {', '.join(OUTCOMES)}")
        note = params.text("note")
        uow.patient = str(patient)
        refusal = uow.ctx.principal.refusal("CarePlan", "u")  # the outcome is also written into the plan
        if refusal is not None:
            raise Forbidden(f"$record-mdt-outcome updates the patient's CarePlan: {refusal}")
        if_match = etag_version(call.request.headers.get("if-match"))

        agenda_now = uow.read("List", str(call.resource_id))
        if not is_agenda(agenda_now):
            raise Unprocessable("only an MDT agenda (from Appointment/$mdt-agenda) records outcomes")
        entries = [dict(e) for e in agenda_now.get("entry") or ()]
        at = next(
            (i for i, e in enumerate(entries) if (e.get("item") or {}).get("reference") == patient),
            None,
        )
        if at is None:
            raise Unprocessable(f"{patient} is not on this agenda")
        entries[at]["flag"] = outcome_flag(outcome, note)
        stored_list = uow.update(
            {**agenda_now, "entry": entries},
            if_match=if_match if if_match is not None else int(agenda_now["meta"]["versionId"]),
        )
        plan_id = reference_id(plan_of_entry(entries[at]), "CarePlan")
        if plan_id is None:
            raise Unprocessable("the agenda item names no pain management plan")
        plan = uow.read("CarePlan", plan_id)
        changed = plan_with_outcome(plan, stored_list, outcome, note, format_instant(now_instant()))
        stored_plan = uow.update(changed, if_match=int(plan["meta"]["versionId"]))
        self.rules.plan_written(uow, stored_plan)
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "fullUrl": f"List/{stored_list['id']}",
                    "resource": visible_agenda(uow.conn, uow.tenants, stored_list),
                },
                {"fullUrl": f"CarePlan/{stored_plan['id']}", "resource": stored_plan},
            ],
        }


def visible_agenda(conn: Connection, tenants: Tenancy, listed: dict[str, Any]) -> dict[str, Any]:
    """The agenda as ``tenants`` may see it: service staff (enrolled-only) are not shown the items of
    patients not enrolled with their practices (discharged since the agenda was built, say)."""
    if not tenants.enrolled_only:
        return listed
    # Staff see a patient's plan only while the patient is enrolled with their practices.
    seen = {str((p.get("subject") or {}).get("reference")) for p in pain_plans(conn, tenants)}
    entries = [e for e in listed.get("entry") or () if str((e.get("item") or {}).get("reference")) in seen]
    shown = {k: v for k, v in listed.items() if k != "entry"}
    if entries:
        shown["entry"] = entries
    elif "emptyReason" not in shown:  # R4: an empty List says why
        shown["emptyReason"] = {"text": "No patient you may see is on this agenda"}
    return shown
