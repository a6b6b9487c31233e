"""A review as FHIR: the Parameters answer, the total OME Observation and DetectedIssues are valid R4."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.medreview.domain.ome import oral_morphine_equivalent
from services.medreview.domain.risk import risk_flags
from services.medreview.fhir_mapping import (
    detected_issue,
    medication_names,
    ome_observation,
    review_parameters,
)
from shared.fhir import validate_resource

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def med(id_: str, name: str, dosage: str, kind: str = "MedicationRequest") -> dict[str, Any]:
    key = "dosage" if kind == "MedicationStatement" else "dosageInstruction"
    found: dict[str, Any] = {
        "resourceType": kind,
        "id": id_,
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": name},
        key: [{"text": dosage}],
    }
    if kind == "MedicationRequest":
        found["intent"] = "order"
    return found


def parts(parameters: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in parameters["parameter"] if p["name"] == name]


def test_the_answer_gives_the_total_each_opioid_and_the_issues_as_valid_r4() -> None:
    resources = [
        med("oxy", "Oxycodone 40mg modified-release tablets", "one twice a day"),
        med("mor", "Morphine sulfate 10mg/5ml oral solution", "5ml up to four times a day when required"),
        med("gab", "Gabapentin 300mg capsules", "one three times a day", "MedicationStatement"),
    ]
    result = oral_morphine_equivalent(resources)
    issues = [
        detected_issue(f, patient="Patient/p1", identified=NOW, names=medication_names(result))
        for f in risk_flags(result)
    ]
    answer = review_parameters(result, issues, observation="Observation/o1")
    validate_resource(answer, "Parameters")
    [total] = parts(answer, "totalDailyOME")
    assert total["valueQuantity"] == {
        "value": 160,
        "unit": "mg/d",
        "system": "http://unitsofmeasure.org",
        "code": "mg/d",
    }
    oxycodone = {p["name"]: p for p in parts(answer, "medication")[0]["part"]}
    assert oxycodone["reference"]["valueReference"]["reference"] == "MedicationRequest/oxy"
    assert oxycodone["ome"]["valueQuantity"]["value"] == 120
    assert oxycodone["factor"]["valueDecimal"] == 1.5
    assert oxycodone["ingredient"]["valueString"] == "oxycodone"
    codes = {p["resource"]["code"]["coding"][0]["code"] for p in parts(answer, "issue")}
    assert codes == {"ome-high-dose", "opioid-gabapentinoid", "multiple-opioids"}
    gabapentinoid = next(
        p["resource"] for p in parts(answer, "issue") if "gabapentinoid" in p["resource"]["detail"]
    )
    assert gabapentinoid["severity"] == "high"
    assert {"reference": "MedicationStatement/gab", "display": "Gabapentin 300mg capsules"} in gabapentinoid[
        "implicated"
    ]


def test_an_incomplete_total_is_a_lower_bound_never_a_plain_figure() -> None:
    resources = [
        med("cod", "Codeine 30mg tablets", "two four times a day"),
        med("met", "Methadone 1mg/ml oral solution", "30ml daily"),
    ]
    result = oral_morphine_equivalent(resources)
    observation = ome_observation(result, patient="Patient/p1", effective=NOW)
    validate_resource(observation, "Observation")
    assert observation["valueQuantity"]["comparator"] == ">=" and observation["valueQuantity"]["value"] == 24
    assert "lower bound" in observation["note"][0]["text"]
    methadone = next(c for c in observation["component"] if c["code"]["text"].startswith("Methadone"))
    assert methadone["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    answer = review_parameters(result, [])
    assert parts(answer, "complete")[0]["valueBoolean"] is False
    methadone_part = {p["name"]: p for p in parts(answer, "medication")[1]["part"]}
    reason = methadone_part["reason"]["valueCodeableConcept"]["coding"][0]["code"]
    assert reason == "opioid-substitution-therapy"
    assert "ome" not in methadone_part


def test_a_total_of_300_or_more_is_interpreted_critical_high() -> None:
    resources = [med("mor", "Morphine sulfate 100mg modified-release tablets", "two twice a day")]
    observation = ome_observation(oral_morphine_equivalent(resources), patient="Patient/p1", effective=NOW)
    assert observation["valueQuantity"]["value"] == 400
    assert observation["interpretation"][0]["coding"][0]["code"] == "HH"


def test_an_issue_about_a_medicine_without_an_id_names_it_by_display_only() -> None:
    resources = [
        {**med("x", "Codeine 30mg tablets", "two four times a day"), "id": None},
        {**med("y", "Diazepam 5mg tablets", "one at night"), "id": None},
    ]
    result = oral_morphine_equivalent(resources)
    [flag] = [f for f in risk_flags(result) if f.code == "opioid-benzodiazepine"]
    issue = detected_issue(flag, patient=None, identified=NOW, names=medication_names(result))
    validate_resource(issue, "DetectedIssue")
    assert all("reference" not in ref for ref in issue["implicated"])


def test_each_medicine_says_how_its_dose_was_read() -> None:
    # Co-codamol 30/500, "1-2 every 4-6 hours when required, max 8 in 24 hours":
    # 2 tablets x 6 (24/4) = 12, capped at 8 tablets = 240 mg codeine x 0.1 = 24 mg OME
    result = oral_morphine_equivalent(
        [med("cc", "Co-codamol 30mg/500mg tablets", "1-2 every 4-6 hours when required, max 8 in 24 hours")]
    )
    fields = {p["name"]: p for p in parts(review_parameters(result, []), "medication")[0]["part"]}
    assert fields["ome"]["valueQuantity"]["value"] == 24
    assert fields["strength"]["valueString"] == "30 mg per tablet"
    assert fields["dosePerAdministration"]["valueQuantity"]["value"] == 2
    assert fields["dosePerAdministration"]["valueQuantity"]["code"] == "{tablet}"
    assert fields["factor"]["valueDecimal"] == 0.1
    assert "max 8 in 24 hours" in fields["wordsReadAs"]["valueString"]
    assert "capped" in fields["basis"]["valueString"]


def test_the_words_a_dose_could_not_be_read_by_are_named() -> None:
    result = oral_morphine_equivalent(
        [med("cc", "Co-codamol 30mg/500mg tablets", "2 qds as per pain clinic")]
    )
    fields = {p["name"]: p for p in parts(review_parameters(result, []), "medication")[0]["part"]}
    assert "clinic" in fields["wordsNotRead"]["valueString"]
    assert "ome" not in fields


def test_medicines_the_service_does_not_assess_are_listed_as_such() -> None:
    result = oral_morphine_equivalent([med("ome", "Omeprazole 20mg capsules", "one daily")])
    answer = review_parameters(result, [])
    assert parts(answer, "notAssessed")[0]["valueReference"]["display"] == "Omeprazole 20mg capsules"


def test_a_days_total_written_with_no_frequency_shows_no_dose_a_time() -> None:
    """Co-codamol 30/500 "8 tablets a day": 8 x 30 = 240 mg codeine x 0.1 = 24 mg OME, but no dose a time
    and no times a day (it had shown 8 tablets a dose, once a day: a dose nobody wrote)."""
    result = oral_morphine_equivalent([med("cc", "Co-codamol 30mg/500mg tablets", "8 tablets a day")])
    fields = {p["name"]: p for p in parts(review_parameters(result, []), "medication")[0]["part"]}
    assert fields["ome"]["valueQuantity"]["value"] == 24
    assert "dosePerAdministration" not in fields and "administrationsPerDay" not in fields
    assert "how often not said" in fields["basis"]["valueString"]
