"""Taper plans end to end at the handler seam: proposal -> GP Task -> approval (order, prescription.changed)
or decline; a withdrawal score pauses and re-plans slower; nothing ever raises a dose."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.medreview.domain.ome import oral_morphine_equivalent
from services.medreview.domain.taper import TaperPolicy
from services.medreview.fhir_mapping import REPLACES_URL, Decision, Outcome, steps_of
from services.medreview.workflow import (
    decide_step,
    on_medication_list_synced,
    on_patient_discharged,
    on_task_completed,
    on_withdrawal_score,
    propose_taper,
    resume_taper,
    review_patient,
    step_back,
)
from shared.contracts import (
    GP_TASK_COMPLETED_V1,
    MEDICATION_LIST_SYNCED_V1,
    PATIENT_DISCHARGED_V1,
    taper_parts,
)
from shared.core.principal import Tenancy
from shared.fhir import Conflict, Unprocessable, validate_resource
from tests.support.invariants import assert_invariants
from tests.unit.medreview.medreview_support import (
    NOW,
    Harness,
    database,
    medicine,
    patient_bundle,
    withdrawal_score,
)

MORPHINE_60_MR = "Morphine sulfate 60mg modified-release tablets"
BASE = "https://pain-review.example.org/fhir"
START = date(2026, 3, 2)
THRESHOLD = Decimal(11)


@pytest.fixture
def mr(medreview_db_url: str) -> Iterator[Harness]:
    harness = Harness(database(medreview_db_url))
    gp = patient_bundle("p1", medicine("mor", MORPHINE_60_MR, "one twice a day"))  # 120 mg OME a day
    harness.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp)
    yield harness
    harness.engine.dispose()


def propose(mr: Harness, policy: TaperPolicy | None = None) -> dict[str, Any]:
    return mr.api(
        lambda s: propose_taper(s, "Patient/p1", policy or TaperPolicy(), START, "uk-opioids-aware")
    )


def open_task(mr: Harness) -> dict[str, Any]:
    [task] = mr.search("Task", ("status", "requested"), ("code", "approve-taper-step"))
    return task


def gp_answers(
    mr: Harness, task: dict[str, Any], status: str, business: str, reason: str | None = None
) -> None:
    answer = {**task, "status": status, "businessStatus": {"text": business}}
    if reason:
        answer["statusReason"] = {"text": reason}
    mr.consume(on_task_completed, GP_TASK_COMPLETED_V1, answer, subject=f"Task/{task['id']}")


def ome_of(*resources: dict[str, Any]) -> Decimal:
    return oral_morphine_equivalent([{**r, "status": "active"} for r in resources]).total_mg_per_day


def test_a_step_in_several_strengths_is_one_proposal_per_strength_sharing_a_group(mr: Harness) -> None:
    """Morphine MR 60 mg twice a day (120 mg OME); step 1 is 110 mg a day, 55 mg twice a day, which only
    30 + 15 + 10 mg MR tablets make (dm+d strengths 5, 10, 15, 30, 60, 100, 200 mg): three proposals, one per
    strength, each one tablet twice a day, 28 tablets for 14 days, sharing the step's groupIdentifier; read
    back one by one they add up to the step's 110 mg."""
    careplan = propose(mr)
    first = mr.steps(careplan)[0]
    assert len(first.proposals) == 3
    proposals = [mr.read(ref) for ref in first.proposals]
    names = [p["medicationCodeableConcept"]["text"] for p in proposals]
    assert names == [f"Morphine {n}mg modified-release tablets" for n in (30, 15, 10)]
    group = {"system": f"{BASE}/Id/taper-step", "value": f"{careplan['id']}-step-1"}
    for proposal, mg in zip(proposals, (30, 15, 10), strict=True):
        [dosage] = proposal["dosageInstruction"]
        assert proposal["groupIdentifier"] == group
        assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 1, "unit": "tablet"}}]
        assert dosage["timing"]["repeat"]["frequency"] == 2
        assert dosage["text"].startswith(f"{mg} mg morphine twice a day ({2 * mg} mg a day)")
        assert proposal["dispenseRequest"]["quantity"] == {"value": 28, "unit": "tablet"}
        assert ome_of(proposal) == 2 * mg
    assert ome_of(*proposals) == 110


def test_a_proposal_is_a_draft_careplan_of_proposed_steps_with_one_task_for_the_first(mr: Harness) -> None:
    """Morphine MR 60 mg twice a day (120 mg OME), every 10 mg a day: 110 (due 12, 108 wanted), 100 (due
    14, 96 wanted), 80 (due 16, 84 wanted, 26 left in the cap: nearer than 90), worked in the late-approval
    test below."""
    careplan = propose(mr)
    assert (careplan["status"], careplan["intent"]) == ("draft", "plan")
    steps = mr.steps(careplan)
    assert [s.total for s in steps[:3]] == [110, 100, 80] and steps[-1].total == 0
    proposals = [mr.read(s.proposal) for s in steps if s.proposal]
    assert all((p["intent"], p["status"]) == ("proposal", "draft") for p in proposals)
    assert proposals[0]["identifier"] == [
        {"system": f"{BASE}/Id/taper-step", "value": f"{careplan['id']}-step-1"}
    ]
    assert proposals[0]["dispenseRequest"]["validityPeriod"]["start"] == START.isoformat()
    assert careplan["activity"][0] == {
        "reference": {"reference": steps[0].proposal, "display": steps[0].description}
    }
    types = [t for t, _ in mr.events()]
    assert types == ["taper.proposed.v1", "gp.task-requested.v1"]
    [(_, proposed)] = mr.events("taper.proposed.v1")
    plan, requests = taper_parts(proposed)
    assert proposed["type"] == "collection" and plan["id"] == careplan["id"]
    assert list(requests) == [ref for s in steps for ref in s.proposals]  # a step's orders follow it
    assert steps_of(proposed) == steps
    [(_, task)] = mr.events("gp.task-requested.v1")
    assert task["focus"] == {"reference": steps[0].proposal} and task["for"] == {"reference": "Patient/p1"}
    assert task["code"]["coding"][0]["code"] == "approve-taper-step"
    assert task["owner"]["identifier"]["value"] == "A81001" and task["status"] == "requested"
    with pytest.raises(Conflict):
        propose(mr)  # one open plan at a time


def test_the_gps_approval_orders_the_step_and_announces_the_prescription_change(mr: Harness) -> None:
    careplan = propose(mr)
    task = open_task(mr)
    gp_answers(mr, task, "completed", "approved")
    [(_, change)] = mr.events("prescription.changed.v1")
    *orders, replaced = (e["resource"] for e in change["entry"])
    order = orders[0]
    first = mr.steps(careplan)[0]
    assert "identifier" not in order and "extension" not in order  # the step's marks stay on the proposal
    assert len(orders) == 3  # 30 + 15 + 10 mg MR tablets: one order per strength, each replacing "mor"
    for each, proposal in zip(orders, first.proposals, strict=True):
        assert (each["intent"], each["status"]) == ("order", "active")
        assert each["priorPrescription"] == {"reference": "MedicationRequest/mor"}
        assert each["basedOn"][0] == {"reference": proposal}
        assert each["groupIdentifier"] == orders[0]["groupIdentifier"]
    assert (replaced["id"], replaced["status"]) == ("mor", "stopped")
    assert ome_of(*orders) == 110
    [(_, approved)] = mr.events("taper.approved.v1")
    plan, requests = taper_parts(approved)
    assert plan["status"] == "active"
    step = steps_of(approved)[0]
    assert (step.status, step.outcome) == ("completed", f"MedicationRequest/{order['id']}")
    assert step.outcomes == tuple(f"MedicationRequest/{o['id']}" for o in orders)
    assert requests[first.proposal or ""]["status"] == "completed"
    assert "Approved by the GP" in plan["activity"][0]["progress"][0]["text"]
    assert mr.read(f"Task/{task['id']}")["status"] == "completed"
    second = open_task(mr)  # the next step is asked for
    assert second["focus"] == {"reference": mr.steps(careplan)[1].proposal}
    gp_answers(mr, task, "completed", "approved")  # a redelivered answer changes nothing
    assert len(mr.events("prescription.changed.v1")) == 1


def test_a_twice_daily_mr_opioid_stays_twice_daily_in_whole_tablets(mr: Harness) -> None:
    """Morphine MR 60 mg twice a day: every step is two equal doses a day of whole MR tablets (never "in
    divided doses"), and reads back as the step's total."""
    careplan = propose(mr)
    checked = 0
    for step in mr.steps(careplan):
        if step.proposal is None or step.action == "stop":
            continue
        proposals = [mr.read(ref) for ref in step.proposals]  # one per strength
        for proposal in proposals:
            [dosage] = proposal["dosageInstruction"]
            repeat = dosage["timing"]["repeat"]
            assert repeat["frequency"] == 2 and repeat["periodUnit"] == "d"
            assert "twice a day" in dosage["text"] and "divided" not in dosage["text"]
            assert "Controlled drug, Schedule 2. Supply " in dosage["text"]  # morphine: Schedule 2
            count = dosage["doseAndRate"][0]["doseQuantity"]["value"]  # n tablets a dose, 2 a day, 14 days
            assert proposal["dispenseRequest"]["quantity"] == {"value": count * 2 * 14, "unit": "tablet"}
            assert proposal["dispenseRequest"]["expectedSupplyDuration"]["value"] == 14
            checked += 1
        assert ome_of(*proposals) == step.total
    assert checked


def test_the_next_order_replaces_the_previous_order_not_the_original(mr: Harness) -> None:
    propose(mr)
    gp_answers(mr, open_task(mr), "completed", "approved")
    gp_answers(mr, open_task(mr), "completed", "approved")
    first, second = (data["entry"] for _, data in mr.events("prescription.changed.v1"))
    # step 1: 30 + 15 + 10 mg twice a day (three orders); step 2: 100 mg a day is 50 mg a dose, which takes
    # three MR tablets (no 50 mg in dm+d): three orders again, each replacing all three of step 1
    ordered = [e["resource"] for e in first if e["resource"]["status"] == "active"]
    replacing = [e["resource"] for e in second if e["resource"]["status"] == "active"]
    named = [{"reference": f"MedicationRequest/{o['id']}"} for o in ordered]
    for order in replacing:
        assert order["priorPrescription"] == named[0]
        assert [e["valueReference"] for e in order["extension"] if e["url"] == REPLACES_URL] == named
    stopped = [e["resource"]["id"] for e in second if e["resource"]["status"] == "stopped"]
    assert stopped == [o["id"] for o in ordered]
    assert ome_of(*replacing) == 100


def _inputs(task: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in task["input"]:
        value = next(v for k, v in part.items() if k.startswith("value"))
        found.setdefault(part["type"]["text"], []).append(value)
    return found


def test_the_approval_task_shows_the_gp_current_against_proposed_ome_flags_agreement_and_next_review(
    mr: Harness,
) -> None:
    """Morphine MR 60 mg twice a day is 120 mg OME a day (factor 1); step 1 takes 10 mg off (10% of 120 ->
    110); the next review is step 2's date, 14 days on (16 March); the review before the plan flagged the
    120 mg high dose; the patient agreed on 1 March."""
    mr.api(lambda s: review_patient(s, "Patient/p1", "uk-opioids-aware"))
    mr.api(
        lambda s: propose_taper(
            s, "Patient/p1", TaperPolicy(), START, "uk-opioids-aware", agreed="2026-03-01T10:00:00Z"
        )
    )
    task = open_task(mr)
    parts = _inputs(task)
    assert parts["current-prescription"] == [f"{MORPHINE_60_MR}: one twice a day"]
    # 110 mg a day twice a day is 55 mg a dose; the only three MR tablets making 55 are 30 + 15 + 10: one
    # prescription per strength, each one tablet twice a day; for 14 days 28 of each; morphine is a Schedule 2
    # controlled drug.
    assert parts["proposed-prescription"] == [
        "; ".join(
            f"Morphine {mg}mg modified-release tablets: {mg} mg morphine twice a day ({2 * mg} mg a day): "
            f"1 x {mg} mg tablet each dose. Controlled drug, Schedule 2. Supply 28 (twenty-eight) tablets of "
            f"Morphine {mg}mg modified-release tablets (14 days)"
            for mg in (30, 15, 10)
        )
    ]
    assert [q["value"] for q in parts["ome-before"] + parts["ome-after"]] == [120, 110]
    assert parts["flag"] == ["High opioid dose: total oral morphine equivalent 120.00 mg/day"]
    assert parts["patient-agreement"] == ["2026-03-01T10:00:00Z"]
    assert parts["next-review"] == ["2026-03-16"]
    summary = parts["summary"][0]
    assert "Now: Morphine sulfate 60mg modified-release tablets: one twice a day." in summary
    assert "Oral morphine equivalent 120 -> 110 mg a day." in summary
    assert "Patient agreed the plan on 2026-03-01. Next review 2026-03-16." in summary
    gp_answers(mr, task, "completed", "approved")
    second = _inputs(open_task(mr))  # step 2 replaces the step-1 order: the GP sees that as current
    assert second["current-prescription"][0].startswith("Morphine 30mg modified-release tablets: 30 mg")
    assert "Morphine 10mg modified-release tablets: 10 mg" in second["current-prescription"][0]
    assert [q["value"] for q in second["ome-before"] + second["ome-after"]] == [110, 100]


def test_each_approval_task_is_for_the_practice_a_set_number_of_days_before_its_step(mr: Harness) -> None:
    """The default lead is 7 days (MEDREVIEW_APPROVAL_LEAD_DAYS); a step already due is asked for today."""
    propose(mr)
    first = open_task(mr)
    assert first["executionPeriod"] == {"start": "2026-03-02"}  # step 1 is dated today
    assert first["restriction"]["period"]["start"] == "2026-03-02"
    gp_answers(mr, first, "completed", "approved")
    second = open_task(mr)
    assert second["restriction"]["period"]["start"] == "2026-03-16"  # step 2, two weeks on
    assert second["executionPeriod"] == {"start": "2026-03-09"}  # 16 March less 7 days


def test_a_late_approval_starts_the_step_that_day_and_moves_every_later_step_as_far(mr: Harness) -> None:
    """Morphine MR 60 mg twice a day (120 mg OME), whole MR tablets, at most three a dose: every 10 mg a day
    from 0 to 120. UK defaults: 12 mg OME due every 14 days (6 below 36), at most 36 in any 28 days; while
    something is due a reduction to the nearest dose to (dose - due) the cap allows (the larger on a tie),
    taken off what is due (below zero: ahead of the pace, a hold until it has caught up). Due before the
    step, the dose wanted, the choice (the cap left), due after: 2 Mar: 12, 108, 110 (36), 2. 16 Mar: 14,
    96, 100 (26), 4. 30 Mar: 16, 84, 80 (26; 90 is further), -4. 13 Apr: 8, 72, 70 (16), -2. 27 Apr: 10,
    60, 60 (26), 0. 11 May: 12, 48, 50 (26), 2. 25 May: 14, 36, 40 (26; 30 is further), 4. 8 Jun: 40 >=
    36, 16, 24, 20 (26), -4. 22 Jun: 20 < 36, halved: 2, 18, 10 (16; 0 takes 20), -8. 6 Jul: -2, 0 within
    the cap: held (pace). 20 Jul: 4, stop. The hold (step 10, no MedicationRequest: its date is its
    CarePlan activity's) moves with the rest, read from the CarePlan as stored."""
    careplan = propose(mr)
    gp_answers(mr, open_task(mr), "completed", "approved")
    before = mr.steps(mr.read(f"CarePlan/{careplan['id']}"))
    assert [(st.action, st.total) for st in before] == [
        *(("reduce", t) for t in (110, 100, 80, 70, 60, 50, 40, 20, 10)),
        ("hold", 10),
        ("stop", 0),
    ]
    assert [st.date for st in before[1:4]] == [date(2026, 3, 16), date(2026, 3, 30), date(2026, 4, 13)]
    answer = {**open_task(mr), "status": "completed", "businessStatus": {"text": "approved"}}
    late = NOW + timedelta(days=20)  # 22 March: step 2 was dated 16 March, six days late
    mr.consume(on_task_completed, GP_TASK_COMPLETED_V1, answer, subject=f"Task/{answer['id']}", time=late)
    after = mr.steps(mr.read(f"CarePlan/{careplan['id']}"))
    assert after[9].date == date(2026, 7, 12)  # the hold of 6 July, six days on
    assert after[1].date == date(2026, 3, 22) and after[1].status == "completed"
    # step 2 (100 mg a day, 50 mg a dose) takes three MR tablets: every one of its orders moved
    assert len(after[1].proposals) > 1
    for ref in after[1].proposals:
        assert mr.read(ref)["dispenseRequest"]["validityPeriod"]["start"] == "2026-03-22"
    later = after[2].proposals[-1]
    assert mr.read(later)["dispenseRequest"]["validityPeriod"]["start"] == after[2].date.isoformat()
    assert [st.date for st in after[2:4]] == [date(2026, 4, 5), date(2026, 4, 19)]
    assert [st.date for st in after[1:]] == [st.date + timedelta(days=6) for st in before[1:]]
    [_, (_, change)] = mr.events("prescription.changed.v1")
    order = change["entry"][0]["resource"]
    assert order["dispenseRequest"]["validityPeriod"]["start"] == "2026-03-22"
    plan = mr.read(f"CarePlan/{careplan['id']}")
    assert "6 day(s) after its date" in plan["activity"][1]["progress"][0]["text"]


def test_going_back_a_step_for_a_flare_asks_the_gp_to_review_and_never_exceeds_the_starting_dose(
    mr: Harness,
) -> None:
    """120 -> 110 -> 100 mg OME a day approved; a flare: back to the dose before step 2 (110 = 100 + the 10
    step 2 took off, below the 120 the plan started from), proposed for the GP's review; approved, it
    replaces the step-2 order and the plan stays on hold until resumed."""
    careplan = propose(mr)

    def back_a_step(why: str, on: date) -> dict[str, Any]:
        stored = mr.read(f"CarePlan/{careplan['id']}")
        return mr.api(lambda s: step_back(s, stored, why=why, on=on))

    with pytest.raises(Conflict):  # nothing approved yet: nothing to go back from
        back_a_step("pain flare", START)
    gp_answers(mr, open_task(mr), "completed", "approved")
    gp_answers(mr, open_task(mr), "completed", "approved")
    first_orders, second_orders = (
        [e["resource"] for e in d["entry"] if e["resource"]["status"] == "active"]
        for _, d in mr.events("prescription.changed.v1")
    )
    on = date(2026, 3, 20)
    plan = back_a_step("Pain flare", on)
    assert plan["status"] == "on-hold"
    steps = mr.steps(plan)
    back = steps[-1]
    assert (back.action, back.total, back.date, back.status) == ("back", 110, on, "not-started")
    assert back.total <= 120  # never above the starting dose
    assert not any(st.pending for st in steps[:-1])  # the rest withdrawn
    assert not mr.search("Task", ("status", "requested"), ("code", "approve-taper-step"))
    [review] = mr.search("Task", ("status", "requested"), ("code", "review"))
    assert review["focus"] == {"reference": back.proposal}
    proposals = [mr.read(ref) for ref in back.proposals]  # the step-1 orders again, one per strength
    assert len(proposals) == len(first_orders) == 3
    for proposal, first_order in zip(proposals, first_orders, strict=True):
        assert proposal["medicationCodeableConcept"] == first_order["medicationCodeableConcept"]
        assert proposal["dosageInstruction"][0]["text"] == first_order["dosageInstruction"][0]["text"]
    with pytest.raises(Conflict):  # one step back at a time
        back_a_step("again", on)
    gp_answers(mr, review, "completed", "approved")
    *_, (_, change) = mr.events("prescription.changed.v1")
    orders = [e["resource"] for e in change["entry"] if e["resource"]["status"] == "active"]
    named = [{"reference": f"MedicationRequest/{o['id']}"} for o in second_orders]
    for order in orders:  # each replaces every step-2 order
        assert order["priorPrescription"] == named[0]
        assert [e["valueReference"] for e in order["extension"] if e["url"] == REPLACES_URL] == named
    assert ome_of(*orders) == 110
    assert mr.read(f"CarePlan/{careplan['id']}")["status"] == "on-hold"


def _reread(mr: Harness, hours: int, *resources: dict[str, Any]) -> None:
    """The GP record read again after a write-back (``medication.list-synced``), ``hours`` after NOW."""
    mr.consume(
        on_medication_list_synced,
        MEDICATION_LIST_SYNCED_V1,
        patient_bundle("p1", *resources),
        time=NOW + timedelta(hours=hours),
    )


def _mismatch_flags(mr: Harness) -> list[dict[str, Any]]:
    return [
        i
        for i in mr.search("DetectedIssue", ("patient", "Patient/p1"))
        if i["code"]["coding"][0]["code"] == "opioid-authorisations-mismatch"
    ]


def test_the_gp_record_read_after_a_write_back_must_hold_one_active_authorisation_per_opioid(
    mr: Harness,
) -> None:
    """Step 1 (110 mg a day) is three orders, one per strength (30 + 15 + 10 mg MR tablets twice a day): one
    set of authorisations for morphine. Replaced as asked (the old authorisation stopped, the three new ones
    active): nothing to do. The old one still active beside them: a review Task to the practice and a
    high-severity flag naming all four, once. Only part of the set written is a mismatch too."""
    careplan = propose(mr)
    gp_answers(mr, open_task(mr), "completed", "approved")
    stopped = medicine("mor", MORPHINE_60_MR, "one twice a day") | {"status": "stopped"}
    new = [
        medicine(
            f"AUTH-{mg}",
            f"Morphine {mg}mg modified-release tablets",
            f"{mg} mg morphine twice a day ({2 * mg} mg a day): 1 x {mg} mg tablet each dose",
            priorPrescription={"reference": "MedicationRequest/mor"},
        )
        for mg in (30, 15, 10)
    ]
    _reread(mr, 1, stopped, *new)
    assert not _mismatch_flags(mr)
    assert not mr.search("Task", ("code", "review"))
    still_active = medicine("mor", MORPHINE_60_MR, "one twice a day")
    _reread(mr, 2, still_active, *new)
    [flag] = _mismatch_flags(mr)
    assert flag["severity"] == "high"
    assert {i["reference"] for i in flag["implicated"]} == {
        "MedicationRequest/mor",
        *(f"MedicationRequest/AUTH-{mg}" for mg in (30, 15, 10)),
    }
    assert "morphine: 4 active authorisation(s) in the GP record, 3 expected" in flag["code"]["text"]
    [task] = mr.search("Task", ("code", "review"), ("status", "requested"))
    assert task["focus"] == {"reference": f"CarePlan/{careplan['id']}"}
    assert [t for t, d in mr.events("gp.task-requested.v1") if d["id"] == task["id"]]
    _reread(mr, 3, still_active, *new)  # read again before the practice answered: no second Task or flag
    assert len(mr.search("Task", ("code", "review"))) == 1 and len(_mismatch_flags(mr)) == 1


def test_a_step_in_several_strengths_only_partly_written_back_is_a_mismatch(mr: Harness) -> None:
    """Step 1's three orders (30 + 15 + 10 mg MR tablets), of which the GP record holds only the 30 mg: the
    patient would get 60 of the 110 mg a day agreed. 1 active authorisation, 3 expected: flagged."""
    propose(mr)
    gp_answers(mr, open_task(mr), "completed", "approved")
    stopped = medicine("mor", MORPHINE_60_MR, "one twice a day") | {"status": "stopped"}
    only = medicine(
        "AUTH-30",
        "Morphine 30mg modified-release tablets",
        "30 mg morphine twice a day (60 mg a day): 1 x 30 mg tablet each dose",
    )
    _reread(mr, 1, stopped, only)
    [flag] = _mismatch_flags(mr)
    assert "morphine: 1 active authorisation(s) in the GP record, 3 expected" in flag["code"]["text"]


def test_a_gp_record_read_before_any_step_was_written_back_is_not_reconciled(mr: Harness) -> None:
    propose(mr)
    twice = medicine("mor2", MORPHINE_60_MR, "one twice a day")
    _reread(mr, 1, medicine("mor", MORPHINE_60_MR, "one twice a day"), twice)
    assert not _mismatch_flags(mr) and not mr.search("Task", ("code", "review"))


def test_declining_a_step_in_several_strengths_cancels_every_one_of_its_proposals(mr: Harness) -> None:
    """Step 1 (30 + 15 + 10 mg MR tablets twice a day) declined: its three proposals are cancelled, and
    nothing is ordered."""
    careplan = propose(mr)
    first = mr.steps(careplan)[0]
    assert len(first.proposals) == 3
    task = open_task(mr)
    mr.api(lambda s: decide_step(s, task, Outcome(Decision.DECLINED, "Not this month")))
    assert [mr.read(ref)["status"] for ref in first.proposals] == ["cancelled"] * 3
    assert not mr.events("prescription.changed.v1")


def test_a_decline_records_the_gps_reason_and_ends_the_plan(mr: Harness) -> None:
    propose(mr)
    task = open_task(mr)
    closed = mr.api(lambda s: decide_step(s, task, Outcome(Decision.DECLINED, "Wait until after surgery")))
    assert (closed["status"], closed["businessStatus"]["text"]) == ("rejected", "declined")
    [(_, declined)] = mr.events("taper.declined.v1")
    plan, requests = taper_parts(declined)
    assert plan["status"] == "revoked"
    first, second = steps_of(declined)[:2]
    assert requests[first.proposal or ""]["statusReason"] == {
        "coding": [
            {
                "system": f"{BASE}/CodeSystem/taper-step-status-reason",
                "code": "declined",
                "display": "Declined by the GP",
            }
        ],
        "text": "Wait until after surgery",
    }
    assert requests[second.proposal or ""]["statusReason"]["coding"][0]["code"] == "withdrawn"
    assert first.status == "cancelled" and all(not s.pending for s in steps_of(declined))
    assert plan["activity"][0]["progress"][-1]["text"] == "Declined: Wait until after surgery"
    assert mr.read(first.proposal or "")["status"] == "cancelled"
    assert mr.events("prescription.changed.v1") == []


def test_a_high_withdrawal_score_pauses_and_replans_slower_from_the_current_dose(mr: Harness) -> None:
    careplan = propose(mr)
    gp_answers(mr, open_task(mr), "completed", "approved")  # 120 -> 110
    pending_task = open_task(mr)
    paused = mr.api(lambda s: on_withdrawal_score(s, withdrawal_score("p1", 14), THRESHOLD))
    [plan] = paused
    assert plan["status"] == "on-hold" and "withdrawal score 14" in plan["note"][-1]["text"]
    assert [t for t, _ in mr.events()][-2:] == ["taper.paused.v1", "gp.task-requested.v1"]
    assert mr.read(f"Task/{pending_task['id']}")["status"] == "cancelled"
    steps = mr.steps(plan)
    old = [s for s in steps if s.number <= len(careplan["activity"])]
    new = [s for s in steps if s.number > len(careplan["activity"])]
    assert [s.status for s in old[:2]] == ["completed", "cancelled"] and not any(s.pending for s in old)
    assert "Re-planned after a pause" in (old[1].reason or "")
    [(_, announced)] = mr.events("taper.paused.v1")
    assert steps_of(announced) == steps
    assert new[0].date == date(2026, 3, 20)
    assert {(b.date - a.date).days for a, b in itertools.pairwise(new)} == {28}  # twice the 14-day interval
    totals = [Decimal(110), *(s.total for s in new)]
    assert all(b <= a for a, b in itertools.pairwise(totals))  # never above the current dose
    for step in new:
        if step.proposal:
            proposal = mr.read(step.proposal)
            assert proposal.get("doNotPerform") or ome_of(proposal) <= 110
    assert len(mr.search("Task", ("status", "requested"), ("code", "approve-taper-step"))) == 0


def test_a_score_below_the_threshold_or_no_running_plan_pauses_nothing(mr: Harness) -> None:
    assert mr.api(lambda s: on_withdrawal_score(s, withdrawal_score("p1", 20), THRESHOLD)) == []
    propose(mr)
    assert mr.api(lambda s: on_withdrawal_score(s, withdrawal_score("p1", 10), THRESHOLD)) == []
    prelim = {**withdrawal_score("p1", 30), "status": "preliminary"}
    assert mr.api(lambda s: on_withdrawal_score(s, prelim, THRESHOLD)) == []


def test_an_approval_for_a_step_the_pause_cancelled_orders_nothing(mr: Harness) -> None:
    propose(mr)
    task = open_task(mr)
    mr.api(lambda s: on_withdrawal_score(s, withdrawal_score("p1", 25), THRESHOLD))
    gp_answers(mr, task, "completed", "approved")
    assert mr.events("prescription.changed.v1") == []
    cancelled = mr.read(f"Task/{task['id']}")
    assert cancelled["status"] == "cancelled"
    with pytest.raises(Conflict):
        mr.api(lambda s: decide_step(s, cancelled, Outcome(Decision.APPROVED, None)))


def test_resuming_replans_from_that_day_and_asks_the_gp_for_the_next_step(mr: Harness) -> None:
    propose(mr)
    [plan] = mr.api(lambda s: on_withdrawal_score(s, withdrawal_score("p1", 15), THRESHOLD))
    resumed = mr.api(lambda s: resume_taper(s, plan, on=date(2026, 5, 4)), now=NOW + timedelta(days=60))
    assert resumed["status"] == "draft"  # no step was ever approved
    task = open_task(mr)
    first_pending = next(s for s in mr.steps(resumed) if s.pending)
    assert first_pending.date == date(2026, 5, 4) and task["focus"] == {"reference": first_pending.proposal}


def test_a_step_is_not_ordered_when_the_gp_record_now_shows_a_lower_dose(mr: Harness) -> None:
    propose(mr)
    task = open_task(mr)
    lower = patient_bundle(
        "p1", medicine("mor", "Morphine sulfate 30mg modified-release tablets", "one twice a day")
    )
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, lower, time=NOW + timedelta(hours=1))
    gp_answers(mr, task, "completed", "approved")
    assert mr.events("prescription.changed.v1") == []
    [(_, declined)] = mr.events("taper.declined.v1")
    assert "would not lower" in (steps_of(declined)[0].reason or "")


def test_a_regimen_with_a_dose_that_cannot_be_computed_is_not_tapered(mr: Harness) -> None:
    gp = patient_bundle(
        "p1",
        medicine("mor", MORPHINE_60_MR, "one twice a day"),
        medicine("oxy", "Oxycodone 10mg modified-release tablets", "as directed"),
    )
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW + timedelta(hours=1))
    with pytest.raises(Unprocessable, match="Oxycodone"):
        propose(mr)


def test_an_answer_that_lost_our_identifier_is_matched_by_the_task_id(mr: Harness) -> None:
    propose(mr)
    task = {k: v for k, v in open_task(mr).items() if k != "identifier"}
    gp_answers(mr, task, "completed", "approved")
    assert len(mr.events("prescription.changed.v1")) == 1


def test_a_task_completed_for_someone_elses_task_is_left_alone(mr: Harness) -> None:
    propose(mr)
    foreign = {"resourceType": "Task", "id": "careplan-task", "status": "completed", "intent": "order",
               "identifier": [{"system": "https://example.org/other", "value": "x"}]}  # fmt: skip
    mr.consume(on_task_completed, GP_TASK_COMPLETED_V1, foreign, subject="Task/careplan-task")
    assert mr.events("prescription.changed.v1") == [] and open_task(mr)["status"] == "requested"


def discharged(patient: str = "p1", end: str = "2026-04-30") -> dict[str, Any]:
    return {
        "resourceType": "EpisodeOfCare",
        "id": f"ep-{patient}",
        "status": "finished",
        "patient": {"reference": f"Patient/{patient}"},
        "period": {"start": "2026-01-05", "end": end},
    }


def test_a_discharge_completes_a_plan_with_an_ordered_step_and_withdraws_the_rest(mr: Harness) -> None:
    careplan = propose(mr)
    gp_answers(mr, open_task(mr), "completed", "approved")
    pending_task = open_task(mr)
    before = len(mr.events())
    mr.consume(on_patient_discharged, PATIENT_DISCHARGED_V1, discharged(), subject="EpisodeOfCare/ep-p1")
    plan = mr.read(f"CarePlan/{careplan['id']}")
    assert plan["status"] == "completed" and plan["period"]["end"] == "2026-04-30"
    assert "discharged from the service on 2026-04-30" in plan["note"][-1]["text"]
    assert_invariants(plan)
    steps = mr.steps(plan)
    assert steps[0].approved and not any(s.pending for s in steps)
    assert all("discharged" in (s.reason or "") for s in steps[1:])
    assert mr.read(steps[1].proposal or "")["statusReason"]["coding"][0]["code"] == "withdrawn"
    assert mr.read(f"Task/{pending_task['id']}")["status"] == "cancelled"
    assert len(mr.events()) == before  # recorded here; nothing announced
    mr.consume(on_patient_discharged, PATIENT_DISCHARGED_V1, discharged(), subject="EpisodeOfCare/ep-p1")
    assert mr.read(f"CarePlan/{careplan['id']}")["meta"]["versionId"] == plan["meta"]["versionId"]
    gp_answers(mr, pending_task, "completed", "approved")  # the GP answers the cancelled Task: no order
    assert len(mr.events("prescription.changed.v1")) == 1


def test_a_discharge_revokes_a_plan_never_approved_and_cancels_a_paused_plans_review(mr: Harness) -> None:
    careplan = propose(mr)
    mr.api(lambda s: on_withdrawal_score(s, withdrawal_score("p1", 14), THRESHOLD))
    [review] = mr.search("Task", ("status", "requested"), ("code", "review"))
    mr.consume(
        on_patient_discharged, PATIENT_DISCHARGED_V1, discharged(end=""), subject="EpisodeOfCare/ep-p1"
    )
    plan = mr.read(f"CarePlan/{careplan['id']}")
    assert plan["status"] == "revoked" and plan["period"]["end"] == NOW.date().isoformat()
    assert mr.read(f"Task/{review['id']}")["status"] == "cancelled"


def test_a_discharge_of_another_patient_leaves_the_plan_alone(mr: Harness) -> None:
    careplan = propose(mr)
    mr.consume(on_patient_discharged, PATIENT_DISCHARGED_V1, discharged("p2"), subject="EpisodeOfCare/ep-p2")
    assert mr.read(f"CarePlan/{careplan['id']}")["status"] == "draft"


def test_a_plan_stored_before_cpl3_is_made_conformant_when_next_changed(mr: Harness) -> None:
    careplan = propose(mr)
    steps = mr.steps(careplan)
    with mr.connection() as conn, conn.begin():  # the shape medreview stored before: reference and detail
        legacy = {**careplan, "activity": []}
        for step, activity in zip(steps, careplan["activity"], strict=True):
            if step.proposal is None:
                legacy["activity"].append(activity)
                continue
            request = mr.repo.read(conn, step.proposal, Tenancy({"A81001"}))
            legacy["activity"].append(
                {
                    "extension": request["extension"],
                    "reference": {"reference": step.proposal},
                    "detail": {
                        "status": "not-started",
                        "scheduledPeriod": {"start": step.date.isoformat()},
                        "description": step.description,
                    },
                }
            )
            old = {k: v for k, v in request.items() if k not in ("identifier", "extension")}
            mr.repo.store.update(conn, old, tenants=Tenancy({"A81001"}), practice="A81001")
        mr.repo.store.update(conn, legacy, tenants=Tenancy({"A81001"}), practice="A81001")
    assert mr.steps(mr.read(f"CarePlan/{careplan['id']}")) == steps
    gp_answers(mr, open_task(mr), "completed", "approved")
    plan = mr.read(f"CarePlan/{careplan['id']}")
    assert_invariants(plan)
    assert mr.read(steps[1].proposal or "")["identifier"][0]["value"] == f"{careplan['id']}-step-2"
    [(_, approved)] = mr.events("taper.approved.v1")
    assert_invariants(approved)
    assert [s.number for s in steps_of(approved)] == [s.number for s in steps]


def test_every_event_of_a_taper_is_valid_r4_and_keeps_cpl3(mr: Harness) -> None:
    careplan = propose(mr)
    gp_answers(mr, open_task(mr), "completed", "approved")
    [plan] = mr.api(lambda s: on_withdrawal_score(s, withdrawal_score("p1", 14), THRESHOLD))
    mr.api(lambda s: resume_taper(s, plan, on=date(2026, 5, 4)))
    task = open_task(mr)
    mr.api(lambda s: decide_step(s, task, Outcome(Decision.DECLINED, "Not now")))
    types = {t for t, _ in mr.events()}
    assert {"taper.proposed.v1", "taper.approved.v1", "taper.paused.v1", "taper.declined.v1"} <= types
    for _, data in mr.events():
        validate_resource(data)
        assert_invariants(data)
    assert_invariants(mr.read(f"CarePlan/{careplan['id']}"))
