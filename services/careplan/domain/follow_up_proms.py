"""The PROMs at a follow-up review after discharge (issue 17 item 3: "recompute OME and PROMs"). Pure.

Medreview owns the follow-up review and its OME (it re-reads the GP record); the PROMs (PEG, PHQ-9, GAD-7)
are careplan's, scored from the assessment QuestionnaireResponses (``assessment.py``: PHQ-9 the sum of 9
items 0-3, GAD-7 the sum of 7 items 0-3, PEG the mean of 3 items 0-10 to one decimal). For each measure:

* the **score at follow-up** is the latest score dated after the discharge day and on or before the
  follow-up's day (on one day, the later given); a score from before or on the discharge day is not a score
  at follow-up: with none since discharge the measure is **not computable**, with the reason
  (``no-response`` when the patient never answered it, ``no-response-since-discharge`` otherwise) -
  never guessed from an older answer;
* the **score at discharge** is the latest dated on or before the discharge day;
* the **change** is the score at follow-up minus the score at discharge (negative: fewer symptoms, less
  pain), or none when either is missing (``no-score-at-discharge``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from services.careplan.domain.outcomes import Reading

__all__ = [
    "MEASURES",
    "NO_RESPONSE",
    "NO_RESPONSE_SINCE_DISCHARGE",
    "NO_SCORE_AT_DISCHARGE",
    "PromAtFollowUp",
    "proms_at_follow_up",
]

#: The measures, as ``repository._prom_readings`` keys them, with what each is.
MEASURES = {
    "peg": "PEG (mean of pain, enjoyment of life and general activity, 0-10)",
    "phq-9": "PHQ-9 total (0-27)",
    "gad-7": "GAD-7 total (0-21)",
}
NO_RESPONSE = "no-response"
NO_RESPONSE_SINCE_DISCHARGE = "no-response-since-discharge"
NO_SCORE_AT_DISCHARGE = "no-score-at-discharge"
REASON_TEXT = {
    NO_RESPONSE: "No response to this measure has been recorded",
    NO_RESPONSE_SINCE_DISCHARGE: "No response to this measure has been recorded since discharge",
    NO_SCORE_AT_DISCHARGE: "No score at discharge, so no change can be given",
}


@dataclass(frozen=True, slots=True)
class PromAtFollowUp:
    """One measure at a follow-up: the score (and its day) or ``None`` with ``reason``; the score at
    discharge (and its day) when there was one; the change, or ``None`` (``reason`` says why)."""

    measure: str
    score: Decimal | None
    on: date | None
    at_discharge: Decimal | None
    discharge_on: date | None
    change: Decimal | None
    reason: str | None


def _latest(readings: Sequence[Reading], after: date | None, until: date) -> Reading | None:
    found = None
    for reading in readings:
        if reading.value is None or reading.on > until or (after is not None and reading.on <= after):
            continue
        if found is None or reading.on >= found.on:
            found = reading
    return found


def proms_at_follow_up(
    readings: Mapping[str, Sequence[Reading]], discharged: date, follow_up: date
) -> list[PromAtFollowUp]:
    """Each measure of ``MEASURES`` at the follow-up of ``follow_up`` (module doc), in ``MEASURES`` order.
    ``readings`` maps a measure to the patient's scores in the order they were given."""
    if follow_up < discharged:
        raise ValueError(f"a follow-up ({follow_up}) comes after the discharge ({discharged})")
    found = []
    for measure in MEASURES:
        scores = readings.get(measure) or ()
        before = _latest(scores, None, discharged)
        after = _latest(scores, discharged, follow_up)
        if after is None:
            reason = NO_RESPONSE if _latest(scores, None, follow_up) is None else NO_RESPONSE_SINCE_DISCHARGE
            found.append(
                PromAtFollowUp(
                    measure,
                    None,
                    None,
                    before.value if before else None,
                    before.on if before else None,
                    None,
                    reason,
                )
            )
            continue
        assert after.value is not None
        if before is None or before.value is None:
            found.append(
                PromAtFollowUp(measure, after.value, after.on, None, None, None, NO_SCORE_AT_DISCHARGE)
            )
            continue
        found.append(
            PromAtFollowUp(
                measure, after.value, after.on, before.value, before.on, after.value - before.value, None
            )
        )
    return found


# ---- as FHIR: one Observation per measure (pure) ------------------------------------------------------
LOINC = "http://loinc.org"
_LOINC = {"peg": ("91147-9", "PEG"), "phq-9": ("44261-6", "PHQ-9 total"), "gad-7": ("70274-6", "GAD-7 total")}
FOLLOW_UP_PROM_ID = "https://pain-review.example.org/fhir/Id/follow-up-prom"
_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"


def _score(value: Decimal) -> dict[str, Any]:
    return {"value": float(value) if value != value.to_integral_value() else int(value), "unit": "{score}"}


def prom_observation(
    prom: PromAtFollowUp, *, patient: str, task: str, follow_up: date, observation_id: str
) -> dict[str, Any]:
    """The measure at the follow-up ``task`` (medreview's follow-up Task) as an R4 Observation: the score
    (or ``dataAbsentReason`` ``not-asked`` and why), a ``change-from-discharge`` component likewise."""
    code, display = _LOINC[prom.measure]
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": observation_id,
        "identifier": [
            {"system": FOLLOW_UP_PROM_ID, "value": f"{task.removeprefix('Task/')}-{prom.measure}"}
        ],
        "status": "final",
        "category": [{"text": "follow-up after discharge"}],
        "code": {
            "coding": [{"system": LOINC, "code": code, "display": display}],
            "text": MEASURES[prom.measure],
        },
        "subject": {"reference": patient},
        "effectiveDateTime": follow_up.isoformat(),
        "note": [{"text": f"Follow-up review {task}"}],
    }
    if prom.score is None:
        observation["dataAbsentReason"] = {
            "coding": [{"system": _ABSENT, "code": "not-asked", "display": "Not Asked"}],
            "text": f"Not computable: {REASON_TEXT[str(prom.reason)]}",
        }
    else:
        observation["valueQuantity"] = _score(prom.score)
    change: dict[str, Any] = {"code": {"text": "change-from-discharge"}}
    if prom.change is not None:
        change["valueQuantity"] = _score(prom.change)
    else:
        reason = REASON_TEXT[str(prom.reason)]
        change["dataAbsentReason"] = {"coding": [{"system": _ABSENT, "code": "unknown"}], "text": reason}
    at_discharge: dict[str, Any] = {"code": {"text": "at-discharge"}}
    if prom.at_discharge is not None:
        at_discharge["valueQuantity"] = _score(prom.at_discharge)
    else:
        at_discharge["dataAbsentReason"] = {"coding": [{"system": _ABSENT, "code": "unknown"}]}
    observation["component"] = [change, at_discharge]
    return observation
