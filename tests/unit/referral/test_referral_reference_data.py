"""The referral service's data files: well formed, sourced, and their codes at least well formed."""

from __future__ import annotations

import pytest

from services.referral.domain.eligibility import load_data
from tests.support.referral_records import nhs_check_digit, nhs_number_for

# Verhoeff tables: every SNOMED CT identifier ends in a Verhoeff check digit, so a mistyped code fails here.
_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_valid(number: str) -> bool:
    check = 0
    for i, digit in enumerate(reversed(number)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(digit)]]
    return check == 0


def coded_entries() -> list[tuple[str, dict]]:
    medicines = [
        (m["ingredient"], c) for m in load_data("medicine-terms.json")["medicines"] for c in m["codes"]
    ]
    categories = load_data("condition-terms.json")["categories"]
    conditions = [(name, c) for name, entry in categories.items() for c in entry["codes"]]
    return medicines + conditions


def test_verhoeff_accepts_known_snomed_ids_and_rejects_a_typo() -> None:
    assert verhoeff_valid("82423001") and verhoeff_valid("17632411000001105")
    assert not verhoeff_valid("82423002")


@pytest.mark.parametrize(
    ("entry", "coding"), coded_entries(), ids=lambda v: v if isinstance(v, str) else v["code"]
)
def test_every_listed_code_is_a_well_formed_snomed_id_with_a_named_source(entry: str, coding: dict) -> None:
    code = coding["code"]
    assert code.isdigit() and 6 <= len(code) <= 18 and verhoeff_valid(code), code
    assert code[-3:-1] in ("00", "10"), "a concept id's partition identifier"
    medicine_sources = load_data("medicine-terms.json")["sources"]
    condition_sources = load_data("condition-terms.json")["sources"]
    assert coding["source"] in medicine_sources or coding["source"] in condition_sources
    assert coding["display"]


def test_no_code_is_listed_for_two_different_things() -> None:
    owners: dict[str, str] = {}
    for entry, coding in coded_entries():
        assert owners.setdefault(coding["code"], entry) == entry, coding["code"]


def test_every_medicine_has_a_class_and_names_and_no_second_set_of_ome_factors() -> None:
    medicines = load_data("medicine-terms.json")["medicines"]
    assert {m["class"] for m in medicines} == {"opioid", "benzodiazepine", "gabapentinoid", "z-drug"}
    for medicine in medicines:
        assert medicine["names"] and all(n == n.lower() for n in medicine["names"])
        assert "ome" not in medicine, "OME factors live in shared/terminology only (one engine)"


def test_every_data_file_names_its_sources() -> None:
    for name in ("medicine-terms.json", "condition-terms.json", "wording-phrases.json"):
        data = load_data(name)
        assert data["sources"] and data["description"]
    for entry in load_data("condition-terms.json")["categories"].values():
        assert entry["source"] and entry["terms"]


def test_synthetic_nhs_numbers_are_valid_and_in_the_999_test_range() -> None:
    numbers = [nhs_number_for(serial) for serial in range(2000)]
    assert "9990000018" in numbers
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert len(number) == 10 and number.startswith("999")
        assert nhs_check_digit(number[:9]) == int(number[9])
