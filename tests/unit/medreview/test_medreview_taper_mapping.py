"""Taper plans as FHIR: every proposed step reads back as the same OME, and the plan round-trips."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.medreview.fhir_mapping import (
    Decision,
    order_from_proposal,
    outcome_of,
    policy_of,
    step_activity,
    step_proposal,
    steps_of,
    taper_careplan,
)
from services.medreview.ome import oral_morphine_equivalent
from services.medreview.taper import StepAction, StepBasis, TaperPolicy, plan_taper, regimen_from_ome
from shared.fhir import validate_resource
from shared.terminology import load_product_catalogue

START = date(2026, 3, 2)
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def request(name: str, dosage: str, code: str | None = None) -> dict[str, object]:
    concept: dict[str, object] = {"text": name}
    if code:
        concept["coding"] = [{"system": "https://dmd.nhs.uk", "code": code}]
    return {
        "resourceType": "MedicationRequest",
        "id": "current",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": concept,
        "dosageInstruction": [{"text": dosage}],
    }


REGIMENS = [
    pytest.param(
        request("Morphine sulfate 60mg modified-release tablets", "one twice a day"), id="morphine-mr"
    ),
    pytest.param(request("Co-codamol 30mg/500mg tablets", "two tablets four times a day"), id="co-codamol"),
    pytest.param(
        request("Buprenorphine 20micrograms/hour seven day patches", "apply one patch every 7 days"),
        id="buprenorphine-patch",
    ),
    pytest.param(
        request("Fentanyl 100micrograms/hour transdermal patches", "apply one patch every 72 hours"),
        id="fentanyl-patch",
    ),
    pytest.param(request("Oxycodone 40mg modified-release tablets", "one twice a day"), id="oxycodone-mr"),
    pytest.param(request("Tramadol 50mg capsules", "two capsules four times a day"), id="tramadol"),
]


@pytest.mark.parametrize("current", REGIMENS)
def test_every_proposed_step_reads_back_as_the_ome_the_planner_gave_it(current: dict[str, object]) -> None:
    result = oral_morphine_equivalent([current])
    [item] = regimen_from_ome(result)
    product = result.medications[0].identified.product  # type: ignore[union-attr]
    assert product is not None
    family = load_product_catalogue().family_of(product)
    plan = plan_taper([item], START, TaperPolicy(step_basis=StepBasis.CURRENT))
    assert plan.steps
    for step in plan.steps:
        if step.action is StepAction.HOLD:
            continue
        proposal = step_proposal(
            step.dose,
            current=product,
            family=family,
            start=step.date,
            patient="Patient/p1",
            careplan="CarePlan/c1",
            authored=NOW,
            note="step",
        )
        validate_resource(proposal, "MedicationRequest")
        if step.action is StepAction.STOP:
            assert proposal["doNotPerform"] is True
            continue
        read_back = oral_morphine_equivalent([proposal])
        assert not read_back.incomplete, read_back.not_computable
        assert read_back.total_mg_per_day == step.dose.ome_mg_per_day.quantize(Decimal("0.01"))


def test_a_fentanyl_dose_of_two_patch_strengths_is_named_by_its_total_and_worn_as_one() -> None:
    current = request("Fentanyl 100micrograms/hour transdermal patches", "apply one patch every 72 hours")
    result = oral_morphine_equivalent([current])
    product = result.medications[0].identified.product  # type: ignore[union-attr]
    assert product is not None
    plan = plan_taper(regimen_from_ome(result), START)
    mixed = next(s for s in plan.steps if len(s.dose.units) > 1)
    proposal = step_proposal(
        mixed.dose,
        current=product,
        family=load_product_catalogue().family_of(product),
        start=mixed.date,
        patient="Patient/p1",
        careplan="CarePlan/c1",
        authored=NOW,
        note="step",
    )
    text = proposal["medicationCodeableConcept"]["text"]
    assert text.startswith(f"Fentanyl {mixed.dose.daily_dose.normalize():f}micrograms/hour")
    assert "worn together" in text and "coding" not in proposal["medicationCodeableConcept"]


def test_the_careplan_keeps_its_policy_baseline_and_steps_for_a_replan() -> None:
    current = request("Morphine sulfate 60mg modified-release tablets", "one twice a day")
    result = oral_morphine_equivalent([current])
    policy = TaperPolicy(
        step_percent=Decimal("7.5"),
        interval_days=21,
        target_mg_per_day=Decimal(30),
        slow_below_percent=None,
        order=("morphine",),
    )
    plan = plan_taper(regimen_from_ome(result), START, policy)
    activities = [
        step_activity(
            s,
            item="MedicationRequest/current",
            proposal=None if s.action is StepAction.HOLD else f"MedicationRequest/p{s.number}",
            description=f"step {s.number}",
            product={"text": "Morphine"},
        )
        for s in plan.steps
    ]
    careplan = {
        **taper_careplan(plan, patient="Patient/p1", created=NOW, activities=activities, description="d"),
        "id": "c1",
    }
    validate_resource(careplan, "CarePlan")
    assert policy_of(careplan) == (policy, Decimal(120))
    steps = steps_of(careplan)
    assert [(s.number, s.date, s.total) for s in steps] == [
        (s.number, s.date, s.total_ome_mg_per_day) for s in plan.steps
    ]
    assert all(s.pending and not s.approved for s in steps)
    assert careplan["status"] == "draft"
    assert careplan["category"][0]["coding"][0]["code"] == "medication-review"


def test_an_order_is_based_on_its_proposal_and_replaces_the_prior_prescription() -> None:
    proposal = {
        "resourceType": "MedicationRequest",
        "id": "prop1",
        "meta": {"versionId": "1"},
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": "Morphine"},
        "basedOn": [{"reference": "CarePlan/c1"}],
    }
    order = order_from_proposal(proposal, prior="MedicationRequest/current", authored=NOW, requester=None)
    validate_resource(order, "MedicationRequest")
    assert (order["intent"], order["status"]) == ("order", "active")
    assert order["basedOn"][0] == {"reference": "MedicationRequest/prop1"}
    assert order["priorPrescription"] == {"reference": "MedicationRequest/current"}
    statement = order_from_proposal(proposal, prior="MedicationStatement/ms", authored=NOW, requester=None)
    assert "priorPrescription" not in statement  # R4 only lets a MedicationRequest be a prior prescription


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ({"status": "completed", "businessStatus": {"text": "approved"}}, (Decision.APPROVED, None)),
        (
            {"status": "completed", "businessStatus": {"coding": [{"code": "approved"}]}},
            (Decision.APPROVED, None),
        ),
        (
            {
                "status": "rejected",
                "businessStatus": {"text": "declined"},
                "statusReason": {"text": "too fast"},
            },
            (Decision.DECLINED, "too fast"),
        ),
        (
            {"status": "rejected", "statusReason": {"coding": [{"display": "Patient unwell"}]}},
            (Decision.DECLINED, "Patient unwell"),
        ),
        ({"status": "completed"}, None),
        ({"status": "in-progress", "businessStatus": {"text": "approved"}}, None),
    ],
)
def test_the_gps_decision_is_read_from_the_completed_task(
    task: dict[str, object], expected: tuple[Decision, str | None] | None
) -> None:
    outcome = outcome_of(task)
    assert (None if outcome is None else (outcome.decision, outcome.reason)) == expected
