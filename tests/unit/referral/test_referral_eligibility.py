"""Eligibility rules, table-driven: every rule, every edge (referral date 15 June 2024 unless a test says)."""

from __future__ import annotations

from datetime import date

import pytest

from services.referral.domain.eligibility import (
    ELIGIBILITY_REASON_SYSTEM,
    SNOMED_SYSTEM,
    Decision,
    EligibilityResult,
    Outcome,
    PatientRecords,
    add_months,
    assess_eligibility,
    load_data,
    parse_fhir_date,
)
from tests.support.referral_records import (
    CHRONIC_BACK_PAIN,
    CO_CODAMOL_30_500,
    condition,
    flag,
    medicine,
    monthly,
    patient,
    records,
    request,
    statement,
    typical,
)

REFERRAL = date(2024, 6, 15)
ELIGIBLE, INELIGIBLE, REVIEW = Decision.ELIGIBLE, Decision.INELIGIBLE, Decision.NEEDS_REVIEW
AMLODIPINE = medicine("Amlodipine 5mg tablets")


def on(*prescription_dates: str, concept: dict | None = None) -> PatientRecords:
    """The typical patient, but with exactly these opioid prescription dates."""
    return records(patient(), *(request(concept, d) for d in prescription_dates), CHRONIC_BACK_PAIN)


def codes(result: EligibilityResult) -> set[str]:
    return {r.coding.code for r in result.reasons}


def contained_morphine() -> dict:
    return {
        "contained": [
            {
                "resourceType": "Medication",
                "id": "m1",
                "code": {"coding": [{"system": SNOMED_SYSTEM, "code": "60886004"}]},
            }
        ],
        "medicationReference": {"reference": "#m1"},
    }


def requests_with(**extra: object) -> list[dict]:
    return [request(None, None, **extra) for _ in range(3)]


CASES = [
    # age
    pytest.param(
        typical(birth_date="2006-06-15"),
        ELIGIBLE,
        {"adult"},
        id="an 18th birthday on the referral date makes an adult",
    ),
    pytest.param(
        typical(birth_date="2006-06-16"),
        INELIGIBLE,
        {"under-18"},
        id="turning 18 the day after the referral date is under 18",
    ),
    pytest.param(typical(birth_date=None), REVIEW, {"birth-date-unknown"}, id="no birth date needs review"),
    pytest.param(
        typical(birth_date="2006"),
        REVIEW,
        {"birth-date-unknown"},
        id="a birth year that could be 17 or 18 needs review",
    ),
    pytest.param(
        typical(birth_date="1980"), ELIGIBLE, {"adult"}, id="a birth year over 18 on every day of it decides"
    ),
    pytest.param(
        typical(birth_date="2006-07"),
        INELIGIBLE,
        {"under-18"},
        id="a birth month under 18 on every day of it decides",
    ),
    pytest.param(
        typical(birth_date="2006-02-30"),
        REVIEW,
        {"birth-date-unknown"},
        id="an impossible birth date needs review",
    ),
    # more than 3 months
    pytest.param(
        on("2024-03-15", "2024-04-15", "2024-05-15", "2024-06-15"),
        INELIGIBLE,
        {"opioid-3-months-or-less"},
        id="a first opioid prescription exactly 3 months before the referral is not more than 3 months",
    ),
    pytest.param(
        on("2024-03-14", "2024-04-14", "2024-05-14", "2024-06-14"),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a first opioid prescription 3 months and a day before the referral is long term",
    ),
    pytest.param(
        on("2022-01-10", "2022-02-10", "2022-03-10", "2024-04-01", "2024-05-01", "2024-06-01"),
        INELIGIBLE,
        {"opioid-3-months-or-less"},
        id="a gap of more than 3 months starts a new course",
    ),
    pytest.param(
        on("2024-01-01", "2024-02-01", "2024-05-01", "2024-06-01"),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a gap of exactly 3 months keeps the course going",
    ),
    pytest.param(
        on(*[f"2023-{m:02d}-01" for m in range(1, 13)]),
        INELIGIBLE,
        {"opioid-not-current"},
        id="opioids last prescribed more than 3 months before the referral are not current",
    ),
    # at least three prescriptions
    pytest.param(
        on("2024-01-10", "2024-03-10", "2024-05-10"),
        ELIGIBLE,
        {"long-term-opioid"},
        id="exactly three opioid prescriptions in the period are enough",
    ),
    pytest.param(
        on("2024-02-10", "2024-05-01"),
        INELIGIBLE,
        {"fewer-than-3-opioid-prescriptions"},
        id="two opioid prescriptions in the period are too few",
    ),
    pytest.param(
        on("2024-02-10", "2024-04-10", "2024-07-10"),
        INELIGIBLE,
        {"fewer-than-3-opioid-prescriptions"},
        id="a prescription dated after the referral is not counted",
    ),
    pytest.param(
        records(
            patient(),
            *monthly(date(2024, 3, 1), 2),
            request(None, "2024-05-01", status="entered-in-error"),
            CHRONIC_BACK_PAIN,
        ),
        INELIGIBLE,
        {"fewer-than-3-opioid-prescriptions"},
        id="a prescription entered in error is not counted",
    ),
    pytest.param(
        records(
            patient(),
            *monthly(date(2024, 3, 1), 2),
            statement(medicine("Codeine 30mg tablets"), effectiveDateTime="2024-04-01"),
            CHRONIC_BACK_PAIN,
        ),
        INELIGIBLE,
        {"fewer-than-3-opioid-prescriptions"},
        id="a statement of the same opioid on the day of a request counts once",
    ),
    # dates from every field
    pytest.param(
        records(
            patient(),
            *[
                request(None, None, dispenseRequest={"validityPeriod": {"start": d}})
                for d in ("2024-02-02", "2024-03-02", "2024-04-02")
            ],
            CHRONIC_BACK_PAIN,
        ),
        ELIGIBLE,
        {"long-term-opioid"},
        id="the validity period start stands in for a missing authored date",
    ),
    pytest.param(
        records(
            patient(),
            *[
                request(None, d, dispenseRequest={"validityPeriod": {"start": d, "end": "2024-04-30"}})
                for d in ("2023-10-02", "2023-11-02", "2023-12-02")
            ],
            CHRONIC_BACK_PAIN,
        ),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a validity period running into the last 3 months keeps the course current",
    ),
    pytest.param(
        records(
            patient(),
            statement(CO_CODAMOL_30_500, effectiveDateTime="2024-01-05"),
            statement(CO_CODAMOL_30_500, effectivePeriod={"start": "2024-03-05"}),
            statement(CO_CODAMOL_30_500, dateAsserted="2024-05-05"),
            CHRONIC_BACK_PAIN,
        ),
        ELIGIBLE,
        {"long-term-opioid"},
        id="medication statement effective and asserted dates count",
    ),
    pytest.param(
        records(
            patient(),
            statement(CO_CODAMOL_30_500, effectivePeriod={"start": "2023-01-01"}),
            *monthly(date(2023, 2, 1), 2),
            CHRONIC_BACK_PAIN,
        ),
        ELIGIBLE,
        {"long-term-opioid"},
        id="an active statement with no end keeps the course current",
    ),
    pytest.param(
        on("2024-02-01", "2024-04-01", "2024-03"),
        REVIEW,
        {"opioid-dates-unknown"},
        id="an opioid prescription without a full date needs review when it could decide",
    ),
    # recognising medicines
    pytest.param(
        typical(concept=medicine("Co-codamol 30mg/500mg tablets")),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a text only medicine is recognised by its name",
    ),
    pytest.param(
        typical(concept=medicine(code="322341003")),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a dm+d product code alone is recognised",
    ),
    pytest.param(
        typical(concept=medicine(code="387024006", system=SNOMED_SYSTEM)),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a SNOMED CT ingredient code alone is recognised",
    ),
    pytest.param(
        typical(
            concept={
                "coding": [
                    {
                        "system": "https://example.org/local",
                        "code": "X1",
                        "display": "OxyContin 10mg modified-release tablets",
                    }
                ]
            }
        ),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a brand name in a coding display is recognised",
    ),
    pytest.param(
        records(
            patient(),
            *[request(None, d, **contained_morphine()) for d in ("2024-02-03", "2024-03-03", "2024-04-03")],
            CHRONIC_BACK_PAIN,
        ),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a contained Medication's code is recognised",
    ),
    pytest.param(
        records(
            patient(),
            *monthly(date(2024, 1, 5), 2),
            request(medicine(code="99999999"), "2024-03-05"),
            CHRONIC_BACK_PAIN,
        ),
        REVIEW,
        {"medicine-not-recognised"},
        id="an unidentifiable medicine needs review when it could decide",
    ),
    pytest.param(
        records(patient(), request(medicine(code="99999999"), "2024-03-05"), CHRONIC_BACK_PAIN),
        REVIEW,
        {"medicine-not-recognised"},
        id="an unidentifiable medicine and no opioid needs review",
    ),
    pytest.param(
        records(patient(), *monthly(date(2023, 6, 1), 12, AMLODIPINE), CHRONIC_BACK_PAIN),
        INELIGIBLE,
        {"no-opioid-prescribed"},
        id="medicines that are not opioids make a patient ineligible",
    ),
    pytest.param(
        records(patient(), CHRONIC_BACK_PAIN),
        REVIEW,
        {"medication-record-missing"},
        id="no medication record needs review",
    ),
    pytest.param(
        records(patient(), request(None, "2024-01-05", status="entered-in-error"), CHRONIC_BACK_PAIN),
        REVIEW,
        {"medication-record-missing"},
        id="medication records that were all entered in error need review",
    ),
    # cancer
    pytest.param(
        typical(extra=(condition("Malignant neoplasm of breast"),)),
        INELIGIBLE,
        {"active-cancer"},
        id="active cancer excludes",
    ),
    pytest.param(
        typical(extra=(condition("Carcinoma of prostate", clinical="recurrence"),)),
        INELIGIBLE,
        {"active-cancer"},
        id="a recurrence of cancer excludes",
    ),
    pytest.param(
        typical(extra=(condition(code="363346000"),)),
        INELIGIBLE,
        {"active-cancer"},
        id="cancer coded in SNOMED CT alone excludes",
    ),
    pytest.param(
        typical(extra=(condition("Breast cancer", clinical="remission"),)),
        ELIGIBLE,
        {"cancer-not-active", "long-term-opioid"},
        id="cancer in remission does not exclude",
    ),
    pytest.param(
        typical(extra=(condition("Hodgkin lymphoma", clinical="resolved"),)),
        ELIGIBLE,
        {"cancer-not-active"},
        id="resolved cancer does not exclude",
    ),
    pytest.param(
        typical(extra=(condition("Bowel cancer", clinical=None),)),
        REVIEW,
        {"cancer-status-unknown"},
        id="cancer without a clinical status needs review",
    ),
    pytest.param(
        typical(extra=(condition("Lung cancer", verificationStatus={"coding": [{"code": "provisional"}]}),)),
        REVIEW,
        {"cancer-status-unknown"},
        id="a provisional cancer diagnosis needs review",
    ),
    pytest.param(
        typical(extra=(condition("Lung cancer", verificationStatus={"coding": [{"code": "refuted"}]}),)),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a refuted cancer diagnosis is ignored",
    ),
    pytest.param(
        typical(extra=(condition("Family history of bowel cancer"),)),
        ELIGIBLE,
        {"long-term-opioid"},
        id="a family history of cancer is not the patient's cancer",
    ),
    # end of life
    pytest.param(
        typical(extra=(condition(code="103735009"),)),
        INELIGIBLE,
        {"end-of-life-care"},
        id="palliative care excludes",
    ),
    pytest.param(
        typical(extra=(flag("On end of life care register"),)),
        INELIGIBLE,
        {"end-of-life-care"},
        id="an active end of life care flag excludes",
    ),
    pytest.param(
        typical(extra=(flag("Palliative care", status="inactive"),)),
        ELIGIBLE,
        {"long-term-opioid"},
        id="an inactive palliative care flag does not exclude",
    ),
    pytest.param(
        typical(extra=(condition("Receiving palliative care", clinical=None),)),
        REVIEW,
        {"end-of-life-status-unknown"},
        id="palliative care without a status needs review",
    ),
    # illicit drugs
    pytest.param(
        records(
            patient(), *monthly(date(2023, 6, 1), 12, AMLODIPINE), condition("Heroin use"), CHRONIC_BACK_PAIN
        ),
        INELIGIBLE,
        {"illicit-drug-use-only"},
        id="illicit drug use only excludes",
    ),
    pytest.param(
        typical(extra=(condition("Illicit drug use"),)),
        ELIGIBLE,
        {"illicit-drug-use-recorded", "long-term-opioid"},
        id="illicit drug use alongside prescribed opioids is noted not excluded",
    ),
    # chronic non-cancer pain
    pytest.param(
        records(patient(), *monthly(date(2023, 6, 1), 12)),
        REVIEW,
        {"pain-condition-not-recorded"},
        id="no pain condition recorded needs review",
    ),
    pytest.param(
        records(patient(), *monthly(date(2023, 6, 1), 12), condition("Knee pain", recorded="2024-06-01")),
        REVIEW,
        {"pain-condition-not-recorded"},
        id="a painful condition recorded last month is not yet chronic",
    ),
    pytest.param(
        records(patient(), *monthly(date(2023, 6, 1), 12), condition("Knee pain", recorded=None)),
        REVIEW,
        {"pain-condition-not-recorded"},
        id="a painful condition with no date is not known to be chronic",
    ),
    pytest.param(
        records(
            patient(),
            *monthly(date(2023, 6, 1), 12),
            condition("Knee pain", recorded=None, onsetDateTime="2020-02-01"),
        ),
        ELIGIBLE,
        {"chronic-non-cancer-pain"},
        id="a painful condition with onset years ago is chronic",
    ),
    pytest.param(
        records(patient(), *monthly(date(2023, 6, 1), 12), condition("Fibromyalgia", recorded="2024-06-01")),
        ELIGIBLE,
        {"chronic-non-cancer-pain"},
        id="a condition chronic by its nature counts whatever its date",
    ),
    pytest.param(
        records(patient(), *monthly(date(2023, 6, 1), 12), condition(code="82423001")),
        ELIGIBLE,
        {"chronic-non-cancer-pain"},
        id="chronic pain coded in SNOMED CT alone counts",
    ),
    pytest.param(
        records(
            patient(),
            *monthly(date(2023, 6, 1), 12),
            condition("Osteoarthritis of knee", clinical="resolved"),
        ),
        REVIEW,
        {"pain-condition-not-recorded"},
        id="a resolved pain condition needs review",
    ),
    pytest.param(
        records(patient(), *monthly(date(2023, 6, 1), 12), condition("Cancer pain")),
        INELIGIBLE,
        {"active-cancer", "pain-condition-not-recorded"},
        id="cancer pain is not chronic non-cancer pain",
    ),
]


@pytest.mark.parametrize(("patient_records", "decision", "expected"), CASES)
def test_each_rule_decides_as_the_service_evaluation_defines_it(
    patient_records: PatientRecords, decision: Decision, expected: set[str]
) -> None:
    result = assess_eligibility(patient_records, REFERRAL)
    assert result.decision is decision, [(r.coding.code, r.detail) for r in result.reasons]
    assert expected <= codes(result)


def test_a_typical_patient_from_the_interviewed_cohort_is_eligible_with_every_inclusion_met() -> None:
    result = assess_eligibility(typical(), REFERRAL)
    assert result.decision is Decision.ELIGIBLE
    assert codes(result) == {"adult", "long-term-opioid", "chronic-non-cancer-pain"}
    assert all(r.outcome is Outcome.MET for r in result.reasons)


def test_deciding_reasons_come_first() -> None:
    result = assess_eligibility(typical(birth_date=None, extra=(condition("Bowel cancer"),)), REFERRAL)
    assert result.decision is Decision.INELIGIBLE
    outcomes = [r.outcome for r in result.reasons]
    assert outcomes[0] is Outcome.EXCLUDED
    assert outcomes == sorted(outcomes, key=list(Outcome).index)


@pytest.mark.parametrize(
    ("referral", "decision"),
    [(date(2022, 2, 28), Decision.INELIGIBLE), (date(2022, 3, 1), Decision.ELIGIBLE)],
    ids=["on 28 February", "on 1 March"],
)
def test_someone_born_on_29_february_turns_18_on_1_march_in_a_common_year(
    referral: date, decision: Decision
) -> None:
    patient_records = typical(birth_date="2004-02-29", first=date(2021, 1, 1), count=14)
    assert assess_eligibility(patient_records, referral).decision is decision


@pytest.mark.parametrize(
    ("first", "decision"),
    [("2024-02-29", Decision.INELIGIBLE), ("2024-02-28", Decision.ELIGIBLE)],
    ids=["first prescription on 29 February", "first prescription on 28 February"],
)
def test_three_months_before_31_may_is_the_end_of_february(first: str, decision: Decision) -> None:
    patient_records = on(first, "2024-04-01", "2024-05-01")
    assert assess_eligibility(patient_records, date(2024, 5, 31)).decision is decision


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 6, 15), -3, date(2024, 3, 15)),
        (date(2024, 5, 31), -3, date(2024, 2, 29)),
        (date(2023, 5, 31), -3, date(2023, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2024, 2, 10), -2, date(2023, 12, 10)),
        (date(2023, 11, 30), 3, date(2024, 2, 29)),
    ],
)
def test_calendar_months_clamp_to_the_end_of_a_shorter_month(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("2024-03-05T23:30:00+01:00", date(2024, 3, 5)),
        ("2024-03", None),
        ("2024", None),
        ("2024-02-30", None),
        (None, None),
        (20240305, None),
    ],
)
def test_only_day_precise_fhir_dates_are_read_as_dates(value: object, expected: date | None) -> None:
    assert parse_fhir_date(value) == expected


def test_every_reason_is_a_coding_from_the_published_code_system() -> None:
    system = load_data("codesystem-eligibility-reason.json")
    concepts = {c["code"]: c for c in system["concept"]}
    for case in CASES:
        for reason in assess_eligibility(case.values[0], REFERRAL).reasons:
            assert reason.coding.system == ELIGIBILITY_REASON_SYSTEM
            assert concepts[reason.coding.code]["display"] == reason.coding.display
            assert reason.coding.as_fhir() == {
                "system": ELIGIBILITY_REASON_SYSTEM,
                "code": reason.coding.code,
                "display": reason.coding.display,
            }


def test_the_code_system_is_a_complete_r4_code_system_at_the_published_url() -> None:
    system = load_data("codesystem-eligibility-reason.json")
    assert system["resourceType"] == "CodeSystem"
    assert system["url"] == ELIGIBILITY_REASON_SYSTEM
    assert system["status"] == "active" and system["content"] == "complete"
    assert system["count"] == len(system["concept"]) == len({c["code"] for c in system["concept"]})
    for concept in system["concept"]:
        assert concept["display"] and concept["definition"]
        assert [p["code"] for p in concept["property"]] == ["outcome"]
        assert Outcome(concept["property"][0]["valueCode"])


def test_reading_the_rules_changes_nothing_in_the_input() -> None:
    patient_records = typical(
        extra=(condition("Breast cancer", clinical="remission"), flag("Palliative care", "inactive"))
    )
    before = repr(patient_records)
    assess_eligibility(patient_records, REFERRAL)
    assert repr(patient_records) == before
