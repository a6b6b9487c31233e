"""STU3 (GP Connect) to R4 on recorded, realistic structured records (see fixtures/README.md)."""

from __future__ import annotations

from typing import Any

import pytest

from services.gpconnect.fhir_mapping import (
    RecordMismatch,
    map_condition,
    map_dosage,
    map_structured_record,
)
from shared.fhir import validate_resource
from tests.unit.gpconnect.records import referral_patient

SNOMED = "http://snomed.info/sct"


def _by_id(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}


def _synced(record: dict[str, Any], nhs: str = "9990000018") -> dict[str, dict[str, Any]]:
    bundle = map_structured_record(record, patient=referral_patient(nhs))
    validate_resource(bundle, "Bundle")
    return _by_id(bundle)


def test_the_synced_bundle_is_a_valid_r4_collection_led_by_the_referral_patient(opioid_record):
    bundle = map_structured_record(opioid_record, patient=referral_patient("9990000018"))
    validate_resource(bundle, "Bundle")
    assert bundle["type"] == "collection"
    assert bundle["entry"][0]["resource"]["resourceType"] == "Patient"
    assert bundle["entry"][0]["fullUrl"] == "Patient/pat-1"
    for entry in bundle["entry"][1:]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"{resource['resourceType']}/{resource['id']}"
        validate_resource(resource)
        if resource["resourceType"] != "Medication":
            assert resource["subject"] == {"reference": "Patient/pat-1"}


@pytest.mark.parametrize(
    ("resource_id", "intent", "status", "repeats_allowed", "issued"),
    [
        ("MR-COCOD", "plan", "active", 6, 2),
        ("MR-MORPH", "plan", "active", 12, 1),
        ("MR-TRAM", "plan", "stopped", 6, 6),
        ("MR-COCOD-I1", "order", "completed", None, None),
    ],
)
def test_repeat_authorisations_and_issues_keep_intent_status_and_repeat_counts(
    opioid_record, resource_id, intent, status, repeats_allowed, issued
):
    request = _synced(opioid_record)[resource_id]
    assert (request["intent"], request["status"]) == (intent, status)
    assert request.get("dispenseRequest", {}).get("numberOfRepeatsAllowed") == repeats_allowed
    repeat_info = [
        e for e in request.get("extension", ()) if e["url"].endswith("MedicationRepeatInformation")
    ]
    got = repeat_info[0]["extension"][0]["valueUnsignedInt"] if repeat_info else None
    assert got == issued


def test_an_issue_stays_based_on_its_authorisation(opioid_record):
    issue = _synced(opioid_record)["MR-COCOD-I2"]
    assert issue["basedOn"] == [{"reference": "MedicationRequest/MR-COCOD"}]
    assert issue["courseOfTherapyType"]["coding"][0]["code"] == "continuous"


def test_an_ended_authorisation_keeps_its_status_reason_and_expiry(opioid_record):
    tramadol = _synced(opioid_record)["MR-TRAM"]
    assert tramadol["statusReason"] == {"text": "Changed to co-codamol and morphine"}
    assert tramadol["dispenseRequest"]["validityPeriod"]["end"] == "2023-02-01"
    [repeat] = [e for e in tramadol["extension"] if e["url"].endswith("MedicationRepeatInformation")]
    assert {"url": "authorisationExpiryDate", "valueDateTime": "2023-02-01"} in repeat["extension"]


def test_an_ended_medication_statement_is_stopped_with_its_end_date(opioid_record):
    statement = _synced(opioid_record)["MS-TRAM"]
    assert statement["status"] == "stopped"
    assert statement["effectivePeriod"] == {"start": "2022-03-10", "end": "2023-02-01"}


def test_a_text_only_dosage_stays_text_only(opioid_record):
    morphine = _synced(opioid_record)["MS-MORPH"]
    assert morphine["dosage"] == [{"text": "One to be taken twice a day"}]


def test_a_structured_dose_moves_into_dose_and_rate(opioid_record):
    [dosage] = _synced(opioid_record)["MR-COCOD"]["dosageInstruction"]
    assert dosage["doseAndRate"] == [
        {
            "doseQuantity": {
                "value": 2,
                "unit": "tablet",
                "system": "http://snomed.info/sct",
                "code": "428673006",
            }
        }
    ]
    assert dosage["timing"]["repeat"] == {"frequency": 4, "period": 1, "periodUnit": "d"}
    assert dosage["asNeededBoolean"] is True


def test_medications_keep_their_dm_d_codes(opioid_record):
    medication = _synced(opioid_record)["M-MORPH"]
    snomed = [c for c in medication["code"]["coding"] if c["system"] == "http://snomed.info/sct"]
    assert snomed[0]["code"] == "36126511000001106"


def test_the_last_issue_date_and_prescribing_agency_become_uk_core_extensions(opioid_record):
    statement = _synced(opioid_record)["MS-COCOD"]
    urls = {e["url"].rsplit("/", 1)[1]: e for e in statement["extension"]}
    assert urls["Extension-UKCore-MedicationStatementLastIssueDate"]["valueDateTime"] == "2024-05-20"
    agency = urls["Extension-UKCore-MedicationPrescribingOrganization"]["valueCodeableConcept"]
    assert agency["coding"][0]["code"] == "prescribed-at-gp-practice"


def test_references_to_practitioners_are_dropped_not_left_dangling(opioid_record):
    for resource in _synced(opioid_record).values():
        assert "recorder" not in resource and "asserter" not in resource


def test_only_conditions_on_the_problem_list_are_carried(opioid_record):
    synced = _synced(opioid_record)
    assert "C-OA" in synced and "C-LBP" in synced
    assert "C-NOT-LISTED" not in synced


def test_the_spec_amended_dosage_example_keeps_the_prior_prescription_chain(amended_dosage_record):
    synced = _synced(amended_dosage_record, nhs="9690937286")
    new = synced["E9881EF6-EF3A-4556-9202-A437C5E31128"]
    assert new["priorPrescription"] == {
        "reference": "MedicationRequest/E9881EF6-EF3A-4556-9202-A437C5E31128-HD-1"
    }
    assert new["dosageInstruction"] == [{"text": "One To Be Taken Each Morning"}]
    assert synced["E9881EF6-EF3A-4556-9202-A437C5E31128-HD-1"]["status"] == "completed"


def test_a_record_of_another_patient_is_refused(opioid_record):
    with pytest.raises(RecordMismatch):
        map_structured_record(opioid_record, patient=referral_patient("9990000026"))


def test_a_searchset_is_not_a_structured_record():
    with pytest.raises(RecordMismatch):
        map_structured_record(
            {"resourceType": "Bundle", "type": "searchset"}, patient=referral_patient("9990000018")
        )


@pytest.mark.parametrize(
    ("stu3", "r4_fields"),
    [
        ({"text": "One at night"}, {"text": "One at night"}),
        (
            {"doseRange": {"low": {"value": 1}, "high": {"value": 2}}},
            {"doseAndRate": [{"doseRange": {"low": {"value": 1}, "high": {"value": 2}}}]},
        ),
        ({"rateQuantity": {"value": 5}}, {"doseAndRate": [{"rateQuantity": {"value": 5}}]}),
        ({"asNeededBoolean": True, "sequence": 1}, {"asNeededBoolean": True, "sequence": 1}),
    ],
)
def test_dosages_map_field_by_field(stu3, r4_fields):
    assert map_dosage(stu3) == r4_fields


@pytest.mark.parametrize(
    ("stu3", "clinical", "verification", "recorded"),
    [
        ({"clinicalStatus": "active", "assertedDate": "2020-01-01"}, "active", None, "2020-01-01"),
        ({"clinicalStatus": "active", "abatementBoolean": True}, "resolved", None, None),
        ({"clinicalStatus": "remission", "verificationStatus": "unknown"}, "remission", None, None),
        ({"verificationStatus": "provisional"}, None, "provisional", None),
    ],
)
def test_condition_statuses_become_r4_codeable_concepts(stu3, clinical, verification, recorded):
    mapped = map_condition({"id": "c1", "subject": {"reference": "Patient/x"}, **stu3}, "Patient/p")
    got_clinical = mapped.get("clinicalStatus", {}).get("coding", [{}])[0].get("code")
    got_verification = mapped.get("verificationStatus", {}).get("coding", [{}])[0].get("code")
    assert (got_clinical, got_verification, mapped.get("recordedDate")) == (clinical, verification, recorded)
    assert "abatementBoolean" not in mapped
    validate_resource(mapped, "Condition")
