"""The monthly MDT's pure rules: who is on the agenda and why, from reviews and the de-scripting activity."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.careplan.domain.catalogue import interventions
from services.careplan.domain.descripting import apply_taper_progress, taper_progress
from services.careplan.domain.mdt import (
    AgendaItem,
    MdtPatient,
    Reason,
    Review,
    agenda,
    carry_over,
    descripting_of,
    parse_month,
    previous_month,
    reasons_for,
)

PROPOSED_AT = "2024-01-10T09:00:00Z"


def _review(day: str, mg: str | None, *flags: str, at_least: bool = False) -> Review:
    when = datetime.fromisoformat(f"{day}T10:00:00+00:00")
    return Review(when, None if mg is None else Decimal(mg), at_least, frozenset(flags))


def _patient(
    *reviews: Review, status: str | None = None, notes: tuple[tuple[str, str], ...] = ()
) -> MdtPatient:
    return MdtPatient("Patient/p1", "plan1", status, notes, reviews)


def _codes(p: MdtPatient) -> list[str]:
    return [r.code for r in reasons_for(p)]


def test_a_patient_at_300_mg_a_day_is_on_the_agenda_with_the_figure() -> None:
    [reason] = reasons_for(_patient(_review("2024-02-01", "300")))
    assert reason.code == "high-dose"
    assert reason.text == "Total daily OME 300 mg/day at the review of 2024-02-01"


def test_299_5_mg_a_day_without_the_flag_is_below_the_threshold() -> None:
    assert _codes(_patient(_review("2024-02-01", "299.5"))) == []


def test_a_lower_bound_of_310_is_at_least_300_and_says_so() -> None:
    [reason] = reasons_for(_patient(_review("2024-02-01", "310", "ome-not-computable", at_least=True)))
    assert reason.text == "Total daily OME at least 310 mg/day at the review of 2024-02-01"


def test_medreviews_specialist_advice_flag_puts_the_patient_on_even_without_a_figure() -> None:
    assert _codes(_patient(_review("2024-02-01", None, "ome-specialist-advice"))) == ["high-dose"]


@pytest.mark.parametrize(
    ("flag", "code"),
    [
        ("opioid-benzodiazepine", "benzodiazepine"),
        ("methadone", "methadone"),
        ("transmucosal-fentanyl", "transmucosal-fentanyl"),
        ("opioid-substitution-therapy", "opioid-substitution"),
    ],
)
def test_the_safety_gates_medreview_flags_are_reasons(flag: str, code: str) -> None:
    assert _codes(_patient(_review("2024-02-01", "60", flag))) == [code]


def test_methadone_substitution_therapy_is_both_of_its_gates_in_reasons_order_with_its_words() -> None:
    # Methadone 1 mg/ml oral solution: medreview raises both ``methadone`` and ``opioid-substitution-therapy``
    # (its two gates); both are reasons, in REASONS order, each naming the review.
    reasons = reasons_for(_patient(_review("2024-02-01", "0", "opioid-substitution-therapy", "methadone")))
    assert [(r.code, r.text) for r in reasons] == [
        (
            "methadone",
            "Methadone is prescribed (no fixed OME; a reduction is a specialist's) (review of 2024-02-01)",
        ),
        (
            "opioid-substitution",
            "Opioid substitution therapy is prescribed (the drug service owns that dose)"
            " (review of 2024-02-01)",
        ),
    ]


def test_a_methadone_flag_of_an_earlier_review_no_longer_counts_once_a_later_one_clears_it() -> None:
    assert _codes(_patient(_review("2024-01-01", "0", "methadone"), _review("2024-02-01", "60"))) == []


def test_flags_of_an_earlier_review_no_longer_count_once_a_later_one_clears_them() -> None:
    p = _patient(_review("2024-01-01", "320", "opioid-benzodiazepine"), _review("2024-02-01", "90"))
    assert _codes(p) == []


def test_a_gabapentinoid_or_120_mg_alone_is_not_an_mdt_reason() -> None:
    assert _codes(_patient(_review("2024-02-01", "150", "ome-high-dose", "opioid-gabapentinoid"))) == []


def _plan_after(*events: tuple[str, dict[str, object]]) -> dict[str, object]:
    plan: dict[str, object] = {"resourceType": "CarePlan", "activity": []}
    for i, (kind, data) in enumerate(events):
        plan = apply_taper_progress(
            plan,
            taper_progress(kind, data),
            taper_reference="CarePlan/taper1",
            concept=interventions()["de-scripting"].concept(),
            now=f"2024-01-{10 + i:02d}T09:00:00Z",
        )
    return plan


TAPER = {
    "resourceType": "CarePlan",
    "id": "taper1",
    "status": "draft",
    "subject": {"reference": "Patient/p1"},
    "activity": [{"detail": {"status": "not-started", "scheduledPeriod": {"start": "2024-01-15"}}}],
}


def test_a_paused_taper_as_the_taper_paused_event_leaves_it_is_a_reason_with_its_words() -> None:
    paused = {**TAPER, "status": "on-hold", "note": [{"text": "Withdrawal symptoms"}]}
    status, notes = descripting_of(_plan_after(("proposed", TAPER), ("paused", paused)))
    [reason] = reasons_for(_patient(status=status, notes=notes))
    assert (reason.code, reason.text) == ("taper-paused", "Dose reduction paused: Withdrawal symptoms.")


def test_a_declined_step_as_the_taper_declined_event_leaves_it_is_a_reason() -> None:
    declined = {**TAPER, "status": "revoked", "statusReason": {"text": "Wait for the pain clinic"}}
    status, notes = descripting_of(_plan_after(("proposed", TAPER), ("declined", declined)))
    assert _codes(_patient(status=status, notes=notes)) == ["taper-declined"]


def test_a_taper_in_progress_is_not_a_reason() -> None:
    status, notes = descripting_of(_plan_after(("proposed", TAPER)))
    assert status == "scheduled" and _codes(_patient(status=status, notes=notes)) == []


PROPOSED = (("2024-01-10T09:00:00Z", "Dose reduction proposed to the GP: 3 steps."),)


def test_a_dose_rising_after_a_reduction_is_a_reason_with_both_figures() -> None:
    p = _patient(
        _review("2023-12-01", "240"),  # before the taper: not compared
        _review("2024-01-20", "200"),
        _review("2024-02-20", "150"),
        _review("2024-03-20", "180"),
        status="in-progress",
        notes=PROPOSED,
    )
    [reason] = reasons_for(p)
    assert reason.code == "dose-rising"
    assert reason.text == (
        "Total daily OME rose to 180 mg/day (review of 2024-03-20) from 150 mg/day (review of 2024-02-20) "
        "since the taper was proposed"
    )


def test_a_dose_below_the_pre_taper_figure_but_steady_since_is_not_rising() -> None:
    p = _patient(
        _review("2023-12-01", "240"),
        _review("2024-02-20", "150"),
        _review("2024-03-20", "150"),
        notes=PROPOSED,
    )
    assert _codes(p) == []


def test_a_lower_bound_is_never_compared_for_a_rising_dose() -> None:
    p = _patient(
        _review("2024-02-20", "150"),
        _review("2024-03-20", "180", "ome-not-computable", at_least=True),
        notes=PROPOSED,
    )
    assert _codes(p) == []
    earlier_bound = _patient(
        _review("2024-02-20", "100", at_least=True), _review("2024-03-20", "180"), notes=PROPOSED
    )
    assert _codes(earlier_bound) == []


def test_without_a_taper_a_rising_dose_is_not_an_mdt_reason() -> None:
    assert _codes(_patient(_review("2024-02-20", "100"), _review("2024-03-20", "180"))) == []


def test_the_agenda_lists_only_patients_with_a_reason_in_patient_order_with_every_reason() -> None:
    patients = [
        MdtPatient("Patient/b", "plan-b", None, (), (_review("2024-02-01", "320", "opioid-benzodiazepine"),)),
        MdtPatient("Patient/c", "plan-c", None, (), (_review("2024-02-01", "40"),)),
        MdtPatient(
            "Patient/a", "plan-a", "on-hold", (("2024-01-10T09:00:00Z", "Dose reduction paused: x."),), ()
        ),
    ]
    items = agenda(patients)
    assert [(i.patient, [r.code for r in i.reasons]) for i in items] == [
        ("Patient/a", ["taper-paused"]),
        ("Patient/b", ["high-dose", "benzodiazepine"]),
    ]


@pytest.mark.parametrize(
    ("text", "today", "month"),
    [
        (None, date(2024, 2, 14), (2024, 3)),
        (None, date(2024, 12, 1), (2025, 1)),
        ("2024-07", date(2024, 1, 1), (2024, 7)),
    ],
)
def test_the_month_is_the_one_asked_for_or_the_next(
    text: str | None, today: date, month: tuple[int, int]
) -> None:
    assert parse_month(text, today) == month


@pytest.mark.parametrize("text", ["2024-13", "2024-3", "March", "2024-03-01"])
def test_a_month_that_is_not_yyyy_mm_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"YYYY-MM|month"):
        parse_month(text, datetime.now(UTC).date())


def test_last_months_deferred_items_are_carried_over_beside_any_reason_of_this_month() -> None:
    items = [AgendaItem("Patient/b", "plan-b", (Reason("benzodiazepine", "x"),))]
    carried = carry_over(items, {"Patient/a": "plan-a", "Patient/b": "plan-b"}, "2024-02")
    assert [(i.patient, [r.code for r in i.reasons]) for i in carried] == [
        ("Patient/a", ["carried-over"]),
        ("Patient/b", ["benzodiazepine", "carried-over"]),
    ]
    assert carried[0].reasons[0].text == "Deferred at the MDT of 2024-02"


@pytest.mark.parametrize(("year", "month", "previous"), [(2024, 3, (2024, 2)), (2024, 1, (2023, 12))])
def test_the_previous_month_crosses_the_year(year: int, month: int, previous: tuple[int, int]) -> None:
    assert previous_month(year, month) == previous
