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

from datetime import UTC, datetime, time, timedelta
from typing import Any

import anyio
from sqlalchemy import Connection

from services.careplan.catalogue import FHIR_BASE
from services.careplan.fhir_mapping import stable_id
from services.careplan.hooks import WriteRules
from services.careplan.mdt import (
    MDT_OUTCOME_SYSTEM,
    MDT_REASON_SYSTEM,
    OUTCOMES,
    AgendaItem,
    MdtPatient,
    agenda,
    carry_over,
    descripting_of,
    parse_month,
    previous_month,
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
    ResourceStore,
    Unprocessable,
    now_instant,
)
from shared.fhir.http import etag_version
from shared.fhir.values import Parameters, format_instant, reference_id

__all__ = ["MdtOperations"]

REASON_EXTENSION = f"{FHIR_BASE}/StructureDefinition/mdt-reason"
PLAN_EXTENSION = f"{FHIR_BASE}/StructureDefinition/mdt-plan"
AGENDA_CODING = {
    "system": f"{FHIR_BASE}/CodeSystem/careplan-list",
    "code": "mdt-agenda",
    "display": "Monthly multidisciplinary review agenda",
}
AGENDA_CODE = {"coding": [AGENDA_CODING], "text": "Monthly multidisciplinary review agenda"}


def _entry(item: AgendaItem, added: str) -> dict[str, Any]:
    return {
        "extension": [
            {"url": PLAN_EXTENSION, "valueReference": {"reference": f"CarePlan/{item.plan_id}"}},
            *(
                {
                    "url": REASON_EXTENSION,
                    "valueCodeableConcept": {
                        "coding": [{"system": MDT_REASON_SYSTEM, "code": r.code}],
                        "text": r.text,
                    },
                }
                for r in item.reasons
            ),
        ],
        "date": added,
        "item": {"reference": item.patient},
    }


def _members(teams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    participants = []
    for team in teams:
        for member in team.get("participant") or ():
            who = member.get("member")
            if not isinstance(who, dict) or not (who.get("reference") or who.get("display")):
                continue
            key = (str(who.get("reference") or ""), str(who.get("display") or ""))
            if key in seen:
                continue
            seen.add(key)
            participants.append(
                {
                    "type": member.get("role", [])[:1],
                    "actor": who,
                    "required": "required",
                    "status": "needs-action",
                }
            )
    return participants


def _deferred(store: ResourceStore, conn: Connection, list_id: str, tenants: Tenancy) -> list[str]:
    """The patients whose item on an agenda (``List/<list_id>``, if it exists) was deferred."""
    try:
        previous = store.read(conn, "List", list_id, tenants=tenants)
    except NotFound:
        return []
    return [
        str((e.get("item") or {}).get("reference"))
        for e in previous.get("entry") or ()
        if any(c.get("code") == "deferred" for c in (e.get("flag") or {}).get("coding") or ())
    ]


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

    # ---- $mdt-agenda ----------------------------------------------------------------------------
    async def build(self, call: OperationCall) -> dict[str, Any]:
        params = Parameters(call.body)
        now = now_instant()
        try:
            year, month = parse_month(params.text("month"), now.date())
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        label = f"{year:04d}-{month:02d}"
        start = datetime.combine(first_weekday(year, month, self.weekday), self.at, tzinfo=UTC)
        ctx, store = call.ctx, self.kernel.store
        practice = ctx.principal.practice
        mine = ctx.tenants & {practice}
        last_year, last_month = previous_month(year, month)
        last_label = f"{last_year:04d}-{last_month:02d}"
        last_list_id = stable_id(practice, "mdt-agenda", last_label)
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
                deferred = {
                    patient: by_patient[patient]["id"]
                    for patient in _deferred(store, conn, last_list_id, mine)
                    if patient in by_patient
                }
                items = carry_over(agenda(patients), deferred, last_label)
                stamp = format_instant(now)
                agenda_list = self._agenda_list(conn, call, list_id, label, items, stamp)
                teams = []
                for item in items:
                    for ref in by_patient[item.patient].get("careTeam") or ():
                        team_id = reference_id(ref, "CareTeam")
                        if team_id:
                            try:
                                teams.append(store.read(conn, "CareTeam", team_id, tenants=mine))
                            except NotFound:
                                continue
                meeting = self._meeting(conn, call, meeting_id, list_id, start, teams)
                return {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [
                        {"fullUrl": f"Appointment/{meeting['id']}", "resource": meeting},
                        {"fullUrl": f"List/{agenda_list['id']}", "resource": agenda_list},
                    ],
                }

        return await anyio.to_thread.run_sync(work)

    def _agenda_list(
        self, conn: Any, call: OperationCall, list_id: str, label: str, items: list[AgendaItem], stamp: str
    ) -> dict[str, Any]:
        ctx, store = call.ctx, self.kernel.store
        practice = ctx.principal.practice
        try:
            existing: dict[str, Any] | None = store.read(
                conn, "List", list_id, tenants=ctx.tenants & {practice}
            )
        except NotFound:
            existing = None
        entries = list((existing or {}).get("entry") or ())
        position = {str((e.get("item") or {}).get("reference")): i for i, e in enumerate(entries)}
        for item in items:
            fresh = _entry(item, stamp)
            at = position.get(item.patient)
            if at is None:
                entries.append(fresh)
            elif not entries[at].get("flag"):  # undecided: today's reasons
                entries[at] = {**fresh, "date": entries[at].get("date", stamp)}
        agenda_list: dict[str, Any] = {
            "resourceType": "List",
            "id": list_id,
            "status": "current",
            "mode": "working",
            "title": f"MDT agenda {label}",
            "code": AGENDA_CODE,
            "date": stamp,
        }
        if entries:
            agenda_list["entry"] = entries
        else:  # R4: an empty List says why, and JSON carries no empty arrays
            agenda_list["emptyReason"] = {"text": "No patient needs the MDT this month"}
        self.kernel.validate(agenda_list, "List")
        if existing is None:
            stored = store.create(conn, agenda_list, practice=practice, resource_id=list_id)
            self.kernel.write_provenance(conn, ctx, stored, "CREATE")
            return stored
        if existing.get("entry") == agenda_list.get("entry"):
            return existing  # nothing new: the same version
        stored, _ = store.update(
            conn,
            agenda_list,
            tenants=ctx.tenants & {practice},
            practice=practice,
            if_match=int(existing["meta"]["versionId"]),
        )
        self.kernel.write_provenance(conn, ctx, stored, "UPDATE")
        return stored

    def _meeting(
        self,
        conn: Any,
        call: OperationCall,
        meeting_id: str,
        list_id: str,
        start: datetime,
        teams: list[dict[str, Any]],
    ) -> dict[str, Any]:
        ctx, store = call.ctx, self.kernel.store
        practice = ctx.principal.practice
        try:
            existing: dict[str, Any] | None = store.read(
                conn, "Appointment", meeting_id, tenants=ctx.tenants & {practice}
            )
        except NotFound:
            existing = None
        participants = list((existing or {}).get("participant") or ())
        known = {
            (str(p["actor"].get("reference") or ""), str(p["actor"].get("display") or ""))
            for p in participants
        }
        for member in _members(teams):
            key = (str(member["actor"].get("reference") or ""), str(member["actor"].get("display") or ""))
            if key not in known:
                participants.append(member)
                known.add(key)
        if existing is not None:
            if existing.get("participant") == participants:
                return existing
            changed = {**existing, "participant": participants}
            stored, _ = store.update(
                conn,
                changed,
                tenants=ctx.tenants & {practice},
                practice=practice,
                if_match=int(existing["meta"]["versionId"]),
            )
            self.kernel.write_provenance(conn, ctx, stored, "UPDATE")
            return stored
        meeting: dict[str, Any] = {
            "resourceType": "Appointment",
            "id": meeting_id,
            "status": "proposed",
            "serviceCategory": [{"text": "Pain and opioid review"}],
            "appointmentType": {"text": "Multidisciplinary review"},
            "description": f"Monthly multidisciplinary review, {start.strftime('%B %Y')}",
            "start": format_instant(start),
            "end": format_instant(start + timedelta(minutes=self.minutes)),
            "minutesDuration": self.minutes,
            "supportingInformation": [{"reference": f"List/{list_id}"}],
            "participant": participants
            or [{"actor": {"display": "Care team"}, "required": "required", "status": "needs-action"}],
        }
        self.kernel.validate(meeting, "Appointment")
        stored = store.create(conn, meeting, practice=practice, resource_id=meeting_id)
        self.kernel.write_provenance(conn, ctx, stored, "CREATE")
        return stored

    # ---- $record-mdt-outcome --------------------------------------------------------------------
    async def record_outcome(self, call: OperationCall) -> dict[str, Any]:
        params = Parameters(call.body)
        value = params.value("patient")
        patient = value.get("reference") if isinstance(value, dict) else value
        if reference_id(patient, "Patient") is None:
            raise BadRequest("$record-mdt-outcome needs patient (a reference to the Patient)")
        outcome = params.text("outcome")
        if outcome not in OUTCOMES:
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
                agenda_list = store.read(conn, "List", str(call.resource_id), tenants=ctx.tenants)
                codings = (agenda_list.get("code") or {}).get("coding") or []
                if not any(
                    c.get("system") == AGENDA_CODING["system"] and c.get("code") == "mdt-agenda"
                    for c in codings
                ):
                    raise Unprocessable("only an MDT agenda (from Appointment/$mdt-agenda) records outcomes")
                entries = [dict(e) for e in agenda_list.get("entry") or ()]
                at = next(
                    (i for i, e in enumerate(entries) if (e.get("item") or {}).get("reference") == patient),
                    None,
                )
                if at is None:
                    raise Unprocessable(f"{patient} is not on this agenda")
                flag: dict[str, Any] = {
                    "coding": [
                        {"system": MDT_OUTCOME_SYSTEM, "code": outcome, "display": OUTCOMES[str(outcome)]}
                    ]
                }
                if note:
                    flag["text"] = note
                entries[at]["flag"] = flag
                stored_list, _ = store.update(
                    conn,
                    {**agenda_list, "entry": entries},
                    tenants=ctx.tenants,
                    practice=practice,
                    if_match=if_match if if_match is not None else int(agenda_list["meta"]["versionId"]),
                )
                self.kernel.write_provenance(conn, ctx, stored_list, "UPDATE")
                plan_ref = next(
                    (
                        e["valueReference"]["reference"]
                        for e in entries[at].get("extension") or ()
                        if e.get("url") == PLAN_EXTENSION
                    ),
                    None,
                )
                plan_id = reference_id(plan_ref, "CarePlan")
                if plan_id is None:
                    raise Unprocessable("the agenda item names no pain management plan")
                plan = store.read(conn, "CarePlan", plan_id, tenants=ctx.tenants)
                text = f"{agenda_list.get('title')}: {OUTCOMES[str(outcome)]}." + (f" {note}" if note else "")
                link = {"reference": f"List/{stored_list['id']}", "display": str(agenda_list.get("title"))}
                changed = {
                    **plan,
                    "note": [
                        *(plan.get("note") or []),
                        {"time": format_instant(now_instant()), "text": text},
                    ],
                }
                if link["reference"] not in {r.get("reference") for r in plan.get("supportingInfo") or ()}:
                    changed["supportingInfo"] = [*(plan.get("supportingInfo") or []), link]
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
                        {"fullUrl": f"List/{stored_list['id']}", "resource": stored_list},
                        {"fullUrl": f"CarePlan/{stored_plan['id']}", "resource": stored_plan},
                    ],
                }

        return await anyio.to_thread.run_sync(work)
