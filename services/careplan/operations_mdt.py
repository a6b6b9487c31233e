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

import anyio
from sqlalchemy import Connection

from services.careplan.fhir_mapping import stable_id
from services.careplan.hooks import WriteRules
from services.careplan.mdt import (
    OUTCOMES,
    AgendaItem,
    MdtPatient,
    agenda,
    carry_over,
    descripting_of,
    parse_month,
    previous_month,
)
from services.careplan.mdt_mapping import (
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
from services.careplan.operations_review import first_weekday
from services.careplan.repository import CLOSED_PLAN, pain_plans
from services.careplan.repository_sessions import medication_reviews
from shared.core.principal import Tenancy
from shared.fhir import (
    BadRequest,
    FhirKernel,
    Forbidden,
    NotFound,
    OperationCall,
    Parameters,
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

    def _read(self, conn: Connection, call: OperationCall, resource_type: str, resource_id: str) -> Any:
        tenants = call.ctx.tenants & {call.ctx.principal.practice}
        try:
            return self.kernel.store.read(conn, resource_type, resource_id, tenants=tenants)
        except NotFound:
            return None

    def _save(self, conn: Connection, call: OperationCall, resource: dict[str, Any], existing: Any) -> Any:
        """Create ``resource``, or update ``existing`` to it; an unchanged resource keeps its version."""
        ctx, store, practice = call.ctx, self.kernel.store, call.ctx.principal.practice
        self.kernel.validate(resource, resource["resourceType"])
        if existing is None:
            stored = store.create(conn, resource, practice=practice, resource_id=resource["id"])
            self.kernel.write_provenance(conn, ctx, stored, "CREATE")
            return stored
        if {k: v for k, v in existing.items() if k != "meta"} == resource:
            return existing
        stored, _ = store.update(
            conn,
            resource,
            tenants=ctx.tenants & {practice},
            practice=practice,
            if_match=int(existing["meta"]["versionId"]),
        )
        self.kernel.write_provenance(conn, ctx, stored, "UPDATE")
        return stored

    # ---- $mdt-agenda ----------------------------------------------------------------------------
    async def build(self, call: OperationCall) -> dict[str, Any]:
        params = Parameters(call.body)
        now = now_instant()
        try:
            year, month = parse_month(params.text("month"), now.date())
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        label, last = f"{year:04d}-{month:02d}", "{:04d}-{:02d}".format(*previous_month(year, month))
        start = datetime.combine(first_weekday(year, month, self.weekday), self.at, tzinfo=UTC)
        ctx, store = call.ctx, self.kernel.store
        practice = ctx.principal.practice
        mine = ctx.tenants & {practice}
        list_id = stable_id(practice, "mdt-agenda", label)
        meeting_id = stable_id(practice, "mdt-meeting", label)

        def work() -> dict[str, Any]:
            with call.transaction() as conn:
                plans = [p for p in pain_plans(conn, mine) if p.get("status") not in CLOSED_PLAN]
                by_patient = {str((p.get("subject") or {}).get("reference")): p for p in plans}
                reviews = medication_reviews(conn, mine, by_patient)
                patients = []
                for patient, plan in by_patient.items():
                    status, notes = descripting_of(plan)
                    patients.append(
                        MdtPatient(patient, plan["id"], status, notes, tuple(reviews.get(patient, ())))
                    )
                previous = self._read(conn, call, "List", stable_id(practice, "mdt-agenda", last))
                deferred = {p: by_patient[p]["id"] for p in deferred_patients(previous) if p in by_patient}
                items: list[AgendaItem] = carry_over(agenda(patients), deferred, last)
                stamp = format_instant(now)
                existing_list = self._read(conn, call, "List", list_id)
                # An undecided item of a patient with no open plan any more (discharged) leaves the
                # agenda, whoever rebuilds it: judged over the whole practice, not the caller's view.
                open_patients = {
                    str((p.get("subject") or {}).get("reference"))
                    for p in pain_plans(conn, Tenancy({practice}))
                    if p.get("status") not in CLOSED_PLAN
                }
                entries = merge_entries((existing_list or {}).get("entry") or (), items, stamp, open_patients)
                if existing_list is not None and (existing_list.get("entry") or []) == entries:
                    stored_list = existing_list  # nothing new: the same version, its date kept
                else:
                    made_list = agenda_list(list_id, label, entries, stamp)
                    stored_list = self._save(conn, call, made_list, existing_list)
                teams = []
                for item in items:
                    for ref in by_patient[item.patient].get("careTeam") or ():
                        team_id = reference_id(ref, "CareTeam")
                        if team_id:
                            try:
                                teams.append(store.read(conn, "CareTeam", team_id, tenants=mine))
                            except NotFound:
                                continue
                existing_meeting = self._read(conn, call, "Appointment", meeting_id)
                participants = merge_members((existing_meeting or {}).get("participant") or (), teams)
                if existing_meeting is None:
                    made = meeting(meeting_id, list_id, start, self.minutes, participants)
                else:
                    made = {k: v for k, v in existing_meeting.items() if k != "meta"}
                    made["participant"] = participants
                stored_meeting = self._save(conn, call, made, existing_meeting)
                return {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [
                        {"fullUrl": f"Appointment/{stored_meeting['id']}", "resource": stored_meeting},
                        {
                            "fullUrl": f"List/{stored_list['id']}",
                            "resource": visible_agenda(conn, mine, stored_list),
                        },
                    ],
                }

        return await anyio.to_thread.run_sync(work)

    # ---- $record-mdt-outcome --------------------------------------------------------------------
    async def record_outcome(self, call: OperationCall) -> dict[str, Any]:
        params = Parameters(call.body)
        value = params.value("patient")
        patient = value.get("reference") if isinstance(value, dict) else value
        if reference_id(patient, "Patient") is None:
            raise BadRequest("$record-mdt-outcome needs patient (a reference to the Patient)")
        outcome = params.text("outcome")
        if outcome is None or outcome not in OUTCOMES:
            raise BadRequest(f"outcome must be one of {', '.join(OUTCOMES)}")
        note = params.text("note")
        call.patient = str(patient)
        ctx, store = call.ctx, self.kernel.store
        refusal = ctx.principal.refusal("CarePlan", "u")  # the outcome is also written into the plan
        if refusal is not None:
            raise Forbidden(f"$record-mdt-outcome updates the patient's CarePlan: {refusal}")
        practice = ctx.principal.practice
        if_match = etag_version(call.request.headers.get("if-match"))

        def work() -> dict[str, Any]:
            with call.transaction() as conn:
                agenda_now = store.read(conn, "List", str(call.resource_id), tenants=ctx.tenants)
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
                stored_list, _ = store.update(
                    conn,
                    {**agenda_now, "entry": entries},
                    tenants=ctx.tenants,
                    practice=practice,
                    if_match=if_match if if_match is not None else int(agenda_now["meta"]["versionId"]),
                )
                self.kernel.write_provenance(conn, ctx, stored_list, "UPDATE")
                plan_id = reference_id(plan_of_entry(entries[at]), "CarePlan")
                if plan_id is None:
                    raise Unprocessable("the agenda item names no pain management plan")
                plan = store.read(conn, "CarePlan", plan_id, tenants=ctx.tenants)
                changed = plan_with_outcome(plan, stored_list, outcome, note, format_instant(now_instant()))
                stored_plan, _ = store.update(
                    conn,
                    changed,
                    tenants=ctx.tenants,
                    practice=practice,
                    if_match=int(plan["meta"]["versionId"]),
                )
                self.kernel.write_provenance(conn, ctx, stored_plan, "UPDATE")
                self.rules.careplan_written(conn, ctx, stored_plan, "update")
                return {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [
                        {
                            "fullUrl": f"List/{stored_list['id']}",
                            "resource": visible_agenda(conn, ctx.tenants, stored_list),
                        },
                        {"fullUrl": f"CarePlan/{stored_plan['id']}", "resource": stored_plan},
                    ],
                }

        return await anyio.to_thread.run_sync(work)


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
