"""Who the pain and opioid review service is for: pure rules, FHIR R4 JSON in, a decision with reasons out.

The rules are the service evaluation's (BRIEF.md, pathway step 1), made precise here:

* **Adult**: 18 or over on the referral date; an 18th birthday on the referral date counts (born on
  29 February: 1 March in other years). A partial birth date decides only if every day it can stand
  for gives the same answer.
* **Long-term opioid prescribing.** Opioid prescriptions dated on or before the referral date form
  courses: a gap of more than 3 calendar months between one prescription (or the end of its
  validity/effective period) and the next starts a new course. The latest course must be *current*
  (it covers a day no more than 3 calendar months before the referral date), must have *begun more
  than 3 months before* the referral date (its first prescription strictly before the referral date
  less 3 calendar months: exactly 3 months is not more than 3 months) and must hold *at least 3
  prescriptions*. Calendar months clamp to the month's end (31 May less 3 months is 28/29 February).
  Each MedicationRequest or MedicationStatement counts once; records of the same ingredients on the
  same day, and statements derived from a request, count once together.
* **Chronic non-cancer pain**: an active painful condition not associated with cancer that is
  chronic by its nature or was recorded (or began) more than 3 calendar months before the referral.
* **Excluded**: active cancer (clinical status active, recurrence or relapse; remission, inactive or
  resolved do not exclude), end-of-life or palliative care, illicit drug use with no opioid prescribed.

Nothing unknown is guessed: a missing birth date, undated or unidentifiable medicines that could
change the outcome, or no current pain condition make the decision `needs-review`. Each reason is a
coding from the service's CodeSystem (`ELIGIBILITY_REASON_SYSTEM`, `data/codesystem-eligibility-reason.json`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any, Literal

# fmt: off
__all__ = [
    "ADULT_AGE", "DMD_SYSTEM", "ELIGIBILITY_REASON_SYSTEM", "FHIR_BASE", "LONG_TERM_MONTHS", "MAX_GAP_MONTHS",
    "MIN_PRESCRIPTIONS", "SNOMED_SYSTEM", "Coding", "Decision", "EligibilityResult", "MedicineRecord",
    "OpioidCourse", "Outcome", "PatientRecords", "Reason", "add_months", "assess_eligibility",
    "distinct_medicines", "latest_opioid_course", "load_data", "medicine_entry", "medicine_record",
    "parse_fhir_date",
]
# fmt: on

#: Canonical base of everything this service publishes (CodeSystems, operations). `example.org` is
#: reserved (RFC 2606): replace it here, and in the data files' `url`, once the service has its own.
FHIR_BASE = "https://pain-review.example.org/fhir"
ELIGIBILITY_REASON_SYSTEM = f"{FHIR_BASE}/CodeSystem/eligibility-reason"
SNOMED_SYSTEM = "http://snomed.info/sct"
DMD_SYSTEM = "https://dmd.nhs.uk"
ADULT_AGE = 18
LONG_TERM_MONTHS = 3  # strictly more than this many calendar months
MAX_GAP_MONTHS = 3  # a longer gap between opioid prescriptions starts a new course
MIN_PRESCRIPTIONS = 3

Resource = Mapping[str, Any]
State = Literal["active", "inactive", "unknown"]


class Decision(StrEnum):
    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    NEEDS_REVIEW = "needs-review"


class Outcome(StrEnum):
    """How a reason bears on the decision; declared order is the order reasons are listed in."""

    EXCLUDED = "excluded"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"
    MET = "met"
    NOTED = "noted"


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str

    def as_fhir(self) -> dict[str, str]:
        """The FHIR R4 Coding JSON."""
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True, slots=True)
class Reason:
    coding: Coding
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EligibilityResult:
    decision: Decision
    reasons: tuple[Reason, ...]  # deciding reasons first: excluded, not-met, unknown, met, noted


@dataclass(frozen=True, slots=True)
class PatientRecords:
    """One patient's resources: `key` is "Patient/<id>"; anything but the types below is ignored."""

    key: str
    patient: Resource | None = None
    medications: tuple[Resource, ...] = ()  # MedicationRequest and MedicationStatement
    conditions: tuple[Resource, ...] = ()
    flags: tuple[Resource, ...] = ()

    @classmethod
    def from_resources(cls, key: str, resources: Iterable[Resource]) -> PatientRecords:
        """Sort one patient's resources (any order, any types) into a record set; the first Patient wins."""
        patient: Resource | None = None
        meds: list[Resource] = []
        conditions: list[Resource] = []
        flags: list[Resource] = []
        for resource in resources:
            kind = resource.get("resourceType")
            if kind == "Patient" and patient is None:
                patient = resource
            elif kind in ("MedicationRequest", "MedicationStatement"):
                meds.append(resource)
            elif kind == "Condition":
                conditions.append(resource)
            elif kind == "Flag":
                flags.append(resource)
        return cls(key, patient, tuple(meds), tuple(conditions), tuple(flags))


@dataclass(frozen=True, slots=True)
class MedicineRecord:
    """What the rules need from one MedicationRequest/MedicationStatement."""

    name: str  # lower-cased text and displays, "" when the record names nothing
    ingredients: frozenset[str]  # e.g. {"codeine"}; empty when nothing known was recognised
    classes: frozenset[str]  # "opioid", "benzodiazepine", "gabapentinoid", "z-drug"
    recognised: bool  # a known code matched, or there was a name to read
    start: date | None  # None when not fully dated
    end: date | None = None
    ongoing: bool = False  # an active MedicationStatement with no end
    resource: Resource = field(default_factory=dict, compare=False, repr=False)

    def covered_until(self, on: date) -> date | None:
        """The last day (no later than `on`) this record shows the medicine prescribed."""
        if self.start is None:
            return None
        last = max(self.start, self.end or self.start)
        return on if self.ongoing else min(last, on)


@dataclass(frozen=True, slots=True)
class OpioidCourse:
    prescriptions: tuple[MedicineRecord, ...]  # sorted by start date
    first: date
    covered_until: date


def load_data(name: str) -> Any:
    """A JSON file from `services/referral/data/` (packaged reference data, read once by callers' caches)."""
    return json.loads((files("services.referral") / "data" / name).read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class _Terms:
    codes: frozenset[str]
    names: re.Pattern[str] | None
    ignore: re.Pattern[str] | None = None

    def matches(self, codes: frozenset[str], text: str) -> bool:
        if self.ignore is not None and self.ignore.search(text):
            return False
        return not self.codes.isdisjoint(codes) or (
            self.names is not None and self.names.search(text) is not None
        )


def _words(terms: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = sorted({" ".join(t.lower().split()) for t in terms}, key=len, reverse=True)
    if not alternatives:
        return None
    body = "|".join(r"\s+".join(map(re.escape, a.split())) for a in alternatives)
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")


def _terms(entry: Mapping[str, Any], names_key: str) -> _Terms:
    return _Terms(
        frozenset(c["code"] for c in entry.get("codes", ())),
        _words(entry.get(names_key, ())),
        _words(entry.get("ignore", ())),
    )


@dataclass(frozen=True, slots=True)
class _MedicineIndex:
    by_ingredient: dict[str, Mapping[str, Any]]
    by_code: dict[str, list[Mapping[str, Any]]]
    by_name: dict[str, list[Mapping[str, Any]]]
    names: re.Pattern[str]


@cache
def _medicine_index() -> _MedicineIndex:
    entries = load_data("medicine-terms.json")["medicines"]
    by_code: dict[str, list[Mapping[str, Any]]] = {}
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for entry in entries:
        for coding in entry["codes"]:
            by_code.setdefault(coding["code"], []).append(entry)
        for name in entry["names"]:
            by_name.setdefault(" ".join(name.lower().split()), []).append(entry)
    names = _words(by_name)
    assert names is not None
    return _MedicineIndex({e["ingredient"]: e for e in entries}, by_code, by_name, names)


def medicine_entry(ingredient: str) -> Mapping[str, Any]:
    """The `data/medicine-terms.json` entry for an ingredient (class, names, codes, OME factors)."""
    return _medicine_index().by_ingredient[ingredient]


@lru_cache(maxsize=4096)  # bounded: repeat prescriptions share a few hundred distinct products
def _classify(codes: frozenset[str], name: str) -> tuple[frozenset[str], frozenset[str]]:
    index = _medicine_index()
    entries = [e for code in codes for e in index.by_code.get(code, ())]
    if not entries:  # failing a known code, the name
        matched = {" ".join(m.split()) for m in index.names.findall(name)}
        entries = [e for n in matched for e in index.by_name[n]]
    return frozenset(e["ingredient"] for e in entries), frozenset(e["class"] for e in entries)


@cache
def _condition_terms() -> dict[str, _Terms]:
    categories = load_data("condition-terms.json")["categories"]
    return {name: _terms(entry, "terms") for name, entry in categories.items()}


@cache
def _reason_codes() -> dict[str, tuple[str, Outcome]]:
    system = load_data("codesystem-eligibility-reason.json")
    return {c["code"]: (c["display"], Outcome(c["property"][0]["valueCode"])) for c in system["concept"]}


def _reason(code: str, detail: str = "") -> Reason:
    display, outcome = _reason_codes()[code]
    return Reason(Coding(ELIGIBILITY_REASON_SYSTEM, code, display), outcome, detail)


@lru_cache(maxsize=8192)  # the same few hundred dates recur across a practice; bounded
def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first_of_next = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return date(year, month + 1, min(day.day, (first_of_next - timedelta(days=1)).day))


_FULL_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_fhir_date(value: object) -> date | None:
    """The calendar date of a FHIR date/dateTime as written (its own time zone); None unless day-precise."""
    return _parse_date(value[:10]) if isinstance(value, str) else None


@lru_cache(maxsize=8192)
def _parse_date(value: str) -> date | None:
    match = _FULL_DATE.fullmatch(value)
    try:
        return date(*map(int, match.groups())) if match else None
    except ValueError:
        return None


def _concept_codes_and_text(concepts: Iterable[Any]) -> tuple[frozenset[str], str]:
    codes: set[str] = set()
    texts: list[str] = []
    for concept in concepts:
        if not isinstance(concept, Mapping):
            continue
        texts.append(str(concept.get("text", "")))
        for coding in concept.get("coding", ()):
            if coding.get("system") in (SNOMED_SYSTEM, DMD_SYSTEM) and coding.get("code"):
                codes.add(str(coding["code"]))
            texts.append(str(coding.get("display", "")))
    return frozenset(codes), " ".join(t for t in texts if t).lower()


def _medication_concepts(resource: Resource) -> list[Any]:
    concepts: list[Any] = [resource.get("medicationCodeableConcept")]
    reference = resource.get("medicationReference") or {}
    concepts.append({"text": reference.get("display", "")})
    if str(reference.get("reference", "")).startswith("#"):  # a contained Medication
        for contained in resource.get("contained", ()):
            if f"#{contained.get('id')}" == reference["reference"]:
                concepts.append(contained.get("code"))
    return concepts


_IGNORED_STATUS = {"entered-in-error", "cancelled", "draft", "not-taken"}


def medicine_record(resource: Resource) -> MedicineRecord | None:
    """Read one MedicationRequest/MedicationStatement; None if its status says it never happened.

    Recognition: a dm+d or SNOMED CT code listed in `data/medicine-terms.json`, or failing that the
    medicine's text/display names. Dates: MedicationRequest authoredOn (else the start of
    dispenseRequest.validityPeriod); MedicationStatement effective[x] (else dateAsserted).
    """
    if resource.get("status") in _IGNORED_STATUS:
        return None
    codes, name = _concept_codes_and_text(_medication_concepts(resource))
    ingredients, classes = _classify(codes, name)
    if resource.get("resourceType") == "MedicationStatement":
        period = resource.get("effectivePeriod") or {}
        start = parse_fhir_date(resource.get("effectiveDateTime") or period.get("start"))
        start = start or parse_fhir_date(resource.get("dateAsserted"))
        end = parse_fhir_date(period.get("end"))
        ongoing = resource.get("status") == "active" and end is None and bool(period)
    else:
        validity = (resource.get("dispenseRequest") or {}).get("validityPeriod") or {}
        start = parse_fhir_date(resource.get("authoredOn")) or parse_fhir_date(validity.get("start"))
        end, ongoing = parse_fhir_date(validity.get("end")), False
    return MedicineRecord(
        name=name,
        ingredients=ingredients,
        classes=classes,
        recognised=bool(ingredients) or bool(name),
        start=start,
        end=end,
        ongoing=ongoing,
        resource=resource,
    )


def distinct_medicines(resources: tuple[Resource, ...]) -> list[MedicineRecord]:
    """Each medicine record once: same ingredients on the same day, or a statement from a held request."""
    records, seen = [], set()
    requests = {
        f"MedicationRequest/{r.get('id')}" for r in resources if r.get("resourceType") == "MedicationRequest"
    }
    for resource in resources:
        if any(str(ref.get("reference", "")) in requests for ref in resource.get("derivedFrom", ())):
            continue  # a statement derived from a request we hold: the request counts instead
        record = medicine_record(resource)
        key = (record.ingredients or record.name or id(resource), record.start) if record else None
        if record is None or (record.start is not None and key in seen):
            continue
        seen.add(key)
        records.append(record)
    return records


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


_CLINICAL: dict[str, State] = {
    "active": "active",
    "recurrence": "active",
    "relapse": "active",
    "inactive": "inactive",
    "remission": "inactive",
    "resolved": "inactive",
}


def _status_code(concept: object) -> str:
    codings = concept.get("coding", ()) if isinstance(concept, Mapping) else ()
    return next((str(c.get("code")) for c in codings if c.get("code")), "")


def _state(resource: Resource) -> State | None:
    """Condition clinical status or Flag status as active/inactive/unknown; None when it never held."""
    if resource.get("resourceType") == "Flag":
        status = resource.get("status")
        return None if status == "entered-in-error" else _CLINICAL.get(str(status), "unknown")
    verification = _status_code(resource.get("verificationStatus"))
    if verification in ("refuted", "entered-in-error"):
        return None
    state = _CLINICAL.get(_status_code(resource.get("clinicalStatus")), "unknown")
    unconfirmed = verification in ("provisional", "differential", "unconfirmed")
    return "unknown" if state == "active" and unconfirmed else state


def _matching_states(category: str, resources: Iterable[Resource]) -> set[State]:
    terms = _condition_terms()[category]
    states: set[State] = set()
    for resource in resources:
        codes, text = _concept_codes_and_text([resource.get("code")])
        state = _state(resource)
        if state is not None and terms.matches(codes, text):
            states.add(state)
    return states


def _by_state(states: set[State], active: str, unknown: str, inactive: str | None = None) -> list[Reason]:
    if "active" in states:
        return [_reason(active)]
    if "unknown" in states:
        return [_reason(unknown)]
    return [_reason(inactive)] if inactive and "inactive" in states else []


def _pain_reason(conditions: tuple[Resource, ...], on: date) -> Reason:
    terms, cutoff, unclear = _condition_terms(), add_months(on, -LONG_TERM_MONTHS), 0
    for condition in conditions:
        codes, text = _concept_codes_and_text([condition.get("code")])
        state = _state(condition)
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
        _matching_states("cancer", records.conditions),
        "active-cancer",
        "cancer-status-unknown",
        "cancer-not-active",
    )
    reasons += _by_state(
        _matching_states("end-of-life", (*records.conditions, *records.flags)),
        "end-of-life-care",
        "end-of-life-status-unknown",
    )
    if _matching_states("illicit-drug-use", records.conditions) - {"inactive"}:
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
