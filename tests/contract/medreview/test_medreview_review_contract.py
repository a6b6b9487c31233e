"""``$medication-review`` over HTTP: the Parameters contract (valid R4), the stored trend and its issues."""

from __future__ import annotations

from typing import Any

from shared.contracts import PATIENT_ENROLLED_V1
from shared.fhir import validate_resource
from tests.support import eventually
from tests.support.medreview import Medreview, list_bundle, medicine, new_patient, synced

OBSERVATION_CODE = "https://pain-review.example.org/fhir/CodeSystem/medreview-observation|total-daily-ome"


def parts(parameters: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in parameters["parameter"] if p["name"] == name]


def bundle_of(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def test_a_bundle_review_answers_valid_r4_parameters_and_stores_a_searchable_trend(
    medreview: Medreview,
) -> None:
    patient = new_patient()
    posted = bundle_of(
        medicine(patient, "tap", "Tapentadol 150mg modified-release tablets", "one twice a day"),
        medicine(patient, "pre", "Pregabalin 75mg capsules", "one twice a day", "MedicationStatement"),
    )
    response = medreview.post("/fhir/$medication-review", posted)
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "application/fhir+json"
    )
    answer = response.json()
    validate_resource(answer, "Parameters")
    [total] = parts(answer, "totalDailyOME")
    assert total["valueQuantity"] == {
        "value": 120,
        "unit": "mg/d",
        "system": "http://unitsofmeasure.org",
        "code": "mg/d",
    }
    [tapentadol] = parts(answer, "medication")
    fields = {p["name"]: p for p in tapentadol["part"]}
    assert fields["reference"]["valueReference"]["reference"] == "MedicationRequest/tap"
    assert fields["ome"]["valueQuantity"]["value"] == 120 and fields["factor"]["valueDecimal"] == 0.4
    assert fields["ingredient"]["valueString"] == "tapentadol"
    issues = {p["resource"]["code"]["coding"][0]["code"]: p["resource"] for p in parts(answer, "issue")}
    assert set(issues) == {"ome-high-dose", "opioid-gabapentinoid"}
    assert issues["opioid-gabapentinoid"]["severity"] == "high"
    observation = parts(answer, "observation")[0]["valueReference"]["reference"]
    trend = medreview.get(
        "/fhir/Observation", patient=f"Patient/{patient}", code=OBSERVATION_CODE, date="ge2020-01-01"
    ).json()
    assert trend["total"] == 1 and f"Observation/{trend['entry'][0]['resource']['id']}" == observation
    stored = medreview.get("/fhir/DetectedIssue", patient=f"Patient/{patient}").json()
    assert stored["total"] == 2
    assert all(e["resource"]["evidence"][0]["detail"][0]["reference"] == observation for e in stored["entry"])
    [completed] = medreview.events("medreview.completed.v1", observation)
    assert completed["practice"] == "A81001" and completed["data"]["resourceType"] == "Bundle"


def test_the_cdc_table_is_chosen_per_request_and_an_unknown_table_is_a_400(medreview: Medreview) -> None:
    patient = new_patient()
    tramadol = medicine(patient, "tra", "Tramadol 100mg tablets", "one four times a day")
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "bundle", "resource": bundle_of(tramadol)},
            {"name": "factorTable", "valueCode": "cdc-2022"},
        ],
    }
    answer = medreview.post("/fhir/$medication-review", params).json()
    assert parts(answer, "totalDailyOME")[0]["valueQuantity"]["value"] == 80  # CDC 0.2 (UK: 0.1 -> 40)
    assert parts(answer, "factorTable")[0]["valueCoding"]["code"] == "cdc-2022"
    refused = medreview.post("/fhir/$medication-review?factorTable=who-2000", bundle_of(tramadol))
    assert refused.status_code == 400 and refused.json()["resourceType"] == "OperationOutcome"


def test_an_uncomputable_dose_makes_the_total_a_flagged_lower_bound(medreview: Medreview) -> None:
    patient = new_patient()
    posted = bundle_of(
        medicine(patient, "cod", "Codeine 30mg tablets", "two four times a day"),
        medicine(patient, "met", "Methadone 1mg/ml oral solution", "40ml daily"),
    )
    answer = medreview.post("/fhir/$medication-review", posted).json()
    total = parts(answer, "totalDailyOME")[0]["valueQuantity"]
    assert (total["value"], total["comparator"]) == (24, ">=")
    assert parts(answer, "complete")[0]["valueBoolean"] is False
    methadone = {p["name"]: p for p in parts(answer, "medication")[1]["part"]}
    assert methadone["reason"]["valueCodeableConcept"]["coding"][0]["code"] == "opioid-substitution-therapy"
    codes = {p["resource"]["code"]["coding"][0]["code"] for p in parts(answer, "issue")}
    assert {"ome-not-computable", "opioid-substitution-therapy"} <= codes


def test_a_medicine_coded_only_by_its_dmd_vtm_is_an_opioid_refused_with_the_reason(
    medreview: Medreview,
) -> None:
    """UK Core codes dm+d under SNOMED CT; 73572009 is the VTM Morphine: an ingredient, no strength."""
    patient = new_patient()
    coded = medicine(patient, "vtm", "", "10mg twice a day")
    coded["medicationCodeableConcept"] = {
        "coding": [{"system": "http://snomed.info/sct", "code": "73572009", "display": "Morphine"}]
    }
    posted = bundle_of(coded, medicine(patient, "oxy", "Oxycodone 5mg capsules", "one four times a day"))
    answer = medreview.post("/fhir/$medication-review", posted).json()
    total = parts(answer, "totalDailyOME")[0]["valueQuantity"]
    assert (total["value"], total["comparator"]) == (30, ">=")  # oxycodone 5 mg x 4 x 1.5; morphine unknown
    assert parts(answer, "complete")[0]["valueBoolean"] is False
    [morphine] = [
        {p["name"]: p for p in m["part"]}
        for m in parts(answer, "medication")
        if m["part"][0]["valueReference"]["reference"] == "MedicationRequest/vtm"
    ]
    reason = morphine["reason"]["valueCodeableConcept"]
    assert reason["coding"][0]["code"] == "unrecognised-opioid-product"
    assert "VTM" in reason["text"] and "no strength" in reason["text"]
    assert "ome" not in morphine


def test_an_enrolled_patients_stored_list_is_reviewed_and_only_by_their_practice(
    medreview: Medreview,
) -> None:
    patient = new_patient()
    episode = {  # patient.enrolled.v1 carries the EpisodeOfCare (the careplan service's consumer needs it)
        "resourceType": "EpisodeOfCare",
        "id": patient,
        "status": "active",
        "patient": {"reference": f"Patient/{patient}"},
        "period": {"start": "2025-05-01"},
    }
    enrolled = list_bundle(
        patient,
        episode,
        medicine(
            patient,
            f"{patient}-bup",
            "Buprenorphine 20micrograms/hour seven day patches",
            "apply one patch every 7 days",
        ),
    )
    medreview.publish("referral", PATIENT_ENROLLED_V1, enrolled, f"EpisodeOfCare/{patient}")
    empty = {"resourceType": "Parameters"}
    answer = eventually(
        lambda: (
            (r := medreview.post(f"/fhir/Patient/{patient}/$medication-review", empty)).status_code == 200
            and r.json()
        )
    )
    assert parts(answer, "totalDailyOME")[0]["valueQuantity"]["value"] == 48
    elsewhere = medreview.post(
        f"/fhir/Patient/{patient}/$medication-review", empty, token=medreview.other_practice_token()
    )
    assert elsewhere.status_code == 404


def test_a_newer_gp_list_is_what_the_next_review_sees(medreview: Medreview) -> None:
    patient = new_patient()
    synced(
        medreview,
        patient,
        medicine(patient, f"{patient}-oxy", "Oxycodone 40mg modified-release tablets", "one twice a day"),
    )
    first = medreview.post(
        f"/fhir/Patient/{patient}/$medication-review", {"resourceType": "Parameters"}
    ).json()
    assert parts(first, "totalDailyOME")[0]["valueQuantity"]["value"] == 120
    synced(
        medreview,
        patient,
        medicine(patient, f"{patient}-oxy2", "Oxycodone 20mg modified-release tablets", "one twice a day"),
    )
    second = medreview.post(
        f"/fhir/Patient/{patient}/$medication-review", {"resourceType": "Parameters"}
    ).json()
    assert parts(second, "totalDailyOME")[0]["valueQuantity"]["value"] == 60
    trend = medreview.get("/fhir/Observation", patient=f"Patient/{patient}", code=OBSERVATION_CODE).json()
    assert trend["total"] == 2


def test_a_review_needs_a_token_with_the_observation_create_scope(medreview: Medreview) -> None:
    posted = bundle_of(medicine(new_patient(), "cod", "Codeine 30mg tablets", "two four times a day"))
    assert medreview.client.post("/medreview/fhir/$medication-review", json=posted).status_code == 401
    from shared.auth import mint_local_token

    read_only = mint_local_token(medreview.system.auth, practice="A81001", scope="system/*.rs")
    assert medreview.post("/fhir/$medication-review", posted, token=read_only).status_code == 403


def test_a_methadone_review_announces_a_methadone_detected_issue(medreview: Medreview) -> None:
    """Methadone 5 mg tablets for pain: no fixed OME (Opioids Aware), one of medreview's taper gates; the
    review raises a high ``medreview-risk#methadone`` DetectedIssue naming the medicine, stored and sent in
    ``medreview.completed`` (which is how careplan's MDT agenda hears of the gate)."""
    patient = new_patient()
    synced(medreview, patient, medicine(patient, f"{patient}-m", "Methadone 5mg tablets", "one twice a day"))
    answer = medreview.post(f"/fhir/Patient/{patient}/$medication-review", {"resourceType": "Parameters"})
    assert answer.status_code == 200, answer.text
    observation = parts(answer.json(), "observation")[0]["valueReference"]["reference"]
    [completed] = medreview.events("medreview.completed.v1", observation)
    issues = [
        e["resource"] for e in completed["data"]["entry"] if e["resource"]["resourceType"] == "DetectedIssue"
    ]
    [flag] = [
        i
        for i in issues
        if i["code"]["coding"][0]
        == {
            "system": "https://pain-review.example.org/fhir/CodeSystem/medreview-risk",
            "code": "methadone",
            "display": "Methadone: no fixed OME, MDT or specialist review before a reduction",
        }
    ]
    validate_resource(flag, "DetectedIssue")
    assert flag["severity"] == "high"
    assert flag["implicated"] == [
        {"reference": f"MedicationRequest/{patient}-m", "display": "Methadone 5mg tablets"}
    ]
