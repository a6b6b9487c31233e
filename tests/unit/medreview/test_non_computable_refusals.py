"""The taper planner and the GP approval refuse to work from a dose that was not computable, and say why.

(The service evaluation's refusal is in tests/unit/careplan/test_careplan_ome_facts.py and
test_careplan_evaluation.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from services.medreview.domain.taper import TaperPolicy
from services.medreview.fhir_mapping import steps_of
from services.medreview.workflow import on_medication_list_synced, on_task_completed, propose_taper
from shared.contracts import GP_TASK_COMPLETED_V1, MEDICATION_LIST_SYNCED_V1
from shared.fhir import Unprocessable
from tests.unit.medreview.medreview_support import NOW, Harness, database, medicine, patient_bundle

MORPHINE_60_MR = "Morphine sulfate 60mg modified-release tablets"


@pytest.fixture
def mr(medreview_db_url: str) -> Iterator[Harness]:
    harness = Harness(database(medreview_db_url))
    yield harness
    harness.engine.dispose()


def synced(mr: Harness, *medicines: dict[str, Any], hours: int = 0) -> None:
    gp = patient_bundle("p1", *medicines)
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW + timedelta(hours=hours))


def propose(mr: Harness) -> dict[str, Any]:
    return mr.api(
        lambda s: propose_taper(s, "Patient/p1", TaperPolicy(), date(2026, 3, 2), "uk-opioids-aware")
    )


def test_the_taper_planner_refuses_an_opioid_coded_only_by_its_vtm_and_says_why(mr: Harness) -> None:
    # dm+d VTM 108507005 Tramadol (dmd-opioid-vtms.csv): an ingredient, no strength, so no dose to taper from
    vtm = medicine("tram", "Tramadol", "50mg four times a day", code="108507005")
    synced(mr, medicine("mor", MORPHINE_60_MR, "one twice a day"), vtm)
    with pytest.raises(Unprocessable, match="VTM"):
        propose(mr)
    assert mr.search("CarePlan") == []


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        (MORPHINE_60_MR, "one twice a day as per pain clinic", "clinic"),  # a word not read
        ("Oramorph 10mg/5ml oral solution", "10 every 4 hours", "does not fit"),  # ml or mg?
        ("Subutex 8mg sublingual tablets", "one daily", "drug service"),  # substitution therapy
        ("Abstral 100microgram sublingual tablets", "one when required", "specialist"),
        ("Kaolin and Morphine mixture", "10ml four times a day", "not known for certain"),
    ],
)
def test_the_taper_planner_refuses_a_dose_it_could_not_compute_and_says_why(
    mr: Harness, name: str, text: str, why: str
) -> None:
    synced(mr, medicine("mor", MORPHINE_60_MR, "one twice a day"), medicine("x", name, text))
    with pytest.raises(Unprocessable, match=why):
        propose(mr)


def test_the_gp_approval_is_not_ordered_when_the_current_dose_is_no_longer_computable(mr: Harness) -> None:
    synced(mr, medicine("mor", MORPHINE_60_MR, "one twice a day"))
    propose(mr)
    [task] = mr.search("Task", ("status", "requested"), ("code", "approve-taper-step"))
    # the GP record now says something the reader cannot read with certainty
    synced(mr, medicine("mor", MORPHINE_60_MR, "one twice a day or as per pain team"), hours=1)
    answer = {**task, "status": "completed", "businessStatus": {"text": "approved"}}
    mr.consume(on_task_completed, GP_TASK_COMPLETED_V1, answer, subject=f"Task/{task['id']}")
    assert mr.events("prescription.changed.v1") == []
    [(_, declined)] = mr.events("taper.declined.v1")
    reason = steps_of(declined)[0].reason or ""
    assert "could not be computed" in reason and "team" in reason


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        # 60 mg in the morning and 120 mg at night is 180 mg a day, but two different doses, not one
        # schedule (the same dose at both, "one in the morning and one at night", is one: twice a day)
        (MORPHINE_60_MR, "one in the morning and two at night", "not read as one schedule"),
        # an MR tablet "when required" has no regular frequency to keep
        (MORPHINE_60_MR, "one twice a day when required", "when required"),
        # one every other day: no one daily amount (the day it is taken, or half of it?), so not stepped
        (MORPHINE_60_MR, "one every other day", "no one daily amount"),
        # a range at regular times: read at its most (OME 24), but stepped from the most, "2 three times a
        # day" (6 a day) is more than a patient taking 1 four times a day (4) takes (a pharmacist's review)
        ("Co-codamol 30mg/500mg tablets", "one or two tablets four times a day", "taken as a range"),
        ("Codeine 30mg tablets", "one every 4-6 hours", "taken as a range"),
        # "up to" is a range from none (a pharmacist's follow-up: "up to 2 tablets four times a day" was
        # stepped to "2 three times a day", 6 tablets, more than a patient taking 1 four times a day)
        ("Co-codamol 30mg/500mg tablets", "up to 2 tablets four times a day", "taken as a range"),
        ("Tramadol 50mg capsules", "one capsule up to four times a day", "taken as a range"),
        # an immediate-release tablet is stepped at its frequency too: two doses that add up are not one
        ("Oxycodone 5mg capsules", "one in the morning and two at night", "not read as one schedule"),
    ],
)
def test_an_oral_dose_whose_frequency_is_not_one_regular_schedule_is_not_stepped(
    mr: Harness, name: str, text: str, why: str
) -> None:
    """The dose reader reads each of these (its OME is computable), but a step is written at the
    prescription's own frequency, so one that is not one regular daily schedule is refused, naming it."""
    synced(mr, medicine("x", name, text))
    with pytest.raises(Unprocessable, match=why):
        propose(mr)
    assert mr.search("CarePlan") == []
