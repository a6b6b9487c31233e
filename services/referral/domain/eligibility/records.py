"""Reading FHIR R4 records for the rules: medicines (codes, names, dates) and condition states.

Recognition uses `data/medicine-terms.json` and `data/condition-terms.json`; nothing here decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Any

from services.referral.domain.eligibility.model import (
    DMD_SYSTEM,
    SNOMED_SYSTEM,
    MedicineRecord,
    Resource,
    State,
    load_data,
)

__all__ = [
    "add_months",
    "clinical_state",
    "concept_codes_and_text",
    "condition_terms",
    "distinct_medicines",
    "matching_states",
    "medicine_entry",
    "medicine_record",
    "parse_fhir_date",
]


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
def condition_terms() -> dict[str, _Terms]:
    categories = load_data("condition-terms.json")["categories"]
    return {name: _terms(entry, "terms") for name, entry in categories.items()}


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


def concept_codes_and_text(concepts: Iterable[Any]) -> tuple[frozenset[str], str]:
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
    codes, name = concept_codes_and_text(_medication_concepts(resource))
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


def clinical_state(resource: Resource) -> State | None:
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


def matching_states(category: str, resources: Iterable[Resource]) -> set[State]:
    terms = condition_terms()[category]
    states: set[State] = set()
    for resource in resources:
        codes, text = concept_codes_and_text([resource.get("code")])
        state = clinical_state(resource)
        if state is not None and terms.matches(codes, text):
            states.add(state)
    return states
