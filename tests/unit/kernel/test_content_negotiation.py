"""Content negotiation (R4 http.html#mime-type): the server speaks FHIR R4 JSON only. ``_format``
overrides ``Accept``; a request that accepts neither JSON nor any type (``*/*``, ``application/*``), or
that asks for another FHIR version, is a 406 OperationOutcome rather than a JSON answer it did not ask for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from shared.db import make_engine
from shared.fhir import OperationCall, UnitOfWork, kernel_metadata
from shared.fhir.models import validate_resource
from tests.support.kernel import build_kernel, create, kernel_client, patient

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

REFUSED_ACCEPT = [
    "application/fhir+xml",
    "application/xml",
    "text/html",
    "text/*",
    "application/fhir+json; fhirVersion=3.0",
    "application/fhir+json;fhirVersion=5.0, application/fhir+xml",
    "application/json;q=0, application/fhir+json;q=0",
]
SERVED_ACCEPT = [
    "application/fhir+json",
    "application/json",
    "application/json+fhir",
    "application/fhir+json; fhirVersion=4.0",
    "application/fhir+json; charset=utf-8",
    "*/*",
    "application/*",
    BROWSER,
    "application/fhir+xml, application/fhir+json;q=0.5",
    "",
]
REFUSED_FORMAT = [
    "xml",
    "application/fhir+xml",
    "text/xml",
    "html",
    "ttl",
    "application/fhir+json;fhirVersion=3.0",
]
SERVED_FORMAT = ["json", "application/json", "application/fhir+json"]


@pytest.fixture
def paths(client: TestClient) -> list[str]:
    stored = create(client, patient())
    instance = f"/fhir/Patient/{stored['id']}"
    return ["/fhir/metadata", "/fhir/Patient", instance, f"{instance}/_history", f"{instance}/_history/1"]


def _refused(response: object) -> None:
    assert response.status_code == 406, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/fhir+json")  # type: ignore[attr-defined]
    outcome = response.json()  # type: ignore[attr-defined]
    validate_resource(outcome, "OperationOutcome")
    assert outcome["issue"][0]["code"] == "not-supported"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "REC_NOT_ACCEPTABLE"


@pytest.mark.parametrize("accept", REFUSED_ACCEPT)
def test_an_accept_without_r4_json_is_a_406(client: TestClient, paths: list[str], accept: str) -> None:
    for path in paths:
        _refused(client.get(path, headers={"accept": accept}))


@pytest.mark.parametrize("accept", SERVED_ACCEPT)
def test_an_accept_that_takes_json_is_answered_json(
    client: TestClient, paths: list[str], accept: str
) -> None:
    for path in paths:
        response = client.get(path, headers={"accept": accept})
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith("application/fhir+json")


@pytest.mark.parametrize("wanted", REFUSED_FORMAT)
def test_a_format_other_than_json_is_a_406_whatever_the_accept(
    client: TestClient, paths: list[str], wanted: str
) -> None:
    for path in paths:
        url = f"{path}?_format={quote(wanted, safe='')}"
        _refused(client.get(url, headers={"accept": "application/fhir+json"}))


@pytest.mark.parametrize("wanted", SERVED_FORMAT)
def test_a_json_format_overrides_an_accept_of_xml(client: TestClient, paths: list[str], wanted: str) -> None:
    for path in paths:
        url = f"{path}?_format={quote(wanted, safe='')}"
        response = client.get(url, headers={"accept": "application/fhir+xml"})
        assert response.status_code == 200, (path, response.text)


def test_a_format_with_an_unescaped_plus_is_read_as_the_media_type(client: TestClient) -> None:
    """``?_format=application/fhir+json`` as a client writes it by hand: the ``+`` decodes to a space."""
    assert client.get("/fhir/metadata?_format=application/fhir+json").status_code == 200
    _refused(client.get("/fhir/metadata?_format=application/fhir+xml"))


def test_a_write_asking_for_xml_is_refused_before_anything_is_written(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient",
        json=patient(),
        headers={"content-type": "application/fhir+json", "accept": "application/fhir+xml"},
    )
    _refused(response)
    assert client.get("/fhir/Patient").json()["total"] == 0


@pytest.fixture
def with_operation(db_url: str) -> Iterator[TestClient]:
    """A kernel with a reading operation (operations may render a format of their own)."""
    engine = make_engine(db_url)
    kernel_metadata.create_all(engine)
    kernel = build_kernel(engine)

    def look(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        return {"resourceType": "Parameters"}

    kernel.operation("look", look, level="system", scope=("Observation", "r"), methods=("GET",))
    with kernel_client(kernel, title="t") as client:
        yield client
    engine.dispose()


def test_an_operation_refuses_other_fhir_formats_and_versions_only(with_operation: TestClient) -> None:
    for accept in ("application/fhir+xml", "application/fhir+json; fhirVersion=3.0"):
        _refused(with_operation.get("/fhir/$look", headers={"accept": accept}))
    _refused(with_operation.get("/fhir/$look?_format=xml"))
    for accept in ("application/pdf", "text/html", "application/fhir+json", BROWSER):
        assert with_operation.get("/fhir/$look", headers={"accept": accept}).status_code == 200, accept
    assert with_operation.get("/fhir/$look?_format=text").status_code == 200
