"""Which stored medication resources count: one course of a medicine is counted once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.medreview.domain.medication_list import (
    orders_in_force,
    reference,
    regimen_resources,
    resources_from_bundle,
)


def mr(id_: str, intent: str = "plan", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": id_, "status": "active", "intent": intent, **extra}


def ms(id_: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "id": id_, "status": "active", **extra}


def based_on(*refs: str) -> dict[str, Any]:
    return {"basedOn": [{"reference": r} for r in refs]}


CASES = [
    pytest.param(
        [
            ms("course", **based_on("MedicationRequest/auth")),
            mr("auth"),
            mr("issue1", "order", **based_on("MedicationRequest/auth")),
            mr("issue2", "order", **based_on("MedicationRequest/auth")),
        ],
        ["MedicationRequest/auth"],
        id="gp-connect-course-counts-its-authorisation-once",
    ),
    pytest.param(
        [ms("course"), mr("other")], ["MedicationStatement/course", "MedicationRequest/other"], id="unlinked"
    ),
    pytest.param([mr("p", "proposal"), mr("o", "option")], [], id="proposals-prescribe-nothing"),
    pytest.param([mr("stop", "order", doNotPerform=True)], [], id="do-not-perform"),
    pytest.param(
        [
            mr("auth", status="stopped"),
            mr("issue", "order", **based_on("MedicationRequest/auth")),
            mr("new", "order", priorPrescription={"reference": "MedicationRequest/auth"}),
        ],
        ["MedicationRequest/new"],
        id="a-replaced-authorisation-takes-its-issues-with-it",
    ),
    pytest.param(
        [mr("proposal", "proposal"), mr("order", "order", **based_on("MedicationRequest/proposal"))],
        ["MedicationRequest/order"],
        id="an-order-based-on-a-proposal-counts",
    ),
    pytest.param(
        [{"resourceType": "Medication", "id": "m"}, {"resourceType": "Condition", "id": "c"}],
        [],
        id="not-taken",
    ),
]


@pytest.mark.parametrize(("resources", "counted"), CASES)
def test_only_one_resource_per_course_of_a_medicine_counts(
    resources: list[dict[str, Any]], counted: list[str]
) -> None:
    assert [reference(r) for r in regimen_resources(resources)] == counted


def test_a_bundles_urn_uuid_references_become_type_and_id() -> None:
    uid = "0b8e9c1a-5a0c-4c56-9d44-4c2d1f1f0a01"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{uid}", "resource": {"resourceType": "Medication"}},
            {
                "fullUrl": "MedicationRequest/r1",
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "r1",
                    "medicationReference": {"reference": f"urn:uuid:{uid}"},
                },
            },
        ],
    }
    medication, request = resources_from_bundle(bundle)
    assert medication["id"] == uid
    assert request["medicationReference"] == {"reference": f"Medication/{uid}"}
    assert "id" not in bundle["entry"][0]["resource"]  # the event is not changed


def test_only_orders_authored_after_the_gp_list_was_read_are_still_in_force() -> None:
    listed_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    orders = [
        mr("old", "order", authoredOn="2026-02-28T10:00:00Z"),
        mr("new", "order", authoredOn="2026-03-02"),
    ]
    assert [o["id"] for o in orders_in_force(orders, listed_at)] == ["new"]
    assert [o["id"] for o in orders_in_force(orders, None)] == ["old", "new"]


def test_an_order_dated_after_the_gp_list_was_read_is_still_in_force_however_early_it_was_approved() -> None:
    """Approved on 28 February for 16 March: a list read on 1 March cannot hold it yet (it is written to the
    GP record on its date); a list read on 16 March can."""
    dated = mr(
        "step",
        "order",
        authoredOn="2026-02-28T10:00:00Z",
        dispenseRequest={"validityPeriod": {"start": "2026-03-16"}},
    )
    assert [o["id"] for o in orders_in_force([dated], datetime(2026, 3, 1, 12, 0, tzinfo=UTC))] == ["step"]
    assert orders_in_force([dated], datetime(2026, 3, 16, 9, 0, tzinfo=UTC)) == []
