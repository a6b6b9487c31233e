"""Which opioid a taper reduces first, and what its stop step names (a pharmacist's review, 2026-12-07).

The planner reduces one opioid at a time in the patient's ``order``, and the items the order does not name
in the medication list's order (services/medreview/README.md, "The taper workflow"). The list's order was
lost: the regimen came in the store's order, so the medicine listed last was reduced first. And a stop
step named the product the plan started from ("Stop MST Continus 60mg tablets") when the patient was by
then on the last step's 5 mg tablets: the GP's Task showed the current 5 mg prescription against a stop
of 60 mg. Figures by hand with the UK defaults (10% of the starting OME every 14 days, at most 30% in any
28 days, halved below 30% of it; docs/domain/reference-facts.md) and Opioids Aware's factors (morphine 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from services.medreview.domain.taper import TaperPolicy
from services.medreview.workflow import on_medication_list_synced, propose_taper
from shared.contracts import MEDICATION_LIST_SYNCED_V1
from shared.terminology import load_product_catalogue
from tests.unit.medreview.medreview_support import NOW, Harness, database, medicine, patient_bundle

START = date(2026, 3, 2)
MR = ("a", "MST Continus 60mg tablets", "one tablet twice a day")
PRN = ("b", "Oramorph 10mg/5ml oral solution", "5ml up to four times a day when required")


@pytest.fixture
def mr(medreview_db_url: str) -> Iterator[Harness]:
    harness = Harness(database(medreview_db_url))
    yield harness
    harness.engine.dispose()


def _plan(mr: Harness, *items: tuple[str, str, str]) -> list[Any]:
    gp = patient_bundle("p1", *(medicine(i, name, text) for i, name, text in items))
    mr.consume(on_medication_list_synced, MEDICATION_LIST_SYNCED_V1, gp, time=NOW)
    careplan = mr.api(lambda s: propose_taper(s, "Patient/p1", TaperPolicy(), START, "uk-opioids-aware"))
    return [st for st in mr.steps(careplan) if st.proposal is not None]


@pytest.mark.parametrize(("listed", "first"), [((MR, PRN), "a"), ((PRN, MR), "b")])
def test_the_opioid_listed_first_is_reduced_first(mr: Harness, listed: tuple[Any, ...], first: str) -> None:
    """MST 60 mg bd (120) and Oramorph 5 ml (10 mg) up to 4 a day (40): 160 mg OME. No order given, so the
    first listed comes down first, whichever it is (it was always the one listed last)."""
    steps = _plan(mr, *listed)
    assert steps[0].item.endswith(f"/{first}")


def test_a_stop_step_names_the_product_of_the_step_before_it(mr: Harness) -> None:
    """MST Continus 60 mg bd: 120 mg OME, steps of 12 wanted in twice-daily doses of MST's strengths (5, 10,
    15, 30, 60, 100, 200 mg), held to 30% in 28 days and halved below 36 mg: the last reduction before the
    stop is 5 mg bd (10 mg a day), so the stop names MST Continus 5mg tablets, never the 60 mg the plan
    started from."""
    catalogue = load_product_catalogue()
    steps = _plan(mr, MR)
    stop, before = steps[-1], steps[-2]
    assert stop.action == "stop" and before.action == "reduce"
    stop_request = mr.read(stop.proposal)
    before_request = mr.read(before.proposal)
    name = before_request["medicationCodeableConcept"]["coding"][0]["code"]
    assert stop_request["doNotPerform"] is True
    assert stop_request["medicationCodeableConcept"]["coding"][0]["code"] == name
    text = stop_request["dosageInstruction"][0]["text"]
    assert "60mg" not in text and "5mg" in text, text
    assert catalogue.opioid_codes[name].term.startswith("MST Continus 5mg")


def test_each_order_of_a_step_in_several_strengths_says_what_it_is_taken_with(mr: Harness) -> None:
    """MST Continus 60 mg bd (120 mg OME): the first step, 12 off, is 55 mg bd (110 a day; OME 110), made
    of the 30, 15 and 10 mg tablets: each order's dosage says it is taken with the others and that the dose
    in all is 55 mg each dose, 110 mg a day (an order read alone said only "30 mg twice a day (60 mg a
    day)")."""
    first = _plan(mr, MR)[0]
    requests = [mr.read(ref) for ref in first.proposals]
    assert len(requests) == 3
    for request in requests:
        [advice] = request["dosageInstruction"][0]["additionalInstruction"]
        assert "Taken together with" in advice["text"], advice
        assert "55 mg morphine each dose in all, 110 mg a day" in advice["text"], advice


@pytest.mark.parametrize(
    "listed",
    [
        # 30 mg in the morning and 60 mg at night: stepped apart, step 1 changed the night's to 50 and left
        # the morning's, a 12-hourly capsule taken as 30 + 50 at once? (a pharmacist's review, 2026-12-07)
        (
            ("a", "Zomorph 30mg modified-release capsules", "one capsule in the morning"),
            ("b", "Zomorph 60mg modified-release capsules", "one capsule at night"),
        ),
        (
            ("a", "MST Continus 30mg tablets", "one tablet twice a day"),
            ("b", "MST Continus 10mg tablets", "one tablet at night"),
        ),
    ],
)
def test_one_modified_release_opioid_on_items_of_uneven_schedules_is_refused(
    mr: Harness, listed: tuple[tuple[str, str, str], ...]
) -> None:
    from shared.fhir import Unprocessable

    with pytest.raises(Unprocessable, match="no one schedule of equal doses"):
        _plan(mr, *listed)


def test_one_modified_release_opioid_split_evenly_over_items_is_still_stepped(mr: Harness) -> None:
    """MST Continus 30 mg and 10 mg, each twice a day: 80 mg OME, equal doses of 40 mg; stepped as before."""
    steps = _plan(
        mr,
        ("a", "MST Continus 30mg tablets", "one tablet twice a day"),
        ("b", "MST Continus 10mg tablets", "one tablet twice a day"),
    )
    assert steps and steps[-1].action == "stop"


def test_a_range_taken_once_a_day_is_stepped(mr: Harness) -> None:
    """Codeine 30 mg "one or two at night": at most 60 mg, 6 mg OME (x 0.1, Opioids Aware). Once a day, a
    step below the most (1 tablet at night, 3 mg OME) is never more than the patient takes, so it is not
    refused as a range at several times a day is (a pharmacist's follow-up, 2026-12-07)."""
    steps = _plan(mr, ("a", "Codeine 30mg tablets", "one or two tablets at night"))
    first = mr.read(steps[0].proposal)
    assert first["dosageInstruction"][0]["text"].startswith("30 mg codeine once a day"), first
    assert steps[-1].action == "stop"
