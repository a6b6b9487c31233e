"""The medication list from events, and reviews stored as a searchable OME trend with DetectedIssues."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from services.medreview.workflow import (
    on_medication_list_synced,
    on_patient_enrolled,
    review_bundle_resources,
    review_patient,
)
from shared.contracts import MEDICATION_LIST_SYNCED_V1, PATIENT_ENROLLED_V1
from shared.core.principal import Tenancy
from shared.fhir import NotFound
from tests.unit.medreview.medreview_support import NOW, Harness, database, medicine, patient_bundle

MORPHINE_60_MR = "Morphine sulfate 60mg modified-release tablets"


@pytest.fixture
def mr(medreview_db_url: str) -> Iterator[Harness]:
    harness = Harness(database(medreview_db_url))
    yield harness
    harness.engine.dispose()


def listed(mr: Harness, patient: str = "p1") -> list[str]:
    [listing] = mr.search("List", ("patient", f"Patient/{patient}"))
    return [e["item"]["reference"] for e in listing.get("entry", [])]


def test_a_gp_sync_replaces_the_referral_list_and_keeps_the_old_one_in_history(mr: Harness) -> None:
    referral = patient_bundle("p1", medicine("r-cod", "Codeine 30mg tablets", "two four times a day"))
    mr.consume(on_patient_enrolled, PATIENT_ENROLLED_V1, referral)
    gp = patient_bundle("p1", medicine("gp-mor", MORPHINE_60_MR, "one twice a day"))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW + timedelta(hours=1))
    assert listed(mr) == ["MedicationRequest/gp-mor"]
    assert [r["id"] for r in mr.search("MedicationRequest", ("patient", "Patient/p1"))] == ["gp-mor"]
    with mr.connection() as conn:
        total, versions = mr.repo.store.history(
            conn, "MedicationRequest", "r-cod", tenants=Tenancy({"A81001"}), count=5
        )
    assert total == 2 and versions[0].deleted  # soft-deleted, still in history


def test_the_referral_list_never_overrides_the_gp_record_nor_does_an_older_sync(mr: Harness) -> None:
    gp = patient_bundle("p1", medicine("gp-mor", MORPHINE_60_MR, "one twice a day"))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp)
    referral = patient_bundle("p1", medicine("r-cod", "Codeine 30mg tablets", "two four times a day"))
    mr.consume(on_patient_enrolled, PATIENT_ENROLLED_V1, referral, time=NOW + timedelta(days=1))
    older = patient_bundle("p1", medicine("gp-old", "Tramadol 50mg capsules", "two four times a day"))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, older, time=NOW - timedelta(days=1))
    assert listed(mr) == ["MedicationRequest/gp-mor"]


def test_an_id_another_patient_already_uses_gets_a_stable_new_id_and_references_follow(mr: Harness) -> None:
    auth = medicine("auth-1", MORPHINE_60_MR, "one twice a day")
    course = medicine("ms-1", MORPHINE_60_MR, "one twice a day", kind="MedicationStatement",
                      basedOn=[{"reference": "MedicationRequest/auth-1"}])  # fmt: skip
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, patient_bundle("p1", auth, course))
    theirs = [{**r, "subject": {"reference": "Patient/p2"}} for r in (auth, course)]
    for _ in range(2):  # the same sync twice keeps the same ids
        mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, patient_bundle("p2", *theirs))
    refs = listed(mr, "p2")
    assert "MedicationRequest/auth-1" not in refs and len(refs) == 2
    [statement] = mr.search("MedicationStatement", ("patient", "Patient/p2"))
    assert statement["basedOn"] == [
        {"reference": next(r for r in refs if r.startswith("MedicationRequest/"))}
    ]
    assert mr.read("MedicationRequest/auth-1")["subject"]["reference"] == "Patient/p1"


def test_a_review_is_stored_as_an_ome_observation_with_its_issues_and_announced(mr: Harness) -> None:
    gp = patient_bundle(
        "p1",
        medicine("mor", MORPHINE_60_MR, "one twice a day"),
        medicine("dia", "Diazepam 5mg tablets", "one at night", kind="MedicationStatement"),
    )
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp)
    answer = mr.api(lambda s: review_patient(s, "Patient/p1", "uk-opioids-aware"))
    observation_ref = next(p for p in answer["parameter"] if p["name"] == "observation")["valueReference"]
    observation = mr.read(observation_ref["reference"])
    assert observation["valueQuantity"]["value"] == 120 and observation["subject"] == {
        "reference": "Patient/p1"
    }
    issues = mr.search("DetectedIssue", ("patient", "Patient/p1"))
    assert {i["code"]["coding"][0]["code"] for i in issues} == {"ome-high-dose", "opioid-benzodiazepine"}
    assert all(i["evidence"][0]["detail"][0] == observation_ref for i in issues)
    [(_, completed)] = mr.events("medreview.completed.v1")
    assert [e["resource"]["resourceType"] for e in completed["entry"]] == [
        "Observation",
        "DetectedIssue",
        "DetectedIssue",
    ]
    mr.api(lambda s: review_patient(s, "Patient/p1", "cdc-2022"), now=NOW + timedelta(days=30))
    with mr.connection() as conn:
        trend = mr.repo.ome_trend(conn, "Patient/p1", Tenancy({"A81001"}))
    assert [o["method"]["coding"][0]["code"] for o in trend] == ["uk-opioids-aware", "cdc-2022"]


def test_a_patient_without_a_list_here_is_not_found_even_to_another_practice(mr: Harness) -> None:
    gp = patient_bundle("p1", medicine("mor", MORPHINE_60_MR, "one twice a day"))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp)
    with pytest.raises(NotFound):
        mr.api(lambda s: review_patient(s, "Patient/p1", "uk-opioids-aware"), practice="B82002")
    with pytest.raises(NotFound):
        mr.api(lambda s: review_patient(s, "Patient/nobody", "uk-opioids-aware"))


def test_a_posted_bundle_without_a_patient_is_reviewed_but_not_stored(mr: Harness) -> None:
    resource = medicine("cod", "Codeine 30mg tablets", "two four times a day")
    del resource["subject"]
    answer = mr.api(lambda s: review_bundle_resources(s, [resource], "uk-opioids-aware"))
    assert answer["parameter"][0]["valueQuantity"]["value"] == 24
    assert not any(p["name"] == "observation" for p in answer["parameter"])
    assert mr.events() == []
