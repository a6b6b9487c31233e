"""Screening: ranked and explained, one patient at a time, from a patient-grouped stream."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from services.referral.domain.eligibility import Decision, PatientRecords, medicine_record
from services.referral.domain.screening import (
    SCREENING_SIGNAL_SYSTEM,
    ScreeningResult,
    ScreeningWeights,
    UngroupedInputError,
    daily_ome_mg,
    group_by_patient,
    patient_key,
    rank,
    screen,
    screen_patient,
    top_ranked,
)
from tests.support.referral_records import (
    condition,
    dosed,
    medicine,
    monthly,
    patient,
    practice,
    records,
    request,
)

REFERRAL = date(2024, 6, 15)


def opioid_patient(
    regimen: dict[str, Any],
    *extra: dict[str, Any],
    serial: int = 1,
    birth: str | None = "1971-03-09",
    first: date = date(2023, 6, 1),
    count: int = 12,
) -> PatientRecords:
    """A patient on `regimen` monthly from `first`, with chronic back pain, plus `extra` resources."""
    issues = [
        request(
            None,
            f"{date(first.year + (first.month + i - 1) // 12, (first.month + i - 1) % 12 + 1, 1)}",
            serial,
            **regimen,
        )
        for i in range(count)
    ]
    return records(
        patient(birth, serial),
        *issues,
        condition("Chronic low back pain", serial=serial),
        *extra,
        serial=serial,
    )


def ome(regimen: dict[str, Any]) -> float | None:
    record = medicine_record(
        {"resourceType": "MedicationRequest", "status": "active", "authoredOn": "2024-06-01", **regimen}
    )
    assert record is not None
    value = daily_ome_mg(record)
    return None if value is None else round(value, 2)


@pytest.mark.parametrize(
    ("regimen", "expected"),
    [
        pytest.param(
            dosed("Codeine phosphate 30mg tablets", 2, "tablet", 4),
            24.0,
            id="codeine 30mg two tablets four times a day is 24 mg",
        ),
        pytest.param(
            dosed("Co-codamol 30mg/500mg tablets", 2, "tablet", 4),
            24.0,
            id="co-codamol counts its codeine only",
        ),
        pytest.param(
            dosed("Morphine sulfate 10mg/5ml oral solution", 5, "ml", 4),
            40.0,
            id="oral morphine 10mg per 5ml 5ml four times a day is 40 mg",
        ),
        pytest.param(
            dosed("Oxycodone 20mg modified-release tablets", 1, "tablet", 1, 12, "h"),
            60.0,
            id="oxycodone 20mg every 12 hours is 60 mg",
        ),
        pytest.param(
            dosed("Tramadol 50mg capsules", 100, "mg", 4),
            40.0,
            id="a dose in mg needs no strength arithmetic",
        ),
        pytest.param(
            dosed("Buprenorphine 200microgram sublingual tablets", 1, "tablet", 3),
            24.0,
            id="sublingual buprenorphine uses its own factor",
        ),
        pytest.param(
            {
                "medicationCodeableConcept": medicine(
                    "Buprenorphine 10micrograms/hour seven day transdermal patches"
                ),
                "dosageInstruction": [{"text": "apply one patch every 7 days"}],
            },
            24.0,
            id="a 10 microgram an hour buprenorphine patch is 24 mg",
        ),
        pytest.param(
            {
                "medicationCodeableConcept": medicine("Fentanyl 25micrograms/hour transdermal patches"),
                "dosageInstruction": [{"text": "apply one patch every 72 hours"}],
            },
            60.0,
            id="a 25 microgram an hour fentanyl patch is 60 mg",
        ),
        pytest.param(
            {
                "medicationCodeableConcept": medicine("Codeine phosphate 30mg tablets"),
                "dispenseRequest": {
                    "quantity": {"value": 112, "unit": "tablet"},
                    "expectedSupplyDuration": {"value": 28, "unit": "days"},
                },
            },
            None,
            id="a dispensed quantity over its supply is not a dose: not computable, never estimated",
        ),
        pytest.param(
            {
                "medicationCodeableConcept": medicine("Methadone 1mg/ml oral solution"),
                **dosed("Methadone 1mg/ml oral solution", 30, "ml", 1),
            },
            None,
            id="methadone is not computable",
        ),
        pytest.param(
            {"medicationCodeableConcept": medicine("Codeine phosphate 30mg tablets")},
            None,
            id="no dosage and no quantity is not computable",
        ),
        pytest.param(
            {"medicationCodeableConcept": medicine("Fentanyl 25micrograms/hour transdermal patches")},
            None,
            id="a patch with no dosage is not computable: the patches worn are not assumed",
        ),
        pytest.param(
            dosed("Morphine sulfate 10mg/5ml oral solution", 2, "tablet", 4),
            None,
            id="a liquid dosed in tablets is not computable",
        ),
    ],
)
def test_the_dose_signal_reads_structured_dosage_as_oral_morphine_equivalent(
    regimen: dict[str, Any], expected: float | None
) -> None:
    assert ome(regimen) == expected


def test_a_long_term_patient_on_codeine_with_diazepam_is_explained_signal_by_signal() -> None:
    result = screen_patient(
        opioid_patient(
            dosed("Co-codamol 30mg/500mg tablets", 2, "tablet", 4),
            request(medicine("Diazepam 5mg tablets"), "2024-05-20"),
        ),
        REFERRAL,
    )
    assert result.eligibility.decision is Decision.ELIGIBLE
    assert result.daily_ome_mg == pytest.approx(24.0)
    signals = {s.coding.code: s for s in result.signals}
    assert set(signals) == {
        "opioid-dose",
        "opioid-duration",
        "opioid-prescription-count",
        "benzodiazepine-co-prescribed",
    }
    assert signals["benzodiazepine-co-prescribed"].detail == "diazepam"
    assert signals["opioid-duration"].detail == "12 months since 2023-06-01"
    assert [s.points for s in result.signals] == sorted((s.points for s in result.signals), reverse=True)
    assert result.score == pytest.approx(sum(s.points for s in result.signals))
    assert all(s.coding.system == SCREENING_SIGNAL_SYSTEM and s.coding.display for s in result.signals)


def test_a_high_dose_is_flagged_at_120_mg_a_day() -> None:
    result = screen_patient(
        opioid_patient(dosed("Oxycodone 40mg modified-release tablets", 1, "tablet", 2)), REFERRAL
    )
    assert result.daily_ome_mg == pytest.approx(120.0)
    assert result.signals[0].coding.code == "high-opioid-dose"


def test_two_opioids_and_a_gabapentinoid_each_add_a_signal() -> None:
    extra = (
        *monthly(date(2024, 4, 1), 3, medicine("Tramadol 50mg capsules")),
        request(medicine("Pregabalin 75mg capsules"), "2024-06-01"),
    )
    codes = {
        s.coding.code
        for s in screen_patient(
            opioid_patient(dosed("Codeine phosphate 30mg tablets", 1, "tablet", 4), *extra), REFERRAL
        ).signals
    }
    assert {"multiple-opioids", "gabapentinoid-co-prescribed"} <= codes
    assert "opioid-dose-not-computable" in codes, "the tramadol issues carry no dosage"


def test_a_sedative_stopped_more_than_3_months_ago_is_not_co_prescribed() -> None:
    result = screen_patient(
        opioid_patient(
            dosed("Codeine phosphate 30mg tablets", 1, "tablet", 4),
            request(medicine("Diazepam 5mg tablets"), "2023-12-01"),
        ),
        REFERRAL,
    )
    assert "benzodiazepine-co-prescribed" not in {s.coding.code for s in result.signals}


def test_methadone_is_shown_as_not_computable_and_adds_no_points() -> None:
    result = screen_patient(opioid_patient(dosed("Methadone 1mg/ml oral solution", 30, "ml", 1)), REFERRAL)
    (signal,) = [s for s in result.signals if s.coding.code == "opioid-dose-not-computable"]
    assert (signal.points, signal.detail, result.daily_ome_mg) == (0, "methadone", None)


def cohort() -> dict[str, PatientRecords]:
    return {
        "eligible, high dose and a benzodiazepine": opioid_patient(
            dosed("Morphine sulfate 60mg modified-release tablets", 1, "tablet", 2),
            request(medicine("Diazepam 5mg tablets"), "2024-06-01"),
            serial=1,
        ),
        "eligible, moderate dose": opioid_patient(
            dosed("Oxycodone 20mg modified-release tablets", 1, "tablet", 2), serial=2
        ),
        "eligible, low dose": opioid_patient(
            dosed("Codeine phosphate 30mg tablets", 1, "tablet", 2), serial=3
        ),
        "needs review, very high dose": opioid_patient(
            dosed("Oxycodone 80mg modified-release tablets", 1, "tablet", 2), serial=4, birth=None
        ),
        "ineligible, highest dose": opioid_patient(
            dosed("Oxycodone 120mg modified-release tablets", 1, "tablet", 2),
            condition("Carcinoma of lung", serial=5),
            serial=5,
        ),
    }


def test_ranking_puts_eligible_patients_first_by_score_then_needs_review_then_ineligible() -> None:
    patients = cohort()
    results = [screen_patient(r, REFERRAL) for r in reversed(patients.values())]
    names = {r.key: name for name, r in patients.items()}
    assert [names[r.patient_key] for r in rank(results)] == list(patients)


def test_top_ranked_keeps_the_best_n_in_the_same_order_as_a_full_ranking() -> None:
    results = [screen_patient(r, REFERRAL) for r in cohort().values()]
    assert top_ranked(iter(results), 3) == rank(results)[:3]
    assert top_ranked(iter(results), 0) == []


def test_equal_scores_are_ranked_by_patient_key_so_the_order_is_stable() -> None:
    regimen = dosed("Codeine phosphate 30mg tablets", 1, "tablet", 4)
    results = [screen_patient(opioid_patient(regimen, serial=s), REFERRAL) for s in (3, 1, 2)]
    assert [r.patient_key for r in rank(results)] == ["Patient/pat-1", "Patient/pat-2", "Patient/pat-3"]


def test_weights_are_configurable() -> None:
    records_ = opioid_patient(
        dosed("Codeine phosphate 30mg tablets", 2, "tablet", 4),
        request(medicine("Diazepam 5mg tablets"), "2024-06-01"),
    )
    default = screen_patient(records_, REFERRAL)
    heavier = screen_patient(records_, REFERRAL, ScreeningWeights(benzodiazepine=10.0))
    assert heavier.score == pytest.approx(default.score + 7.0)
    assert heavier.signals[0].coding.code == "benzodiazepine-co-prescribed"


# grouping a stream


def test_interleaved_resource_types_are_grouped_per_patient_in_input_order() -> None:
    stream = [
        request(None, "2024-01-01", 1),
        patient(serial=1),
        condition("Fibromyalgia", serial=1),
        request(None, "2024-02-01", 1),
        patient(serial=2),
        request(None, "2024-03-01", 2),
        condition("Knee pain", serial=3),
        patient(serial=3),
    ]
    groups = list(group_by_patient(stream))
    assert [g.key for g in groups] == ["Patient/pat-1", "Patient/pat-2", "Patient/pat-3"]
    assert [(g.patient is not None, len(g.medications), len(g.conditions)) for g in groups] == [
        (True, 2, 1),
        (True, 1, 0),
        (True, 0, 1),
    ]


def test_a_patient_met_again_after_another_patient_is_refused() -> None:
    stream = [patient(serial=1), patient(serial=2), request(None, "2024-01-01", 1)]
    with pytest.raises(UngroupedInputError, match="Patient/pat-1"):
        list(group_by_patient(stream))


def test_resources_with_no_patient_go_to_the_unattached_callback() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": medicine("Codeine phosphate 30mg tablets"),
    }
    unattached: list[dict[str, Any]] = []
    groups = list(group_by_patient([medication, patient(serial=1)], on_unattached=unattached.append))
    assert unattached == [medication] and [g.key for g in groups] == ["Patient/pat-1"]


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "id": "p9"}, "Patient/p9"),
        ({"resourceType": "Condition", "subject": {"reference": "Patient/p9"}}, "Patient/p9"),
        (
            {
                "resourceType": "Condition",
                "subject": {"reference": "https://gp.example.org/fhir/Patient/p9/_history/2"},
            },
            "Patient/p9",
        ),
        ({"resourceType": "Flag", "patient": {"reference": "Patient/p9"}}, "Patient/p9"),
        ({"resourceType": "MedicationRequest", "subject": {"reference": "urn:uuid:5c6f"}}, "urn:uuid:5c6f"),
        ({"resourceType": "Medication", "id": "m1"}, None),
        ({"resourceType": "Condition", "subject": {"reference": "Group/g1"}}, None),
    ],
)
def test_the_patient_key_is_read_from_the_resource_or_its_subject(
    resource: dict[str, Any], expected: str | None
) -> None:
    assert patient_key(resource) == expected


def test_grouping_is_lazy_reading_no_further_than_the_next_patients_first_resource() -> None:
    consumed: list[str] = []

    def stream() -> Iterator[dict[str, Any]]:
        for resource in [
            patient(serial=1),
            request(None, "2024-01-01", 1),
            patient(serial=2),
            request(None, "2024-01-01", 2),
        ]:
            consumed.append(resource["id"])
            yield resource

    groups = group_by_patient(stream())
    assert next(groups).key == "Patient/pat-1"
    assert consumed[-1] == "pat-2" and len(consumed) == 3


def test_a_generated_practice_streams_as_ndjson_into_a_ranked_explained_shortlist() -> None:
    lines = (json.dumps(resource) for resource in practice(300))
    shortlist = top_ranked(screen((json.loads(line) for line in lines), REFERRAL), 10)
    assert len(shortlist) == 10
    assert all(r.eligibility.decision is Decision.ELIGIBLE for r in shortlist)
    assert [r.score for r in shortlist] == sorted((r.score for r in shortlist), reverse=True)
    assert all(r.signals and r.eligibility.reasons for r in shortlist)


def same_patient_again(patients: int) -> Iterator[dict[str, Any]]:
    """`patients` copies of one realistic record set under different ids (so caches stay warm)."""
    template = list(practice(1))
    for serial in range(patients):
        for resource in template:
            copy = json.loads(json.dumps(resource).replace("pat-1000", f"pat-{serial}"))
            yield copy


def _peak_bytes(patients: int) -> int:
    tracemalloc.start()
    top_ranked(screen(same_patient_again(patients), REFERRAL), 10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_stays_flat_as_the_number_of_patients_grows() -> None:
    _peak_bytes(5)  # fill the caches first
    # tracemalloc also counts other threads' allocations (left by earlier tests in the same process):
    # the least of three runs is the screening's own peak.
    small = min(_peak_bytes(40) for _ in range(3))
    large = min(_peak_bytes(400) for _ in range(3))
    # Ten times the patients: only the set of finished patient keys grows, by a short string each
    # (keeping each patient's records would grow by megabytes).
    assert large - small < 360 * 250 + 100_000, (small, large)


def _kept(result: ScreeningResult) -> tuple[str, float]:
    return result.patient_key, result.score


def test_screening_a_stream_gives_the_same_results_as_screening_each_patient() -> None:
    resources = list(practice(40))
    streamed = [_kept(r) for r in screen(resources, REFERRAL)]
    one_by_one = [_kept(screen_patient(g, REFERRAL)) for g in group_by_patient(resources)]
    assert streamed == one_by_one and len(streamed) == 40
