"""$screen over a generated practice: NDJSON streamed in or a Bundle, ranked, explained, bounded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.support.referral import Referral
from tests.support.referral_records import practice

NDJSON = "application/fhir+ndjson"
PATIENTS = 300


def ndjson(resources: Iterator[dict[str, Any]], chunk: int = 7_000) -> Iterator[bytes]:
    """The practice as NDJSON in chunks that split lines anywhere, as a network would."""
    buffered = b""
    for resource in resources:
        buffered += orjson.dumps(resource) + b"\n"
        while len(buffered) >= chunk:
            yield buffered[:chunk]
            buffered = buffered[chunk:]
    yield buffered


def screen(referral: Referral, body: Any, content_type: str, **params: Any) -> Any:
    headers = {"authorization": f"Bearer {referral.token()}", "content-type": content_type}
    return referral.client.post("/referral/fhir/$screen", content=body, params=params, headers=headers)


def parts(parameters: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in parameters["parameter"] if p["name"] == name]


def total(parameters: dict[str, Any], name: str) -> int:
    return int(parts(parameters, name)[0]["valueInteger"])


def patient_values(part: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for p in part["part"]:
        value = next(v for k, v in p.items() if k.startswith("value")) if "part" not in p else p["part"]
        found.setdefault(p["name"], []).append(value)
    return found


@pytest.fixture(scope="module")
def ndjson_result(embedded_referral: Any) -> dict[str, Any]:
    system, client = embedded_referral
    referral = Referral(system, client, "S00001")
    response = screen(referral, ndjson(practice(PATIENTS)), NDJSON, date="2024-06-15", _count="50")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_ndjson_practice_is_screened_with_totals_for_every_patient(ndjson_result: dict[str, Any]) -> None:
    assert ndjson_result["resourceType"] == "Parameters"
    assert total(ndjson_result, "total") == PATIENTS
    assert sum(total(ndjson_result, n) for n in ("eligible", "needsReview", "ineligible")) == PATIENTS
    assert total(ndjson_result, "returned") == 50
    assert len(parts(ndjson_result, "patient")) == 50


def test_patients_come_ranked_eligible_first_then_by_score_each_with_its_reasons(
    ndjson_result: dict[str, Any],
) -> None:
    patients = [patient_values(p) for p in parts(ndjson_result, "patient")]
    assert [p["rank"][0] for p in patients] == list(range(1, 51))
    keys = [(not p["eligible"][0], -p["score"][0]) for p in patients]
    assert keys == sorted(keys)
    top = patients[0]
    assert top["eligible"] == [True] and top["decision"] == ["eligible"]
    assert top["patient"][0]["reference"].startswith("Patient/pat-")
    codes = {c["code"] for c in top["reason"]}
    assert {"adult", "long-term-opioid", "chronic-non-cancer-pain"} <= codes
    assert all(c["system"].endswith("/CodeSystem/eligibility-reason") for c in top["reason"])
    assert top["signal"], "a ranked patient says why"


def test_a_bundle_gives_the_same_ranking_as_ndjson(referral: Referral, ndjson_result: dict[str, Any]) -> None:
    entries = []
    for resource in practice(PATIENTS):
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": resource})
    bundle = orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})
    response = screen(referral, bundle, "application/fhir+json", date="2024-06-15", count="50")
    assert response.status_code == 200, response.text
    ranked = [patient_values(p)["patient"][0] for p in parts(response.json(), "patient")]
    assert ranked == [patient_values(p)["patient"][0] for p in parts(ndjson_result, "patient")]


def test_a_bundle_with_urn_uuid_patients_is_grouped_by_those_patients(referral: Referral) -> None:
    entries = []
    for resource in practice(5):
        if resource["resourceType"] == "Patient":
            url = f"urn:uuid:{uuid.uuid4()}"
            entries.append({"fullUrl": url, "resource": {k: v for k, v in resource.items() if k != "id"}})
        else:
            entries.append({"resource": {**resource, "subject": {"reference": url}}})
    bundle = orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})
    result = screen(referral, bundle, "application/fhir+json", date="2024-06-15").json()
    assert total(result, "total") == 5


def test_input_that_is_not_grouped_by_patient_is_a_bad_request(referral: Referral) -> None:
    lines = list(practice(2))
    body = b"\n".join(orjson.dumps(r) for r in [*lines, lines[0]])
    response = screen(referral, body, NDJSON)
    assert response.status_code == 400
    assert "together" in response.json()["issue"][0]["diagnostics"]


def test_a_line_that_is_not_a_resource_is_a_bad_request_naming_it(referral: Referral) -> None:
    response = screen(referral, b'{"resourceType": "Patient", "id": "a"}\n[1, 2]\n', NDJSON)
    assert response.status_code == 400
    assert "Line 2" in response.json()["issue"][0]["diagnostics"]


def test_screen_takes_only_bundles_and_ndjson(referral: Referral) -> None:
    assert screen(referral, b"<Bundle/>", "application/xml").status_code == 415
    patient = orjson.dumps({"resourceType": "Patient"})
    assert screen(referral, patient, "application/fhir+json").status_code == 400


def test_unknown_or_out_of_range_parameters_are_bad_requests(referral: Referral) -> None:
    assert screen(referral, b"", NDJSON, _count="0").status_code == 400
    assert screen(referral, b"", NDJSON, _count="100000").status_code == 400
    assert screen(referral, b"", NDJSON, sort="score").status_code == 400
    assert screen(referral, b"", NDJSON, date="15/06/2024").status_code == 400


def test_an_empty_stream_screens_nobody(referral: Referral) -> None:
    result = screen(referral, b"", NDJSON).json()
    assert total(result, "total") == 0 and parts(result, "patient") == []


def test_screen_needs_the_patient_search_scope_and_is_audited(referral: Referral) -> None:
    headers = {"authorization": f"Bearer {referral.token(scope='system/Patient.r')}", "content-type": NDJSON}
    assert referral.client.post("/referral/fhir/$screen", content=b"", headers=headers).status_code == 403
    screen(referral, ndjson(practice(3)), NDJSON)
    auditor = referral.token(scope="system/AuditEvent.rs", role="auditor")
    audits = referral.client.get(
        "/referral/fhir/AuditEvent", params={"_count": 100}, headers={"authorization": f"Bearer {auditor}"}
    ).json()
    screened = [
        a["resource"]
        for a in audits.get("entry", [])
        if a["resource"]["entity"][0].get("description") == "$screen"
    ]
    assert [a["outcome"] for a in screened] == ["0"]
    assert any(a["resource"]["outcome"] == "4" for a in audits["entry"])  # the refused call, too
