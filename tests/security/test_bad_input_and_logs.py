"""Finding 5 (medium): bad paging, huge numbers and long lists gave 500s, and the last logged the SQL
parameters, NHS numbers included. Replayed as the attack: each is a 400 before any SQL runs, and no log
line at any level carries an NHS number, whatever fails."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from painreview.embedded import EmbeddedSystem
from shared.db import make_engine
from shared.observability.logging import configure_logging
from shared.web import install_error_handlers
from tests.support.tokens import Tokens

FHIR = {"content-type": "application/fhir+json"}
Secured = tuple[EmbeddedSystem, TestClient, Tokens]
NHS = "https://fhir.nhs.uk/Id/nhs-number"
NUMBERS = [f"999{n:07d}" for n in range(1200)]  # the test range, whether or not the check digit holds
HELD = NUMBERS[18]  # 9990000018: the patient's own number must be a valid one to be written at all


def _lines(caplog: pytest.LogCaptureFixture) -> str:
    """Every server log line, with its extra fields (the test client's own httpx lines are the attacker's)."""
    handler = logging.StreamHandler()
    return "\n".join(f"{handler.format(r)} {r.__dict__}" for r in caplog.records if r.name != "httpx")


@pytest.fixture(scope="module")
def patient(secured: Secured) -> str:
    _system, client, tokens = secured
    body = {"resourceType": "Patient", "identifier": [{"system": NHS, "value": HELD}]}
    created = client.post(
        "/referral/fhir/Patient", json=body, headers={**FHIR, "authorization": f"Bearer {tokens.valid()}"}
    )
    assert created.status_code == 201
    return str(created.json()["id"])


def _get(client: TestClient, url: str, token: str, **headers: str) -> Any:
    return client.get(url, headers={"authorization": f"Bearer {token}", **headers})


def test_huge_numbers_and_long_lists_are_400_and_no_log_line_names_a_patient(
    secured: Secured, patient: str, caplog: pytest.LogCaptureFixture
) -> None:
    _system, client, tokens = secured
    token = tokens.valid()
    caplog.set_level(logging.DEBUG)
    attacks = [
        "/referral/fhir/Patient?_offset=9223372036854775808",
        "/referral/fhir/Patient?_offset=100001",
        "/referral/fhir/Patient?_offset=-1",
        "/referral/fhir/Patient?_offset=1e20",
        "/referral/fhir/Patient?_count=%C2%B2",  # a superscript two: isdigit() says yes, int() says no
        f"/referral/fhir/Patient/{patient}/_history/9223372036854775808",
        f"/referral/fhir/Patient/{patient}/_history/%C2%B2",
        f"/referral/fhir/Patient/{patient}/_history?_offset=1e20",
        f"/referral/fhir/Patient/{patient}/_history?_offset=9223372036854775808",
        f"/referral/fhir/Patient?identifier={','.join(NUMBERS)}",
        f"/referral/fhir/Patient?identifier={','.join(NUMBERS[:101])}",
        "/referral/fhir/Patient?" + "&".join(f"identifier={n}" for n in NUMBERS[:60]),
        "/referral/fhir/Patient?"
        + "&".join(f"identifier={','.join(NUMBERS[i : i + 90])}" for i in (0, 90, 180, 270)),
        "/referral/fhir/Patient?" + "&".join(["_revinclude=MedicationRequest:subject"] * 11),
    ]
    for url in attacks:
        response = _get(client, url, token)
        assert response.status_code == 400, (url[:120], response.status_code, response.text[:300])
        assert response.json()["resourceType"] == "OperationOutcome"
    stale = _get(client, f"/referral/fhir/Patient/{patient}", token)
    assert stale.status_code == 200
    put = client.put(
        f"/referral/fhir/Patient/{patient}",
        json=stale.json(),
        headers={**FHIR, "authorization": f"Bearer {token}", "if-match": 'W/"9223372036854775808"'},
    )
    assert put.status_code == 400, put.text
    assert not [n for n in NUMBERS if n in _lines(caplog)]


def test_a_hundred_values_of_one_parameter_still_search(secured: Secured, patient: str) -> None:
    _system, client, tokens = secured
    found = _get(client, f"/referral/fhir/Patient?identifier={','.join(NUMBERS[:100])}", tokens.valid())
    assert found.status_code == 200
    assert patient in {e["resource"]["id"] for e in found.json()["entry"]}


def test_a_database_error_names_no_bound_value(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(SQLAlchemyError) as failed, engine.connect() as conn:
            conn.execute(text("select no_such_column where :number = :number"), {"number": NUMBERS[1]})
    finally:
        engine.dispose()
    assert NUMBERS[1] not in str(failed.value)
    assert NUMBERS[1] not in _lines(caplog)


def test_an_unexpected_error_is_logged_by_where_it_happened_not_what_it_said(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise KeyError(f"no GP record for {NUMBERS[2]}")

    caplog.set_level(logging.DEBUG)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert NUMBERS[2] not in response.text
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged and logged[0].__dict__["error_type"] == "KeyError"
    assert any("boom" in frame for frame in logged[0].__dict__["where"])
    assert NUMBERS[2] not in _lines(caplog)


def test_a_debug_root_logger_leaves_sqlalchemy_and_the_access_log_at_warning() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("DEBUG")
        for name in ("sqlalchemy.engine.Engine", "uvicorn.access", "httpx"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
