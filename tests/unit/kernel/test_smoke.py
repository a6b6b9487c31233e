"""The FHIR REST kernel over HTTP: CRUD, versions, If-Match, conditional create, history, search, paging."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shared.fhir.models import validate_resource
from tests.support.kernel import FHIR, NHS, create, patient


def test_a_created_patient_is_version_1_with_location_and_etag(client: TestClient) -> None:
    response = client.post("/fhir/Patient", json=patient(), headers=FHIR)
    assert response.status_code == 201
    body = response.json()
    assert body["meta"]["versionId"] == "1"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert response.headers["content-type"].startswith("application/fhir+json")


def test_a_patient_is_read_updated_with_if_match_and_read_by_version(client: TestClient) -> None:
    body = create(client, patient())
    read = client.get(f"/fhir/Patient/{body['id']}")
    assert read.status_code == 200 and read.headers["etag"] == 'W/"1"'
    updated = client.put(
        f"/fhir/Patient/{body['id']}",
        json={**body, "gender": "female"},
        headers={**FHIR, "if-match": 'W/"1"'},
    )
    assert updated.status_code == 200 and updated.json()["meta"]["versionId"] == "2"
    assert client.get(f"/fhir/Patient/{body['id']}/_history/1").json().get("gender") is None
    assert client.get(f"/fhir/Patient/{body['id']}/_history/2").json()["gender"] == "female"


def test_a_stale_if_match_is_412_and_changes_nothing(client: TestClient) -> None:
    body = create(client, patient())
    client.put(f"/fhir/Patient/{body['id']}", json={**body, "gender": "female"}, headers=FHIR)
    stale = client.put(
        f"/fhir/Patient/{body['id']}", json={**body, "gender": "male"}, headers={**FHIR, "if-match": 'W/"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/Patient/{body['id']}").json()["gender"] == "female"


def test_history_lists_every_version_newest_first_including_the_delete(client: TestClient) -> None:
    body = create(client, patient())
    client.put(f"/fhir/Patient/{body['id']}", json={**body, "gender": "female"}, headers=FHIR)
    assert client.delete(f"/fhir/Patient/{body['id']}").status_code == 204
    assert client.get(f"/fhir/Patient/{body['id']}").status_code == 410
    history = client.get(f"/fhir/Patient/{body['id']}/_history").json()
    assert history["type"] == "history" and history["total"] == 3
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"3"', 'W/"2"', 'W/"1"']
    assert "resource" not in history["entry"][0]


def test_conditional_create_returns_the_existing_match_instead_of_a_twin(client: TestClient) -> None:
    first = create(client, patient())
    again = client.post(
        "/fhir/Patient", json=patient(), headers={**FHIR, "if-none-exist": f"identifier={NHS}|9990000018"}
    )
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    assert client.get("/fhir/Patient").json()["total"] == 1


def test_search_by_identifier_string_and_id(client: TestClient) -> None:
    smith = create(client, patient("9990000018", "Smith"))
    create(client, patient("9990000026", "Jones"))
    assert client.get("/fhir/Patient", params={"identifier": f"{NHS}|9990000018"}).json()["total"] == 1
    assert client.get("/fhir/Patient", params={"identifier": "9990000026"}).json()["total"] == 1
    assert client.get("/fhir/Patient", params={"family": "SMI"}).json()["total"] == 1
    assert (
        client.get("/fhir/Patient", params={"_id": smith["id"]}).json()["entry"][0]["resource"]["id"]
        == smith["id"]
    )
    assert client.get("/fhir/Patient", params={"family": "smith,jones"}).json()["total"] == 2


def test_search_by_subject_status_and_date(client: TestClient) -> None:
    subject = create(client, patient())
    for status, day in (("final", "2025-01-10"), ("final", "2025-03-01"), ("preliminary", "2025-03-02")):
        create(
            client,
            {
                "resourceType": "Observation",
                "status": status,
                "code": {"text": "pain score"},
                "subject": {"reference": f"Patient/{subject['id']}"},
                "effectiveDateTime": day,
            },
        )
    assert client.get("/fhir/Observation", params={"patient": subject["id"]}).json()["total"] == 3
    assert (
        client.get("/fhir/Observation", params={"subject": f"Patient/{subject['id']}"}).json()["total"] == 3
    )
    assert client.get("/fhir/Observation", params={"status": "final"}).json()["total"] == 2
    assert client.get("/fhir/Observation", params={"date": "ge2025-03-01"}).json()["total"] == 2
    assert client.get("/fhir/Observation", params={"date": "2025-01"}).json()["total"] == 1
    assert (
        client.get("/fhir/Observation", params=[("date", "ge2025-02"), ("date", "lt2025-03-02")]).json()[
            "total"
        ]
        == 1
    )


def test_search_pages_with_next_and_previous_links_and_caps_count(client: TestClient) -> None:
    for n in range(7):
        create(client, patient(family=f"Family{n}"))
    page = client.get("/fhir/Patient", params={"_count": 3}).json()
    assert page["total"] == 7 and len(page["entry"]) == 3
    relations = {link["relation"]: link["url"] for link in page["link"]}
    assert "next" in relations and "previous" not in relations
    seen = [e["resource"]["id"] for e in page["entry"]]
    while "next" in relations:
        page = client.get(relations["next"]).json()
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
        relations = {link["relation"]: link["url"] for link in page["link"]}
    assert len(seen) == len(set(seen)) == 7
    assert "previous" in relations
    capped = client.get("/fhir/Patient", params={"_count": 100000}).json()
    assert len(capped["entry"]) == 7
    assert "_count=100" in next(link["url"] for link in capped["link"] if link["relation"] == "self")


def test_every_page_and_one_past_the_last_carry_the_whole_total(client: TestClient) -> None:
    # 7 patients in pages of 3: offsets 0 and 3 are full pages, 6 holds the last one, 9 and 21 are past
    # the end (empty); the total is 7 on each, and the entries are 3, 3, 1, 0, 0.
    for n in range(7):
        create(client, patient(family=f"Family{n}"))
    for offset, entries in ((0, 3), (3, 3), (6, 1), (9, 0), (21, 0)):
        page = client.get("/fhir/Patient", params={"_count": 3, "_offset": offset}).json()
        assert (page["total"], len(page.get("entry", []))) == (7, entries), offset
    assert client.get("/fhir/Patient", params={"family": "nobody"}).json()["total"] == 0


def test_summary_count_returns_only_the_total(client: TestClient) -> None:
    create(client, patient())
    bundle = client.get("/fhir/Patient", params={"_summary": "count"}).json()
    assert bundle["total"] == 1 and "entry" not in bundle


def test_include_brings_the_referenced_patient(client: TestClient) -> None:
    subject = create(client, patient())
    create(
        client,
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": f"Patient/{subject['id']}"},
        },
    )
    bundle = client.get("/fhir/ServiceRequest", params={"_include": "ServiceRequest:patient"}).json()
    modes = sorted((e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"])
    assert modes == [("Patient", "include"), ("ServiceRequest", "match")]
    rev = client.get("/fhir/Patient", params={"_revinclude": "ServiceRequest:patient"}).json()
    assert {e["resource"]["resourceType"] for e in rev["entry"]} == {"Patient", "ServiceRequest"}


def test_every_emitted_resource_parses_as_r4(client: TestClient) -> None:
    body = create(client, patient())
    emitted = [
        body,
        client.get(f"/fhir/Patient/{body['id']}").json(),
        client.get("/fhir/Patient").json(),
        client.get(f"/fhir/Patient/{body['id']}/_history").json(),
        client.get("/fhir/metadata").json(),
        client.get("/fhir/Patient/unknown").json(),
    ]
    for resource in emitted:
        validate_resource(resource)


def test_every_interaction_leaves_an_audit_event_and_writes_a_provenance(client: TestClient) -> None:
    body = create(client, patient())
    client.get(f"/fhir/Patient/{body['id']}")
    client.get("/fhir/Patient/does-not-exist")
    auditor = {"x-test-scopes": "system/AuditEvent.rs system/Provenance.rs"}
    denied = client.get("/fhir/AuditEvent", headers=auditor)
    assert denied.status_code == 403  # the scope alone is not enough: the role must be auditor
    provenance = client.get("/fhir/Provenance", params={"_count": 50}).json()
    assert provenance["total"] == 1
    assert provenance["entry"][0]["resource"]["target"][0]["reference"].startswith(f"Patient/{body['id']}")
