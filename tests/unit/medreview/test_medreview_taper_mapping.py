"""Taper plans as FHIR: every proposed step reads back as the same OME, and the plan round-trips."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.medreview.domain.ome import oral_morphine_equivalent
from services.medreview.domain.taper import (
    ItemDose,
    StepAction,
    StepBasis,
    TaperPlan,
    TaperPolicy,
    TaperStep,
    plan_taper,
    regimen_from_ome,
)
from services.medreview.fhir_mapping import (
    Decision,
    conformant,
    order_from_proposal,
    outcome_of,
    policy_of,
    step_activity,
    step_marks,
    step_proposal,
    step_reason,
    steps_of,
    taper_bundle,
    taper_careplan,
)
from shared.contracts import taper_parts
from shared.fhir import validate_resource
from shared.terminology import load_product_catalogue
from tests.support.invariants import assert_invariants, cpl3_violations

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


@pytest.mark.parametrize(
    ("current", "hours"),
    [
        # dm+d and the SmPCs: fentanyl matrix patches are changed every 72 hours, BuTrans every 7 days
        (request("Fentanyl 100micrograms/hour transdermal patches", "apply one patch every 72 hours"), 72),
        (request("Buprenorphine 20micrograms/hour seven day patches", "apply one patch every 7 days"), 168),
    ],
)
def test_a_patch_steps_text_says_how_often_the_patch_is_changed(current: dict[str, Any], hours: int) -> None:
    """The text is what the GP reads and the label carries: "Apply 75 micrograms/hour: ... worn at once"
    said nothing of when to change it, though the timing did (a Schedule 2/3 patch's dose needs both)."""
    result = oral_morphine_equivalent([current])
    product = result.medications[0].identified.product  # type: ignore[union-attr]
    assert product is not None
    plan = plan_taper(regimen_from_ome(result), START)
    step = next(s for s in plan.steps if s.action is StepAction.REDUCE)
    proposal = step_proposal(
        step.dose,
        current=product,
        family=load_product_catalogue().family_of(product),
        start=step.date,
        patient="Patient/p1",
        careplan="CarePlan/c1",
        authored=NOW,
        note="step",
    )
    [dosage] = proposal["dosageInstruction"]
    assert dosage["text"].endswith(f"worn at once, changed every {hours} hours")
    assert dosage["timing"]["repeat"]["period"] == hours and dosage["timing"]["repeat"]["periodUnit"] == "h"


def _planned(policy: TaperPolicy) -> tuple[dict[str, Any], dict[str, dict[str, Any]], TaperPlan]:
    """A taper CarePlan ``c1`` for 60 mg MR morphine twice a day and its steps' proposals, by reference."""
    current = request("Morphine sulfate 60mg modified-release tablets", "one twice a day")
    result = oral_morphine_equivalent([current])
    plan = plan_taper(regimen_from_ome(result), START, policy)
    product = result.medications[0].identified.product  # type: ignore[union-attr]
    assert product is not None
    family = load_product_catalogue().family_of(product)
    requests: dict[str, dict[str, Any]] = {}
    activities = []
    for s in plan.steps:
        proposal = None if s.action is StepAction.HOLD else f"MedicationRequest/p{s.number}"
        if proposal:
            requests[proposal] = {
                **step_proposal(
                    s.dose,
                    current=product,
                    family=family,
                    start=s.date,
                    patient="Patient/p1",
                    careplan="CarePlan/c1",
                    authored=NOW,
                    note=f"step {s.number}",
                ),
                **step_marks(s, item="MedicationRequest/current", careplan="CarePlan/c1"),
                "id": f"p{s.number}",
            }
        activities.append(
            step_activity(
                s,
                item="MedicationRequest/current",
                proposal=proposal,
                description=f"step {s.number}",
                product={"text": "Morphine"},
            )
        )
    careplan = {
        **taper_careplan(plan, patient="Patient/p1", created=NOW, activities=activities, description="d"),
        "id": "c1",
    }
    return careplan, requests, plan


SLOW = TaperPolicy(
    step_percent=Decimal("7.5"),
    interval_days=21,
    target_mg_per_day=Decimal(30),
    slow_below_percent=None,
    order=("morphine",),
)


def test_the_careplan_keeps_its_policy_baseline_and_steps_for_a_replan() -> None:
    careplan, requests, plan = _planned(SLOW)
    validate_resource(careplan, "CarePlan")
    assert_invariants(careplan)
    assert policy_of(careplan) == (SLOW, Decimal(120))
    steps = steps_of(careplan, requests)
    assert [(s.number, s.date, s.total) for s in steps] == [
        (s.number, s.date, s.total_ome_mg_per_day) for s in plan.steps
    ]
    assert all(s.pending and not s.approved for s in steps)
    assert careplan["status"] == "draft"
    assert careplan["category"][0]["coding"][0]["code"] == "medication-review"
    with pytest.raises(ValueError, match="MedicationRequest/p1"):
        steps_of(careplan)  # a step is read from its MedicationRequest


def test_a_step_is_a_reference_to_its_proposal_which_carries_date_dose_number_and_status() -> None:
    careplan, requests, _ = _planned(SLOW)
    first = careplan["activity"][0]
    assert first == {"reference": {"reference": "MedicationRequest/p1", "display": "step 1"}}
    proposal = requests["MedicationRequest/p1"]
    validate_resource(proposal, "MedicationRequest")
    assert proposal["identifier"][0]["value"] == "c1-step-1"
    assert proposal["dispenseRequest"]["validityPeriod"]["start"] == START.isoformat()
    parts = {e["url"]: e for e in proposal["extension"][0]["extension"]}
    assert parts["number"]["valueInteger"] == 1 and parts["action"]["valueCode"] == "reduce"
    cancelled = {**proposal, "status": "cancelled", "statusReason": step_reason("declined", "Too fast")}
    [step] = steps_of({**careplan, "activity": [first]}, {"MedicationRequest/p1": cancelled})
    assert (step.status, step.reason, step.pending) == ("cancelled", "Too fast", False)
    ordered = {**proposal, "status": "completed"}
    [step] = steps_of({**careplan, "activity": [first]}, {"MedicationRequest/p1": ordered})
    assert step.approved


def test_a_hold_is_a_detail_without_a_reference() -> None:
    dose = ItemDose(
        "MedicationRequest/current", "morphine", Decimal(100), "mg/day", ((Decimal(50), 2),), Decimal(100)
    )
    hold = TaperStep(
        number=3,
        date=START,
        action=StepAction.HOLD,
        dose=dose,
        reduction_mg_per_day=Decimal(0),
        total_ome_mg_per_day=Decimal(100),
        regimen=(dose,),
    )
    activity = step_activity(
        hold, item="MedicationRequest/current", proposal=None, description="hold", product={"text": "M"}
    )
    assert "reference" not in activity and activity["detail"]["status"] == "not-started"
    careplan = {"resourceType": "CarePlan", "status": "draft", "intent": "plan", "activity": [activity]}
    assert_invariants(careplan)
    [step] = steps_of(careplan)
    assert (step.number, step.action, step.date, step.proposal) == (3, "hold", START, None)


def test_the_taper_bundle_holds_the_plan_and_each_steps_proposal_in_order() -> None:
    careplan, requests, _ = _planned(SLOW)
    bundle = taper_bundle(careplan, requests)
    validate_resource(bundle, "Bundle")
    assert_invariants(bundle)
    assert [e["fullUrl"] for e in bundle["entry"]] == [
        "CarePlan/c1",
        *(a["reference"]["reference"] for a in careplan["activity"] if "reference" in a),
    ]
    assert taper_parts(bundle) == (careplan, requests)
    assert steps_of(bundle) == steps_of(careplan, requests)


def test_a_plan_stored_before_cpl3_reads_the_same_and_is_made_conformant() -> None:
    careplan, requests, _ = _planned(SLOW)
    steps = steps_of(careplan, requests)
    legacy_requests = {
        ref: {k: v for k, v in r.items() if k not in ("identifier", "extension")}
        for ref, r in requests.items()
    }
    legacy = {**careplan, "activity": []}
    for step, activity in zip(steps, careplan["activity"], strict=True):
        if "reference" not in activity:
            legacy["activity"].append(activity)
            continue
        request = requests[activity["reference"]["reference"]]
        legacy["activity"].append(
            {
                "extension": request["extension"],
                "reference": {"reference": activity["reference"]["reference"]},
                "detail": {
                    "status": "not-started",
                    "scheduledPeriod": {"start": step.date.isoformat()},
                    "description": step.description,
                },
            }
        )
    assert cpl3_violations(legacy)
    assert steps_of(legacy, legacy_requests) == steps
    plan, changed = conformant(legacy, legacy_requests)
    assert_invariants(plan)
    assert {f"MedicationRequest/{r['id']}": r for r in changed} == requests
    assert (
        steps_of(plan, {**legacy_requests, **{f"MedicationRequest/{r['id']}": r for r in changed}}) == steps
    )
    assert conformant(plan, requests) == (plan, [])


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
