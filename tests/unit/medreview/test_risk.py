"""Risk flags: high dose, specialist advice, co-prescription, several opioids, uncomputable doses."""

from __future__ import annotations

from typing import Any

import pytest

from services.medreview.domain.gates import taper_gates
from services.medreview.domain.ome import oral_morphine_equivalent
from services.medreview.domain.risk import RiskFlag, Severity, risk_flags


def rx(name: str, text: str, rid: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [{"text": text}],
    }


def flags_for(*resources: dict[str, Any]) -> dict[str, RiskFlag]:
    return {flag.code: flag for flag in risk_flags(oral_morphine_equivalent(list(resources)))}


OXY_40_BD = rx("Oxycodone 40mg modified-release tablets", "one twice a day", "oxy")  # 120 mg OME/day


def test_a_total_of_120mg_a_day_is_a_high_dose() -> None:
    flags = flags_for(OXY_40_BD)
    assert set(flags) == {"ome-high-dose"}
    assert flags["ome-high-dose"].severity is Severity.HIGH
    assert flags["ome-high-dose"].evidence == ("MedicationRequest/oxy",)


def test_just_under_120mg_a_day_raises_no_dose_flag() -> None:
    assert flags_for(rx("Oxycodone 5mg capsules", "one every 4 hours", "o")) == {}  # 6 x 5 x 1.5 = 45


def test_300mg_a_day_or_more_asks_for_specialist_advice_instead() -> None:
    flags = flags_for(rx("Morphine 100mg modified-release tablets", "three tablets daily", "m"))
    assert set(flags) == {"ome-specialist-advice"}
    assert "300" in flags["ome-specialist-advice"].detail


def test_an_opioid_with_a_benzodiazepine_is_flagged_with_both_as_evidence() -> None:
    flags = flags_for(rx("Codeine 30mg tablets", "1 qds", "c"), rx("Diazepam 5mg tablets", "1 tds", "d"))
    flag = flags["opioid-benzodiazepine"]
    assert flag.severity is Severity.HIGH
    assert flag.evidence == ("MedicationRequest/c", "MedicationRequest/d")
    assert "MHRA" in flag.source


def test_an_opioid_with_a_gabapentinoid_is_flagged() -> None:
    flags = flags_for(rx("Tramadol 50mg capsules", "1 qds", "t"), rx("Pregabalin 75mg capsules", "1 bd", "p"))
    assert flags["opioid-gabapentinoid"].severity is Severity.HIGH


def test_an_opioid_with_a_z_drug_is_flagged_as_another_sedative() -> None:
    flags = flags_for(
        rx("Codeine 30mg tablets", "1 qds", "c"), rx("Zopiclone 7.5mg tablets", "1 at night", "z")
    )
    assert flags["opioid-other-sedative"].severity is Severity.MODERATE


def test_amitriptyline_is_not_flagged_as_a_sedative() -> None:
    flags = flags_for(
        rx("Codeine 30mg tablets", "1 qds", "c"), rx("Amitriptyline 10mg tablets", "1 at night", "a")
    )
    assert flags == {}


def test_a_benzodiazepine_without_an_opioid_is_not_a_co_prescription() -> None:
    assert flags_for(rx("Diazepam 5mg tablets", "1 tds", "d")) == {}


def test_more_than_one_opioid_is_flagged() -> None:
    flags = flags_for(OXY_40_BD, rx("Codeine 30mg tablets", "1 qds", "c"))
    assert flags["multiple-opioids"].evidence == ("MedicationRequest/oxy", "MedicationRequest/c")
    assert "ome-high-dose" in flags


def test_a_dose_that_cannot_be_computed_is_flagged_and_the_total_is_a_lower_bound() -> None:
    flags = flags_for(OXY_40_BD, rx("Methadone 1mg/ml oral solution", "30ml daily", "meth"))
    assert flags["ome-not-computable"].evidence == ("MedicationRequest/meth",)
    assert "at least" in flags["ome-high-dose"].summary


def test_flags_come_most_severe_first() -> None:
    result = oral_morphine_equivalent([rx("Methadone 1mg/ml oral solution", "30ml daily", "meth"), OXY_40_BD])
    severities = [flag.severity for flag in risk_flags(result)]
    assert severities == sorted(severities, key=list(Severity).index)


def test_tramadol_above_400mg_a_day_is_above_the_licensed_maximum() -> None:
    # Tramadol 100mg MR: 2 tablets twice a day + 50mg capsules 2 four times a day when required
    # = 400 + 400 = 800 mg tramadol a day > 400 (BNF)
    flags = flags_for(
        rx("Tramadol 100mg modified-release tablets", "two twice a day", "mr"),
        rx("Tramadol 50mg capsules", "two four times a day when required", "ir"),
    )
    excess = flags["above-licensed-maximum"]
    assert excess.severity is Severity.HIGH and "800 mg" in excess.summary
    assert excess.evidence == ("MedicationRequest/mr", "MedicationRequest/ir")


def test_400mg_tramadol_a_day_is_at_the_maximum_not_above_it() -> None:
    assert "above-licensed-maximum" not in flags_for(rx("Tramadol 50mg capsules", "2 qds", "t"))


def test_co_codamol_over_8_tablets_a_day_is_above_both_codeine_and_paracetamol_maxima() -> None:
    # 3 x 30/500 four times a day = 12 tablets: codeine 360 mg > 240, paracetamol 6000 mg > 4000
    flags = risk_flags(oral_morphine_equivalent([rx("Co-codamol 30mg/500mg tablets", "3 qds", "cc")]))
    summaries = sorted(f.summary for f in flags if f.code == "above-licensed-maximum")
    assert summaries == [
        "Codeine 360 mg a day is above the licensed maximum of 240 mg",
        "Paracetamol 6000 mg a day is above the licensed maximum of 4000 mg",
    ]


def test_dihydrocodeine_above_240mg_a_day_is_flagged() -> None:
    # DF118 Forte 40mg: 2 tablets four times a day = 320 mg > 240
    assert "above-licensed-maximum" in flags_for(rx("DF118 Forte 40mg tablets", "2 qds", "d"))


def test_transmucosal_fentanyl_and_substitution_therapy_have_their_own_flags() -> None:
    flags = flags_for(
        rx("Effentora 100microgram buccal tablets", "one when required", "f"),
        rx("Espranor 8mg oral lyophilisates", "one daily", "b"),
    )
    assert flags["transmucosal-fentanyl"].severity is Severity.HIGH
    assert "specialist" in flags["transmucosal-fentanyl"].detail
    assert "drug service" in flags["opioid-substitution-therapy"].detail


def test_paracetamol_prescribed_alongside_a_combination_counts_towards_its_maximum() -> None:
    # co-codamol 30/500 2 qds: 8 x 500 = 4000 mg; paracetamol 500mg tablets 2 qds: 4000 mg; 8000 > 4000 (BNF)
    flags = risk_flags(
        oral_morphine_equivalent(
            [
                rx("Co-codamol 30mg/500mg tablets", "2 qds", "cc"),
                rx("Paracetamol 500mg tablets", "2 qds", "p"),
            ]
        )
    )
    [excess] = [f for f in flags if f.code == "above-licensed-maximum"]
    assert excess.summary == "Paracetamol 8000 mg a day is above the licensed maximum of 4000 mg"
    assert excess.evidence == ("MedicationRequest/cc", "MedicationRequest/p")


def test_paracetamol_liquid_alongside_a_combination_is_counted_by_its_strength() -> None:
    # co-codamol 8/500 2 qds = 4000 mg; paracetamol 250mg/5ml 10 ml qds = 50 mg/ml x 40 ml = 2000; 6000 > 4000
    flags = flags_for(
        rx("Co-codamol 8mg/500mg tablets", "2 qds", "cc"),
        rx("Paracetamol 250mg/5ml oral suspension", "10ml qds", "p"),
    )
    assert "Paracetamol 6000 mg a day" in flags["above-licensed-maximum"].summary


def test_paracetamol_within_the_maximum_with_a_combination_is_not_flagged() -> None:
    # co-codamol 30/500 1 qds (2000 mg) + paracetamol 500mg 1 qds (2000 mg) = 4000 mg: at the maximum
    flags = flags_for(
        rx("Co-codamol 30mg/500mg tablets", "1 qds", "cc"), rx("Paracetamol 500mg tablets", "1 qds", "p")
    )
    assert "above-licensed-maximum" not in flags


@pytest.mark.parametrize(
    ("resources", "evidence"),
    [
        # Methadone for pain (tablets) and as substitution therapy (1 mg/ml oral solution, DHSC 2017 "Orange
        # book"): either is methadone, which has no fixed oral morphine equivalent (Opioids Aware).
        ([rx("Methadone 5mg tablets", "one twice a day", "m")], ("MedicationRequest/m",)),
        ([rx("Methadone 1mg/ml oral solution", "30ml daily", "m")], ("MedicationRequest/m",)),
        (
            [
                rx("Methadone 5mg tablets", "one twice a day", "a"),
                rx("Morphine 10mg tablets", "one four times a day", "b"),
                rx("Methadone 1mg/ml oral solution", "30ml daily", "c"),
            ],
            ("MedicationRequest/a", "MedicationRequest/c"),
        ),
        ([rx("Morphine 30mg modified-release tablets", "one twice a day", "b")], None),
        ([rx("Buprenorphine 8mg sublingual tablets", "one daily", "b")], None),  # substitution, not methadone
    ],
)
def test_methadone_is_flagged_on_the_same_medicines_as_its_gate(
    resources: list[dict[str, Any]], evidence: tuple[str, ...] | None
) -> None:
    result = oral_morphine_equivalent(resources)
    flags = {flag.code: flag for flag in risk_flags(result)}
    gates = {gate.code: gate.evidence for gate in taper_gates(result)}
    if evidence is None:
        assert "methadone" not in flags and "methadone" not in gates
        return
    assert flags["methadone"].severity is Severity.HIGH
    assert flags["methadone"].evidence == evidence == gates["methadone"]
    assert "specialist" in flags["methadone"].detail
