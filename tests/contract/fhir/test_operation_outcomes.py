"""Our error bodies follow the real BaRS OperationOutcome examples and parse as R4."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem
from shared.core.errors import Duplicate, InvalidResource, NotFound, Unprocessable
from shared.fhir.models import validate_resource
from tests.fixtures import BARS_EXAMPLES

BARS = BARS_EXAMPLES
EXAMPLES = {
    "409-REC_CONFLICT-duplicate.json": Duplicate("dup"),
    "400-REC_BAD_REQUEST-invariant.json": InvalidResource("bad"),
    "422-REC_UNPROCESSABLE_ENTITY-not-supported.json": Unprocessable("no"),
}


def _shape(outcome: dict) -> tuple[str, str, str]:  # type: ignore[type-arg]
    issue = outcome["issue"][0]
    coding = issue["details"]["coding"][0]
    return issue["severity"], coding["system"].lower(), coding["code"]


@pytest.mark.parametrize(("example", "error"), EXAMPLES.items())
def test_our_error_outcome_has_the_bars_example_shape(example: str, error: Exception) -> None:
    expected = json.loads((BARS / example).read_text())
    validate_resource(expected, "OperationOutcome")
    ours = error.to_operation_outcome()  # type: ignore[attr-defined]
    validate_resource(ours, "OperationOutcome")
    assert _shape(ours) == _shape(expected)
    assert ours["meta"]["profile"][0].endswith("UKCore-OperationOutcome")


def test_a_not_found_over_http_is_a_valid_outcome(embedded: tuple[EmbeddedSystem, TestClient, str]) -> None:
    _system, client, token = embedded
    response = client.get("/referral/fhir/Patient/missing", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 404
    body = response.json()
    validate_resource(body, "OperationOutcome")
    assert _shape(body)[2] == NotFound.bars_code
