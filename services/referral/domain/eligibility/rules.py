"""The eligibility rules: one patient's records on a referral date -> a decision with every reason."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from functools import cache

from services.referral.domain.eligibility.model import (
    ADULT_AGE,
    ELIGIBILITY_REASON_SYSTEM,
    LONG_TERM_MONTHS,
    MAX_GAP_MONTHS,
    MIN_PRESCRIPTIONS,
    Coding,
    Decision,
    EligibilityResult,
    MedicineRecord,
    OpioidCourse,
    Outcome,
    PatientRecords,
    Reason,
    Resource,
    State,
    load_data,
)
from services.referral.domain.eligibility.records import (
    add_months,
    clinical_state,
    concept_codes_and_text,
    condition_terms,
    distinct_medicines,
    matching_states,
    parse_fhir_date,
)

__all__ = ["assess_eligibility", "latest_opioid_course"]


@cache
def _reason_codes() -> dict[str, tuple[str, Outcome]]:
    system = load_data("codesystem-eligibility-reason.json")
    return {c["code"]: (c["display"], Outcome(c["property"][0]["valueCode"])) for c in system["concept"]}


def _reason(code: str, detail: str = "") -> Reason:
    display, outcome = _reason_codes()[code]
    return Reason(Coding(ELIGIBILITY_REASON_SYSTEM, code, display), outcome, detail)


def latest_opioid_course(medicines: Iterable[MedicineRecord], on: date) -> OpioidCourse | None:
    """The latest run of dated opioid prescriptions up to `on` with no gap over `MAX_GAP_MONTHS`."""
    dated = sorted(
        (m for m in medicines if "opioid" in m.classes and m.start is not None and m.start <= on),
        key=lambda m: m.start or on,
    )
    course: list[MedicineRecord] = []
    covered: date | None = None
    for record in dated:
        start, until = record.start or on, record.covered_until(on) or on
        if covered is None or start > add_months(covered, MAX_GAP_MONTHS):
            course, covered = [], start
        course.append(record)
        covered = max(covered, until)
    if not course or covered is None:
        return None
    return OpioidCourse(tuple(course), course[0].start or on, covered)


def _age_reason(patient: Resource | None, on: date) -> Reason:
    value = str((patient or {}).get("birthDate", ""))
    match = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value)
    if match is None:
        return _reason("birth-date-unknown", "no birth date recorded")
    year, month, day = int(match[1]), int(match[2] or 0), int(match[3] or 0)
    try:
        earliest = date(year, month or 1, day or 1)
        latest = (
            date(year, month, day) if day else add_months(date(year, month or 12, 1), 1) - timedelta(days=1)
        )
    except ValueError:
        return _reason("birth-date-unknown", f"birth date {value} is not a calendar date")

    def age(born: date) -> int:
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    if age(latest) >= ADULT_AGE:
        return _reason("adult", f"aged {age(latest)}" if day else f"aged at least {age(latest)}")
    if age(earliest) < ADULT_AGE:
        return _reason("under-18", f"aged {age(earliest)}" if day else f"aged at most {age(earliest)}")
    return _reason("birth-date-unknown", f"birth date {value} could put the patient either side of 18")


def _opioid_reasons(medicines: list[MedicineRecord], on: date) -> list[Reason]:
    opioids = [m for m in medicines if "opioid" in m.classes]
    unrecognised = [m for m in medicines if not m.recognised]
    undated = [m for m in opioids if m.start is None]
    if not opioids:
        if unrecognised:
            return [
                _reason("medicine-not-recognised", f"{len(unrecognised)} medicine(s) with no code or name")
            ]
        return [_reason("no-opioid-prescribed", f"{len(medicines)} medicine(s), none an opioid")]
    course = latest_opioid_course(medicines, on)
    cutoff = add_months(on, -LONG_TERM_MONTHS)
    failures: list[Reason] = []
    if course is None:
        failures.append(
            _reason("opioid-not-current", "no opioid prescription dated on or before the referral")
        )
    else:
        if course.covered_until < add_months(on, -MAX_GAP_MONTHS):
            failures.append(_reason("opioid-not-current", f"last opioid prescription {course.covered_until}"))
        if not course.first < cutoff:
            failures.append(_reason("opioid-3-months-or-less", f"first opioid prescription {course.first}"))
        if len(course.prescriptions) < MIN_PRESCRIPTIONS:
            failures.append(
                _reason("fewer-than-3-opioid-prescriptions", f"{len(course.prescriptions)} in the course")
            )
    if course is not None and not failures:
        detail = f"since {course.first}, {len(course.prescriptions)} prescriptions"
        return [_reason("long-term-opioid", detail)]
    could_change = "; ".join(r.coding.display.lower() for r in failures)
    unknowns = []
    if undated:
        unknowns.append(_reason("opioid-dates-unknown", f"{len(undated)} undated; otherwise: {could_change}"))
    if unrecognised:
        unknowns.append(
            _reason("medicine-not-recognised", f"{len(unrecognised)} unidentified; otherwise: {could_change}")
        )
    return unknowns or failures


def _by_state(states: set[State], active: str, unknown: str, inactive: str | None = None) -> list[Reason]:
    if "active" in states:
        return [_reason(active)]
    if "unknown" in states:
        return [_reason(unknown)]
    return [_reason(inactive)] if inactive and "inactive" in states else []


def _pain_reason(conditions: tuple[Resource, ...], on: date) -> Reason:
    terms, cutoff, unclear = condition_terms(), add_months(on, -LONG_TERM_MONTHS), 0
    for condition in conditions:
        codes, text = concept_codes_and_text([condition.get("code")])
        state = clinical_state(condition)
        chronic = terms["chronic-pain"].matches(codes, text)
        if state is None or terms["cancer"].matches(codes, text):
            continue
        if not (chronic or terms["pain"].matches(codes, text)):
            continue
        onset = (condition.get("onsetPeriod") or {}).get("start")
        began = [
            parse_fhir_date(v) for v in (condition.get("onsetDateTime"), onset, condition.get("recordedDate"))
        ]
        long_standing = any(d is not None and d < cutoff for d in began)
        if state == "active" and (chronic or long_standing):
            return _reason("chronic-non-cancer-pain", text[:80])
        unclear += 1
    detail = f"{unclear} pain condition(s) inactive, recent or undated" if unclear else "none recorded"
    return _reason("pain-condition-not-recorded", detail)


def assess_eligibility(
    records: PatientRecords, referral_date: date, medicines: list[MedicineRecord] | None = None
) -> EligibilityResult:
    """Decide eligibility on `referral_date` from one patient's FHIR R4 resources, with every reason.

    `medicines`, if given, is `distinct_medicines(records.medications)` already read by the caller.
    """
    medicines = distinct_medicines(records.medications) if medicines is None else medicines
    reasons = [_age_reason(records.patient, referral_date)]
    reasons += (
        _opioid_reasons(medicines, referral_date) if medicines else [_reason("medication-record-missing")]
    )
    reasons += _by_state(
        matching_states("cancer", records.conditions),
        "active-cancer",
        "cancer-status-unknown",
        "cancer-not-active",
    )
    reasons += _by_state(
        matching_states("end-of-life", (*records.conditions, *records.flags)),
        "end-of-life-care",
        "end-of-life-status-unknown",
    )
    if matching_states("illicit-drug-use", records.conditions) - {"inactive"}:
        if any("opioid" in m.classes for m in medicines):
            reasons.append(_reason("illicit-drug-use-recorded"))
        elif medicines and all(m.recognised for m in medicines):
            reasons.append(_reason("illicit-drug-use-only"))
    reasons.append(_pain_reason(records.conditions, referral_date))
    outcomes = {r.outcome for r in reasons}
    if outcomes & {Outcome.EXCLUDED, Outcome.NOT_MET}:
        decision = Decision.INELIGIBLE
    elif Outcome.UNKNOWN in outcomes:
        decision = Decision.NEEDS_REVIEW
    else:
        decision = Decision.ELIGIBLE
    order = list(Outcome)
    return EligibilityResult(decision, tuple(sorted(reasons, key=lambda r: order.index(r.outcome))))
