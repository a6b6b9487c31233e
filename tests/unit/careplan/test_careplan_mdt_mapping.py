"""The MDT agenda as FHIR: rebuilding keeps what was decided, members are asked once, outcomes in the plan."""

from __future__ import annotations

from datetime import UTC, datetime

from services.careplan.domain.mdt import AgendaItem, Reason
from services.careplan.fhir_mapping.mdt import (
    agenda_list,
    deferred_patients,
    meeting,
    merge_entries,
    merge_members,
    outcome_flag,
    plan_with_outcome,
)
from shared.fhir import validate_resource

BZ = AgendaItem("Patient/a", "plan-a", (Reason("benzodiazepine", "A benzodiazepine (review of 2024-02-01)"),))


def test_rebuilding_a_week_later_with_the_same_reasons_changes_nothing() -> None:
    first = merge_entries([], [BZ], "2024-02-20T10:00:00Z")
    assert merge_entries(first, [BZ], "2024-02-27T10:00:00Z") == first


def test_an_undecided_item_gets_todays_reasons_and_keeps_the_day_it_was_added() -> None:
    first = merge_entries([], [BZ], "2024-02-20T10:00:00Z")
    high = AgendaItem("Patient/a", "plan-a", (Reason("high-dose", "Total daily OME 320 mg/day"),))
    [entry] = merge_entries(first, [high], "2024-02-27T10:00:00Z")
    assert entry["date"] == "2024-02-20T10:00:00Z"
    assert entry["extension"][1]["valueCodeableConcept"]["text"] == "Total daily OME 320 mg/day"


def test_a_decided_item_never_changes_and_new_patients_are_added_after_it() -> None:
    decided = [
        {**merge_entries([], [BZ], "2024-02-20T10:00:00Z")[0], "flag": outcome_flag("slow-taper", None)}
    ]
    other = AgendaItem("Patient/b", "plan-b", (Reason("taper-paused", "Dose reduction paused: x."),))
    high = AgendaItem("Patient/a", "plan-a", (Reason("high-dose", "Total daily OME 320 mg/day"),))
    merged = merge_entries(decided, [high, other], "2024-02-27T10:00:00Z")
    assert merged[0] == decided[0] and merged[1]["item"] == {"reference": "Patient/b"}


def test_an_undecided_item_of_a_patient_without_an_open_plan_leaves_the_agenda_a_decided_one_stays() -> None:
    other = AgendaItem("Patient/b", "plan-b", (Reason("taper-paused", "Dose reduction paused: x."),))
    first = merge_entries([], [BZ, other], "2024-02-20T10:00:00Z")
    decided = [first[0], {**first[1], "flag": outcome_flag("slow-taper", None)}]
    # Both discharged since: the undecided item (a) goes, the decided record (b) is kept.
    assert merge_entries(decided, [], "2024-02-27T10:00:00Z", open_patients=set()) == [decided[1]]
    assert merge_entries(decided, [], "2024-02-27T10:00:00Z", open_patients={"Patient/a"}) == decided


def test_an_empty_agenda_says_why_and_carries_no_empty_entry_array() -> None:
    empty = agenda_list("l1", "2024-03", [], "2024-02-20T10:00:00Z")
    assert "entry" not in empty and empty["emptyReason"]["text"]
    validate_resource(empty, "List")


def test_each_care_team_member_is_asked_once_across_the_patients_teams() -> None:
    gp = {"role": [{"text": "GP"}], "member": {"reference": "Practitioner/gp1"}}
    team = {"participant": [gp, {"role": [{"text": "project worker"}]}]}  # a role to fill: nobody to ask
    members = merge_members([], [team, team])
    assert [m["actor"] for m in members] == [{"reference": "Practitioner/gp1"}]
    start = datetime(2024, 3, 6, 12, 30, tzinfo=UTC)
    appointment = meeting("m1", "l1", start, 60, members)
    validate_resource(appointment, "Appointment")
    assert (appointment["start"], appointment["end"]) == ("2024-03-06T12:30:00Z", "2024-03-06T13:30:00Z")


def test_only_deferred_items_are_carried() -> None:
    entries = merge_entries([], [BZ, AgendaItem("Patient/b", "plan-b", BZ.reasons)], "2024-02-20T10:00:00Z")
    entries[0]["flag"] = outcome_flag("deferred", "Out of time")
    entries[1]["flag"] = outcome_flag("continue-plan", None)
    assert deferred_patients({"entry": entries}) == ["Patient/a"]


def test_the_outcome_is_noted_in_the_plan_and_the_agenda_linked_once() -> None:
    agenda = {"id": "l1", "title": "MDT agenda 2024-03"}
    plan = {"resourceType": "CarePlan", "id": "p1", "supportingInfo": [{"reference": "EpisodeOfCare/e1"}]}
    once = plan_with_outcome(plan, agenda, "pause-taper", "Hold for a month.", "2024-03-06T13:00:00Z")
    twice = plan_with_outcome(once, agenda, "restart-taper", None, "2024-04-03T13:00:00Z")
    assert [n["text"] for n in twice["note"]] == [
        "MDT agenda 2024-03: Pause the taper. Hold for a month.",
        "MDT agenda 2024-03: Restart the taper.",
    ]
    assert twice["supportingInfo"] == [
        {"reference": "EpisodeOfCare/e1"},
        {"reference": "List/l1", "display": "MDT agenda 2024-03"},
    ]
