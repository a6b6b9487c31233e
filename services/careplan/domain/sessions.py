"""Sessions as appointments: places in a session, attendance, and each patient's sessions counted. Pure.

A session is a ``Slot`` of a ``Schedule`` (the project worker's, or a group's such as the relaxation group),
booked by one ``Appointment`` per patient (``Appointment.slot``): each patient's attendance is their own
Appointment's status (R4 ``participant.status`` has no did-not-attend). A one-to-one session has one place; a
group session ``capacity`` places (extension ``session-capacity`` on the Slot).

Booking a full session is refused unless the caller asks for the waiting list: a place is a promise to a
patient, so the service never books past capacity silently, and it never puts anyone on a waiting list they
did not ask for (the paper: some patients could not come to a daytime group or were intimidated by the group
format; a one-to-one or remote session may suit them better than waiting). A waiting-list Appointment
(R4 status ``waitlist``) holds no place; it is booked with ``$book`` again when a place frees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.careplan.domain.catalogue import FHIR_BASE

__all__ = [
    "ATTENDANCE",
    "CAPACITY_EXTENSION",
    "CHANNELS",
    "DELIVERY_CHANNEL_EXTENSION",
    "DELIVERY_CHANNEL_SYSTEM",
    "FORMAT_EXTENSION",
    "FORMAT_SYSTEM",
    "HOLDS_PLACE",
    "SETTINGS",
    "SETTING_EXTENSION",
    "SETTING_SYSTEM",
    "AttendanceError",
    "BookingRefused",
    "SessionTotals",
    "attendance_status",
    "capacity_of",
    "delivery_channel",
    "place_for",
    "session_minutes",
    "session_totals",
]

CAPACITY_EXTENSION = f"{FHIR_BASE}/StructureDefinition/session-capacity"
SETTING_EXTENSION = f"{FHIR_BASE}/StructureDefinition/session-setting"
FORMAT_EXTENSION = f"{FHIR_BASE}/StructureDefinition/session-format"
SETTING_SYSTEM = f"{FHIR_BASE}/CodeSystem/session-setting"
FORMAT_SYSTEM = f"{FHIR_BASE}/CodeSystem/session-format"
SETTINGS = ("practice", "home", "remote")

# UK Core's delivery channel (HL7 UK, Extension-UKCore-DeliveryChannel 2.1.0: context Appointment and Slot,
# valueCodeableConcept, extensible binding to ValueSet UKCore-DeliveryChannel: In-person, Telephone, Video).
# It says how, not where: a home visit and a practice session are both In-person, so ``session-setting``
# stays beside it; a remote session is Telephone or Video, and neither is assumed when not said.
DELIVERY_CHANNEL_EXTENSION = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeliveryChannel"
DELIVERY_CHANNEL_SYSTEM = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeliveryChannel"
CHANNELS = ("In-person", "Telephone", "Video")

HOLDS_PLACE = frozenset({"booked", "arrived", "checked-in", "fulfilled", "noshow"})
"""Appointment statuses that take a place in the session (a no-show's place was kept for them)."""

ATTENDANCE = {"attended": "fulfilled", "did-not-attend": "noshow", "cancelled": "cancelled"}
"""What is recorded (the operation's ``outcome``) → the Appointment's R4 status."""

_OPEN = frozenset({"proposed", "pending", "booked", "arrived", "checked-in", "waitlist"})


class BookingRefused(Exception):
    """A place cannot be given; the message says why and what to do instead."""


class AttendanceError(Exception):
    """An attendance that cannot be recorded on the Appointment as it stands."""


def _extension(resource: Mapping[str, Any], url: str) -> Mapping[str, Any] | None:
    for extension in resource.get("extension") or ():
        if isinstance(extension, Mapping) and extension.get("url") == url:
            return extension
    return None


def capacity_of(slot: Mapping[str, Any]) -> int:
    """Places in a session: the Slot's ``session-capacity`` (a positive integer), else 1 (one-to-one)."""
    extension = _extension(slot, CAPACITY_EXTENSION)
    if extension is None:
        return 1
    value = extension.get("valuePositiveInt", extension.get("valueInteger"))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BookingRefused("the Slot's session-capacity must be a positive integer")
    return value


def delivery_channel(setting: str, channel: str | None) -> str | None:
    """UK Core's delivery channel for a session ``setting``: In-person at the practice or at home; for a
    remote session the ``channel`` given (Telephone or Video), else ``None`` (unknown, never assumed).
    ``BookingRefused`` when the two disagree (a telephone call at the practice)."""
    if channel is not None and channel not in CHANNELS:
        raise BookingRefused(f"channel must be one of {', '.join(CHANNELS)}")
    if setting in ("practice", "home"):
        if channel not in (None, "In-person"):
            raise BookingRefused(f"a session {_WHERE[setting]} is In-person, not {channel}")
        return "In-person"
    if channel == "In-person":
        raise BookingRefused("a remote session is by Telephone or Video, not In-person")
    return channel


_WHERE = {"practice": "at the practice", "home": "at home"}


def place_for(*, capacity: int, holding: int, waitlist: bool) -> str:
    """The new Appointment's status when ``holding`` Appointments already hold a place of ``capacity``:
    ``booked`` while a place is free; ``waitlist`` when full and the caller asked for the waiting list;
    else refused (:class:`BookingRefused`)."""
    if holding < capacity:
        return "booked"
    if waitlist:
        return "waitlist"
    kind = "group session" if capacity > 1 else "session"
    raise BookingRefused(
        f"The {kind} is full ({holding} of {capacity} places booked). Ask again with waitlist=true to put "
        "the patient on its waiting list, or book another session (another time, one-to-one or remote)."
    )


def attendance_status(current: str, outcome: str) -> str:
    """The Appointment's new status when ``outcome`` (attended, did-not-attend, cancelled) is recorded.

    Attendance is recorded once: a fulfilled, no-show or cancelled Appointment is final (correct a mistake
    by entering the Appointment in error and booking again). Only a booked (or arrived, checked-in)
    session can be attended or missed; a waiting-list or proposed one can only be cancelled.
    """
    if outcome not in ATTENDANCE:
        raise AttendanceError(f"outcome must be one of {', '.join(ATTENDANCE)}, not {outcome!r}")
    if current not in _OPEN:
        raise AttendanceError(f"attendance is already recorded: the appointment is {current}")
    if outcome != "cancelled" and current not in ("booked", "arrived", "checked-in"):
        raise AttendanceError(f"a {current} appointment was not booked, so it can only be cancelled")
    return ATTENDANCE[outcome]


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or len(text) < 16:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def session_minutes(encounter: Mapping[str, Any]) -> int | None:
    """A session's length in minutes: ``Encounter.length`` (min or h), else its period's end - start;
    ``None`` when neither is known (counted as a session, never given a guessed length)."""
    length = encounter.get("length") or {}
    value, unit = length.get("value"), length.get("code") or length.get("unit")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        if unit in ("min", "minutes"):
            return round(value)
        if unit in ("h", "hours"):
            return round(value * 60)
    period = encounter.get("period") or {}
    start, end = _moment(period.get("start")), _moment(period.get("end"))
    if start is None or end is None or (start.tzinfo is None) != (end.tzinfo is None) or end < start:
        return None
    return int((end - start).total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class SessionTotals:
    """One patient's sessions: ``attended`` finished sessions (Encounters) and their total length in
    minutes over those of known length (``length_unknown`` of them had none); Appointments booked, missed
    (did not attend), cancelled and on a waiting list."""

    patient: str
    attended: int
    minutes: int
    length_unknown: int
    booked: int
    did_not_attend: int
    cancelled: int
    waitlisted: int


def session_totals(
    patient: str, encounters: Iterable[Mapping[str, Any]], appointments: Iterable[Mapping[str, Any]]
) -> SessionTotals:
    """Count a patient's sessions: finished Encounters (each attended session, booked or not) and their
    length; the session Appointments by status (MDT reviews are not sessions and are not passed here)."""
    attended = minutes = unknown = 0
    for encounter in encounters:
        if encounter.get("status") != "finished":
            continue
        attended += 1
        length = session_minutes(encounter)
        if length is None:
            unknown += 1
        else:
            minutes += length
    statuses = [str(a.get("status")) for a in appointments]
    return SessionTotals(
        patient=patient,
        attended=attended,
        minutes=minutes,
        length_unknown=unknown,
        booked=sum(s in HOLDS_PLACE for s in statuses),
        did_not_attend=statuses.count("noshow"),
        cancelled=statuses.count("cancelled"),
        waitlisted=statuses.count("waitlist"),
    )
