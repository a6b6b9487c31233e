"""Schemathesis against each service's OpenAPI document: bounded examples, never a 500.

Requests carry a valid token (the point is to fuzz what lies behind authentication) and every
response must be an OperationOutcome or a FHIR resource, never a stack trace.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from painreview.embedded import create_embedded_system
from shared.auth import mint_local_token

_VAR = Path(tempfile.mkdtemp(prefix="painreview-fuzz-"))
SYSTEM = create_embedded_system(_VAR, rate_per_minute=1_000_000, rate_burst=100_000)
TOKEN = mint_local_token(SYSTEM.auth, practice="A81001", scope="system/*.cruds")
HEADERS = {"Authorization": f"Bearer {TOKEN}"}

referral = schemathesis.openapi.from_asgi("/openapi.json", SYSTEM.services["referral"].app)
careplan = schemathesis.openapi.from_asgi("/openapi.json", SYSTEM.services["careplan"].app)
medreview = schemathesis.openapi.from_asgi("/openapi.json", SYSTEM.services["medreview"].app)
gpconnect = schemathesis.openapi.from_asgi("/openapi.json", SYSTEM.services["gpconnect"].app)

FUZZ = settings(
    max_examples=8, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)


def _check(case: schemathesis.Case) -> None:
    response = case.call(headers=HEADERS)
    if case.formatted_path == "/readyz" and response.status_code == 503:
        return  # the fuzzed apps run without their lifespan (no bus started): 503 is the honest answer
    assert response.status_code < 500, (
        case.method,
        case.formatted_path,
        response.status_code,
        response.text[:300],
    )
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.filterwarnings("ignore")
@referral.parametrize()
@FUZZ
def test_referral_api_never_answers_500(case: schemathesis.Case) -> None:
    _check(case)


@pytest.mark.filterwarnings("ignore")
@careplan.parametrize()
@FUZZ
def test_careplan_api_never_answers_500(case: schemathesis.Case) -> None:
    _check(case)


@pytest.mark.filterwarnings("ignore")
@medreview.parametrize()
@FUZZ
def test_medreview_api_never_answers_500(case: schemathesis.Case) -> None:
    _check(case)


@pytest.mark.filterwarnings("ignore")
@gpconnect.parametrize()
@FUZZ
def test_gpconnect_api_never_answers_500(case: schemathesis.Case) -> None:
    _check(case)
