"""The service evaluation's facts and counts: recruitment, who received which intervention, attendance.

Pure: facts in (gathered by the repository from events, plans and sessions), counts out; the FHIR
``MeasureReport`` is :mod:`services.careplan.fhir_mapping.evaluation_report`, the outcomes (OME, PROMs at
baseline, 6 and 12 months) :mod:`services.careplan.domain.outcomes`. Each population's definition is written
beside its field below, in ``data/codesystem-service-evaluation.json`` and in the service README.

The **cohort** of a period is the patients whose enrolment (an EpisodeOfCare) started in it, each counted
once from their first enrolment in the period; it is the denominator of the paper's shares ("the proportion
of all patients") and the population of every outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from services.careplan.domain.catalogue import INTERVENTION_SYSTEM, Intervention
from services.careplan.domain.outcomes import Reading, median

__all__ = [
    "ATTENDED",
    "Attendance",
    "EvaluationFacts",
    "Session",
    "Share",
    "StaffSession",
    "StaffTime",
    "attendance",
    "engaged",
    "intervention_shares",
    "staff_time",
]

#: Encounter statuses of a session the patient came to (R4 has no "did not attend" for an Encounter).
ATTENDED = frozenset({"arrived", "triaged", "in-progress", "onleave", "finished"})


@dataclass(frozen=True, slots=True)
class Session:
    """One session (an Encounter) of a cohort patient in the period: its day and ``Encounter.status``."""

    on: date
    status: str


@dataclass(frozen=True, slots=True)
class StaffSession:
    """One attended session (a finished Encounter starting in the period) as project-worker time: the
    ``practice`` that recorded it, the ``session`` it belongs to (``Slot/<id>`` when booked for a Slot, so a
    group session is one session however many came; else ``Encounter/<id>``) and its length in minutes,
    ``None`` when not known."""

    practice: str
    session: str
    minutes: int | None


@dataclass(frozen=True)
class EvaluationFacts:
    """What happened in the period, for the practices evaluated (patients as ``Patient/<id>`` references).

    * ``referrals``: referrals first seen (received, or decided when the receipt was missed) in the period.
    * ``eligible``: referrals triaged eligible, dated by the referral's ``authoredOn``, in the period.
    * ``invited``: patients sent an invitation letter in the period.
    * ``consented``: patients whose consent (an active Consent, dated by ``Consent.dateTime``) falls in the
      period; careplan learns of a consent at enrolment, so one never followed by enrolment is not seen.
    * ``enrolled``: the cohort, patient -> the start of their first enrolment in the period.
    * ``retained``: cohort patients whose latest enrolment starting by the period's end had not ended by it.
    * ``discharged``: enrolments (episodes, of any patient) ended in the period; a patient discharged and
      re-referred counts once per discharge.
    * ``received``: per patient, the interventions any version of their plan (up to the period's end)
      showed started or completed, or a community referral showed started or finished: a de-scripting
      activity paused (on hold) after it started was received.
    * ``ome``: per patient, total daily OME readings (mg/day) up to the period's end; a lower bound has no
      figure and says why. ``proms``: per instrument (``peg``, ``phq-9``, ``gad-7``), per patient, scores.
    * ``sessions``: per cohort patient, the sessions that started in the period.
    * ``acceptability``: per cohort patient, construct -> score (1 to 5) from their latest acceptability
      questionnaire answered in the period.
    * ``staff``: every attended session (finished Encounter) of any patient starting in the period, as
      project-worker time (:class:`StaffSession`); not only the cohort's: staff time is a cost of the period.
    * ``spent``: GBP committed to community services by referrals made in the period (not revoked, not
      entered in error, not declined).
    """

    referrals: int
    invited: int
    enrolled: Mapping[str, date]
    retained: frozenset[str]
    eligible: int = 0
    consented: int = 0
    discharged: int = 0
    received: Mapping[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    local_displays: Mapping[tuple[str, str], str] = field(default_factory=dict)
    ome: Mapping[str, Sequence[Reading]] = field(default_factory=dict)
    proms: Mapping[str, Mapping[str, Sequence[Reading]]] = field(default_factory=dict)
    sessions: Mapping[str, Sequence[Session]] = field(default_factory=dict)
    acceptability: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    staff: Sequence[StaffSession] = ()
    spent: Decimal = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Share:
    """How many enrolled patients received one intervention; ``percent`` to one decimal place."""

    system: str
    code: str
    display: str
    setting: str
    numerator: int
    denominator: int

    @property
    def percent(self) -> Decimal:
        if self.denominator == 0:
            return Decimal("0.0")
        exact = Decimal(100 * self.numerator) / Decimal(self.denominator)
        return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def whole_percent(self) -> int:
        """The share to the whole percent, rounded half up from the exact fraction (as the paper)."""
        if self.denominator == 0:
            return 0
        exact = Decimal(100 * self.numerator) / Decimal(self.denominator)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def intervention_shares(facts: EvaluationFacts, catalogue: Mapping[str, Intervention]) -> list[Share]:
    """One share per catalogue intervention (in catalogue order), then per local code in use."""
    denominator = len(facts.enrolled)

    def count(system: str, code: str) -> int:
        return sum(1 for p in facts.enrolled if (system, code) in facts.received.get(p, frozenset()))

    shares = [
        Share(INTERVENTION_SYSTEM, i.code, i.display, i.setting, count(INTERVENTION_SYSTEM, i.code), n)
        for i in catalogue.values()
        for n in (denominator,)
    ]
    local = sorted(
        {
            key
            for p in facts.enrolled
            for key in facts.received.get(p, frozenset())
            if key[0] != INTERVENTION_SYSTEM
        }
    )
    for system, code in local:
        display = facts.local_displays.get((system, code), code)
        shares.append(Share(system, code, display, "local", count(system, code), denominator))
    return shares


@dataclass(frozen=True)
class Attendance:
    """Sessions of the cohort in the period: booked (every one not entered in error), attended
    (:data:`ATTENDED`), cancelled; patients who attended one or more; attended sessions per cohort patient."""

    booked: int
    attended: int
    cancelled: int
    patients_attending: int
    per_patient: tuple[int, ...]

    @property
    def mean_per_patient(self) -> Decimal | None:
        if not self.per_patient:
            return None
        exact = Decimal(sum(self.per_patient)) / len(self.per_patient)
        return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def median_per_patient(self) -> Decimal | None:
        return median([Decimal(n) for n in self.per_patient])


def attendance(facts: EvaluationFacts) -> Attendance:
    """Attendance over the cohort (a patient with no session counts 0 in the per-patient figures)."""
    booked = attended = cancelled = 0
    per_patient = []
    for patient in sorted(facts.enrolled):
        sessions = [s for s in facts.sessions.get(patient, ()) if s.status != "entered-in-error"]
        came = sum(1 for s in sessions if s.status in ATTENDED)
        booked += len(sessions)
        attended += came
        cancelled += sum(1 for s in sessions if s.status == "cancelled")
        per_patient.append(came)
    return Attendance(booked, attended, cancelled, sum(1 for n in per_patient if n), tuple(per_patient))


def engaged(facts: EvaluationFacts) -> frozenset[str]:
    """Cohort patients who attended a session in the period or received an intervention by its end."""
    return frozenset(
        p
        for p in facts.enrolled
        if facts.received.get(p) or any(s.status in ATTENDED for s in facts.sessions.get(p, ()))
    )


@dataclass(frozen=True, slots=True)
class StaffTime:
    """Project-worker time in the period, overall (``practice`` ``None``) or for one practice: ``sessions``
    held, ``minutes`` over the ``timed`` ones, ``length_unknown`` held but of no known length (counted, never
    given a guessed length: their time is missing from ``minutes``, not estimated)."""

    practice: str | None
    sessions: int
    timed: int
    length_unknown: int
    minutes: int


def _staff_time(practice: str | None, sessions: Sequence[StaffSession]) -> StaffTime:
    lengths: dict[str, list[int | None]] = {}
    for s in sessions:
        lengths.setdefault(s.session, []).append(s.minutes)
    # a session's length: the longest recorded of its Encounters (a group's are one session, one length)
    known = [
        max(m for m in found if m is not None)
        for found in lengths.values()
        if any(m is not None for m in found)
    ]
    return StaffTime(practice, len(lengths), len(known), len(lengths) - len(known), sum(known))


def staff_time(facts: EvaluationFacts) -> tuple[StaffTime, list[StaffTime]]:
    """Project-worker time overall and per practice (in ODS code order). A session is counted once (a
    group session attended by several patients is the worker's time once), under the practice that
    recorded it."""
    practices = sorted({s.practice for s in facts.staff})
    return _staff_time(None, facts.staff), [
        _staff_time(p, [s for s in facts.staff if s.practice == p]) for p in practices
    ]
