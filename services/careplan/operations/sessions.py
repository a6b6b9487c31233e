"""Booking sessions: ``POST Slot/{id}/$book``, and the rules on a Slot when it is written.

``$book``: Parameters ``patient`` (reference), ``carer`` (0..4, RelatedPerson of that patient; a repeat
counts once), ``setting`` (practice, home, remote; default the Slot's), ``channel`` (UK Core delivery
channel: In-person, Telephone, Video; default the Slot's), ``waitlist`` (boolean), ``comment`` (up to 2,000
characters); answers the patient's Appointment (``booked``, or ``waitlist`` when full and asked for). A full
session without ``waitlist=true`` is a 422 saying so. Project workers and the practice book (403 for
others). Attendance and the sessions counted are in ``operations/attendance.py``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from services.careplan.domain.sessions import (
    HOLDS_PLACE,
    SETTINGS,
    BookingRefused,
    capacity_of,
    delivery_channel,
    place_for,
)
from services.careplan.fhir_mapping.sessions import (
    channel_of,
    format_of,
    session_appointment,
    setting_of,
)
from services.careplan.repository import CLOSED_PLAN, lock, pain_plan_for, slot_appointments
from shared.core.principal import Tenancy
from shared.fhir import (
    BadRequest,
    FhirKernel,
    Forbidden,
    NotFound,
    OperationCall,
    Parameters,
    RequestContext,
    UnitOfWork,
    Unprocessable,
    format_instant,
    new_id,
    now_instant,
    reference_id,
)

__all__ = ["SessionOperations", "patient_of_appointment", "set_slot_status"]

# Bounds on what one booking may carry: a session room holds a patient and a few of the people who
# support them (the evaluation saw carers at some sessions, one or two at a time), and a booking note is
# a sentence or two; both caps keep one request from writing an unbounded Appointment.
MAX_CARERS = 4
MAX_COMMENT = 2_000

BOOKERS = frozenset({"project-worker", "gp-system", "prescriber"})
"""Who books sessions: the project workers and the practice (its system and its clinicians)."""


def _patient_param(params: Parameters, name: str = "patient") -> str | None:
    value = params.value(name)
    text = value.get("reference") if isinstance(value, dict) else value
    if text is None:
        return None
    if reference_id(text, "Patient") is None:
        raise BadRequest(f"{name} must be a reference to a Patient (Patient/<id>)")
    return str(text)


class SessionOperations:
    def __init__(self, kernel: FhirKernel) -> None:
        self.kernel = kernel

    def register(self) -> None:
        k = self.kernel
        k.search_param("Slot", "schedule", "reference", "schedule")
        k.search_param("Slot", "start", "date", "start")
        k.search_param("Slot", "status", "token", "status")
        k.search_param("Slot", "service-type", "token", "serviceType")
        k.search_param("Schedule", "actor", "reference", "actor")
        k.search_param("Schedule", "active", "token", "active")
        k.search_param("Appointment", "slot", "reference", "slot")
        k.search_param("RelatedPerson", "patient", "reference", "patient")
        k.resource("Slot", on_write=_slot_written)
        k.operation(
            "book",
            self.book,
            level="instance",
            resource_type="Slot",
            scope=("Appointment", "c"),
            documentation="Book a patient (and their carers) into a one-to-one or group session; a full "
            "session is refused unless waitlist=true",
        )

    # ---- $book ----------------------------------------------------------------------------------
    def book(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        ctx = uow.ctx
        if ctx.principal.role not in BOOKERS:
            raise Forbidden("Sessions are booked by the project workers and the GP practice")
        params = call.parameters
        patient = _patient_param(params)
        if patient is None:
            raise BadRequest("$book needs patient (a reference to the Patient)")
        uow.patient = patient
        carers = []
        for value in params.values("carer"):
            text = value.get("reference") if isinstance(value, dict) else value
            if reference_id(text, "RelatedPerson") is None:
                raise BadRequest("carer must be a reference to a RelatedPerson (RelatedPerson/<id>)")
            if str(text) not in carers:  # the same carer named twice is one participant
                carers.append(str(text))
        if len(carers) > MAX_CARERS:
            raise BadRequest(f"$book takes at most {MAX_CARERS} carers for one patient, not {len(carers)}")
        setting = params.text("setting")
        if setting is not None and setting not in SETTINGS:
            raise BadRequest(f"setting must be one of {', '.join(SETTINGS)}")
        channel = params.text("channel")
        waitlist = params.boolean("waitlist") is True
        comment = params.text("comment")
        if comment is not None and len(comment) > MAX_COMMENT:
            raise BadRequest(f"comment is at most {MAX_COMMENT} characters, not {len(comment)}")
        practice = uow.practice
        mine = uow.tenants & {practice}
        own = uow.within(mine)
        # Every booking of the session counts against its capacity, whoever the caller may see.
        whole_practice = Tenancy({practice})
        slot_id = str(call.resource_id)

        conn = uow.conn
        lock(conn, "Slot", slot_id)  # one booking of a session at a time (PostgreSQL)
        slot = own.read("Slot", slot_id)
        if slot.get("status") not in ("free", "busy"):
            raise Unprocessable(f"this session is {slot.get('status')}: it cannot be booked")
        plan = pain_plan_for(conn, patient, mine)
        if plan is None or plan.get("status") in CLOSED_PLAN:
            raise Unprocessable(f"{patient} has no open pain management plan in this practice")
        for carer in carers:
            try:
                person = own.read(carer)
            except NotFound:
                raise Unprocessable(f"{carer} is not known in this practice") from None
            if (person.get("patient") or {}).get("reference") != patient:
                raise Unprocessable(f"{carer} is not a carer of {patient}")
        schedule = None
        schedule_id = reference_id(slot.get("schedule"), "Schedule")
        if schedule_id:
            try:
                schedule = own.read("Schedule", schedule_id)
            except NotFound:
                schedule = None
        try:
            capacity = capacity_of(slot)
        except BookingRefused as exc:
            raise Unprocessable(str(exc)) from None
        booked = slot_appointments(conn, slot_id, whole_practice)
        mine_before = [a for a in booked if patient_of_appointment(a) == patient]
        if any(a.get("status") in HOLDS_PLACE for a in mine_before):
            raise Unprocessable(f"{patient} is already booked into this session")
        holding = sum(a.get("status") in HOLDS_PLACE for a in booked)
        try:
            status = place_for(capacity=capacity, holding=holding, waitlist=waitlist)
        except BookingRefused as exc:
            raise Unprocessable(str(exc)) from None
        slot_setting = setting_of(slot)
        if setting and slot_setting and capacity > 1 and setting != slot_setting:
            raise Unprocessable(f"this group session is held {slot_setting}, not {setting}")
        where = setting or slot_setting or "practice"
        try:
            how = delivery_channel(where, channel or channel_of(slot))
        except BookingRefused as exc:
            raise Unprocessable(str(exc)) from None
        appointment = session_appointment(
            appointment_id=new_id(),
            slot=slot,
            schedule=schedule,
            patient=patient,
            plan_id=plan["id"],
            carers=carers,
            setting=where,
            channel=how,
            session_format=format_of(slot) or ("group" if capacity > 1 else "one-to-one"),
            status=status,
            created=format_instant(now_instant()),
            comment=comment,
        )
        waiting = next((a for a in mine_before if a.get("status") == "waitlist"), None)
        if waiting is not None:  # off the waiting list: the same Appointment, now booked
            if status == "waitlist":
                raise Unprocessable(f"{patient} is already on this session's waiting list")
            appointment = {**appointment, "id": waiting["id"]}
            stored = own.update(appointment, if_match=int(waiting["meta"]["versionId"]))
        else:
            self.kernel.validate(appointment, "Appointment")
            stored = own.create(appointment, resource_id=appointment["id"])
        if status == "booked" and holding + 1 >= capacity and slot.get("status") != "busy":
            uow.write_provenance(set_slot_status(own, slot, "busy"), "UPDATE")
        return stored


def set_slot_status(uow: UnitOfWork, slot: dict[str, Any], status: str) -> dict[str, Any]:
    """A Slot busy once full, free again when a place is given back; ``uow`` acts for the Slot's owner.
    The caller writes its Provenance."""
    return uow.update({**slot, "status": status}, if_match=int(slot["meta"]["versionId"]), activity=None)


def _slot_written(conn: Connection, ctx: RequestContext, slot: dict[str, Any], interaction: str) -> None:
    """A Slot's capacity is a positive integer (refused on write, not only when someone books)."""
    if interaction == "delete":
        return
    try:
        capacity_of(slot)
    except BookingRefused as exc:
        raise Unprocessable(str(exc)) from None
    setting = setting_of(slot)
    if setting is not None and setting not in SETTINGS:
        raise Unprocessable(f"session-setting must be one of {', '.join(SETTINGS)}")
    channel = channel_of(slot)
    if channel is not None:
        try:
            delivery_channel(setting or "practice", channel)
        except BookingRefused as exc:
            raise Unprocessable(f"the Slot's delivery channel: {exc}") from None


def patient_of_appointment(appointment: dict[str, Any]) -> str | None:
    for p in appointment.get("participant") or ():
        ref = str((p.get("actor") or {}).get("reference", ""))
        if ref.startswith("Patient/"):
            return ref
    return None
