"""The R4 shape of a concern, its escalation, a follow-up review and whether the dose held
(services/medreview/fhir_mapping/contact.py): valid R4, and a figure that is not computable is never given."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.medreview.domain.concerns import ConcernKind, ConcernPolicy, triage
from services.medreview.domain.follow_up import DoseHeld
from services.medreview.fhir_mapping.contact import (
    answer_by_of,
    concern_task,
    dose_held_observation,
    escalation_task,
    follow_up_task,
)
from shared.fhir import validate_resource

NOW = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)


def _ome(id_: str, value: int, lower_bound: bool = False) -> dict[str, object]:
    quantity: dict[str, object] = {"value": value, "unit": "mg/d", "system": "http://unitsofmeasure.org"}
    if lower_bound:
        quantity["comparator"] = ">="
    return {"resourceType": "Observation", "id": id_, "valueQuantity": quantity}


def test_a_concern_task_carries_its_priority_answer_time_and_kind() -> None:
    rules = triage(ConcernKind.WITHDRAWAL, 8, NOW, ConcernPolicy())
    task = concern_task(
        patient="Patient/p1",
        careplan="CarePlan/c1",
        practice="A81001",
        raised=NOW,
        kind=ConcernKind.WITHDRAWAL,
        severity=8,
        raised_by="patient",
        words="shaky",
        triage=rules,
    )
    validate_resource(task, "Task")
    assert task["priority"] == "asap" and task["restriction"]["period"]["end"] == "2026-04-20T13:00:00Z"
    assert answer_by_of({**task, "id": "t1"}) == datetime(2026, 4, 20, 13, 0, tzinfo=UTC)
    escalation = escalation_task(
        {**task, "id": "t1"}, practice="A81001", now=NOW, priority="stat", answer_by=NOW
    )
    validate_resource(escalation, "Task")
    assert escalation["focus"] == {"reference": "Task/t1"} and escalation["priority"] == "stat"


def test_a_follow_up_is_dated_and_says_the_ome_at_discharge() -> None:
    task = follow_up_task(
        patient="Patient/p1",
        practice="A81001",
        now=NOW,
        months=3,
        due=date(2026, 7, 20),
        discharged=date(2026, 4, 20),
        at_discharge=_ome("o1", 45, lower_bound=True),
    )
    validate_resource(task, "Task")
    assert task["executionPeriod"]["start"] == "2026-07-20" and task["focus"] == {
        "reference": "Observation/o1"
    }
    assert "at least 45 mg OME a day" in task["input"][0]["valueString"]


def test_a_not_computable_follow_up_gives_no_figure_for_the_lower_bound() -> None:
    observation = dose_held_observation(
        patient="Patient/p1",
        effective=NOW,
        held=DoseHeld.NOT_COMPUTABLE,
        at_discharge=_ome("o1", 120),
        at_follow_up=_ome("o2", 60, lower_bound=True),
        task="Task/f1",
    )
    validate_resource(observation, "Observation")
    at_discharge, at_follow_up = observation["component"]
    assert at_discharge["valueQuantity"]["value"] == 120
    assert (
        "valueQuantity" not in at_follow_up
        and at_follow_up["dataAbsentReason"]["coding"][0]["code"] == "error"
    )
    assert observation["derivedFrom"] == [{"reference": "Observation/o1"}, {"reference": "Observation/o2"}]
