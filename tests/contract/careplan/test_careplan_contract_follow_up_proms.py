"""PROMs at a follow-up after discharge, through the event: medreview's ``follow-up.recorded`` (the completed
follow-up Task) makes careplan record PEG, PHQ-9 and GAD-7 as of the follow-up's day, from the assessments.

Hand-worked (PHQ-9, Kroenke et al. 2001: the sum of 9 items 0-3; PEG, Krebs et al. 2009: the mean of 3
items 0-10, to one decimal):
* at discharge (20 Feb): PHQ-9 nine answers "several days" (LA6569-3 = 1) = 9; PEG (7+6+8)/3 = 7.0;
* at follow-up (28 May): PHQ-9 nine "not at all" (LA6568-5 = 0) = 0; PEG (4+3+4)/3 = 3.67 -> 3.7;
* changes: PHQ-9 0 - 9 = -9; PEG 3.7 - 7.0 = -3.3; GAD-7 never answered: not computable, saying so.
"""

from __future__ import annotations

from typing import Any

from shared.contracts import FOLLOW_UP_RECORDED_V1
from tests.support import eventually
from tests.support.careplan import Careplan

PHQ9 = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8")
PROM_ID = "https://pain-review.example.org/fhir/Id/follow-up-prom"


def _assessment(patient: str, authored: str, phq_answer: str, peg: tuple[int, int, int]) -> dict[str, Any]:
    phq = [
        {"linkId": code, "answer": [{"valueCoding": {"system": "http://loinc.org", "code": phq_answer}}]}
        for code in PHQ9
    ]
    items = [
        {"linkId": code, "answer": [{"valueInteger": v}]}
        for code, v in zip(("75893-8", "91145-3", "91146-1"), peg, strict=True)
    ]
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "https://pain-review.example.org/fhir/Questionnaire/pain-review-assessment",
        "status": "completed",
        "subject": {"reference": f"Patient/{patient}"},
        "authored": authored,
        "item": [{"linkId": "peg", "item": items}, {"linkId": "phq-9", "item": phq}],
    }


def _follow_up_task(patient: str, task_id: str) -> dict[str, Any]:
    """The completed follow-up Task as medreview announces it (docs/EVENTS.md, follow-up.recorded)."""
    return {
        "resourceType": "Task",
        "id": task_id,
        "status": "completed",
        "intent": "order",
        "for": {"reference": f"Patient/{patient}"},
        "lastModified": "2024-06-01T09:00:00Z",
        "input": [
            {"type": {"text": "months-after-discharge"}, "valueInteger": 3},
            {"type": {"text": "discharged"}, "valueDate": "2024-03-01"},
        ],
    }


def _recorded(careplan: Careplan, patient: str, task_id: str) -> dict[str, dict[str, Any]] | None:
    found = {
        i["value"].removeprefix(f"{task_id}-"): o
        for o in careplan.search("Observation", patient=f"Patient/{patient}")
        for i in o.get("identifier", [])
        if i.get("system") == PROM_ID
    }
    return found if len(found) == 3 else None


def test_a_recorded_follow_up_records_each_prom_as_of_its_day_with_its_change(careplan: Careplan) -> None:
    patient, task_id = "fu-prom-1", "follow-up-fu-prom-1"
    for response in (
        _assessment(patient, "2024-02-20T10:00:00Z", "LA6569-3", (7, 6, 8)),  # before discharge
        _assessment(patient, "2024-05-28T10:00:00Z", "LA6568-5", (4, 3, 4)),  # since, before the follow-up
        _assessment(patient, "2024-06-10T10:00:00Z", "LA6570-1", (9, 9, 9)),  # after the follow-up: not used
    ):
        assert careplan.post("/QuestionnaireResponse", response).status_code == 201
    careplan.publish("medreview", FOLLOW_UP_RECORDED_V1, f"Task/{task_id}", _follow_up_task(patient, task_id))
    proms = eventually(lambda: _recorded(careplan, patient, task_id))

    def figures(o: dict[str, Any]) -> tuple[Any, ...]:
        change, at_discharge = o["component"]
        return (
            o.get("valueQuantity", {}).get("value"),
            at_discharge.get("valueQuantity", {}).get("value"),
            change.get("valueQuantity", {}).get("value"),
        )

    assert figures(proms["phq-9"]) == (0, 9, -9)
    assert figures(proms["peg"]) == (3.7, 7, -3.3)  # 7.0 is written as 7
    assert proms["peg"]["code"]["coding"][0]["code"] == "91147-9"
    assert proms["phq-9"]["effectiveDateTime"] == "2024-06-01"
    gad = proms["gad-7"]
    assert "valueQuantity" not in gad
    assert gad["dataAbsentReason"]["text"] == "Not computable: No response to this measure has been recorded"

    # Heard again (a redelivery, or the same Task announced twice): kept once.
    careplan.publish("medreview", FOLLOW_UP_RECORDED_V1, f"Task/{task_id}", _follow_up_task(patient, task_id))
    eventually(lambda: _recorded(careplan, patient, task_id))
    assert len(careplan.search("Observation", patient=f"Patient/{patient}")) == 3
