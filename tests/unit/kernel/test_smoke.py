from fastapi.testclient import TestClient

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
    "name": [{"family": "Smith"}],
    "birthDate": "1970-01-01",
}


def test_a_created_patient_can_be_read_updated_and_found(client: TestClient) -> None:
    created = client.post("/fhir/Patient", json=PATIENT, headers={"content-type": "application/fhir+json"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["meta"]["versionId"] == "1"
    read = client.get(f"/fhir/Patient/{body['id']}")
    assert read.status_code == 200
    assert read.headers["etag"] == 'W/"1"'
    updated = client.put(
        f"/fhir/Patient/{body['id']}",
        json={**body, "gender": "female"},
        headers={"if-match": 'W/"1"', "content-type": "application/fhir+json"},
    )
    assert updated.status_code == 200, updated.text
    stale = client.put(
        f"/fhir/Patient/{body['id']}",
        json={**body, "gender": "male"},
        headers={"if-match": 'W/"1"', "content-type": "application/fhir+json"},
    )
    assert stale.status_code == 412
    found = client.get("/fhir/Patient", params={"family": "smi"})
    assert found.json()["total"] == 1
    found = client.get("/fhir/Patient", params={"identifier": "https://fhir.nhs.uk/Id/nhs-number|9990000018"})
    assert found.json()["total"] == 1
    other = client.get("/fhir/Patient", headers={"x-test-practice": "B82002"})
    assert other.json()["total"] == 0
