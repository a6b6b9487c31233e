"""The default pace from the record's first opioid prescription (``services.medreview.domain.pace``).

Expected dates worked by hand: a year or more of use is 365 days or more before the plan's start (UK practice
guidance in docs/domain/reference-facts.md: 10% a month or slower after a year or more of use)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.medreview.domain.pace import first_opioid_use, is_long_term
from shared.terminology import load_product_catalogue

CATALOGUE = load_product_catalogue()
OURS = {
    "tag": [
        {"system": "https://pain-review.example.org/fhir/CodeSystem/medication-source", "code": "medreview"}
    ]
}


def request(name: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"text": name}, **fields}


def statement(name: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "MedicationStatement", "medicationCodeableConcept": {"text": name}, **fields}


MST = "Morphine sulfate 60mg modified-release tablets"


@pytest.mark.parametrize(
    ("resources", "first"),
    [
        ([request(MST, authoredOn="2025-06-01T09:00:00Z")], date(2025, 6, 1)),
        # an older, stopped course of another opioid is earlier use
        (
            [
                request(MST, status="active", authoredOn="2025-06-01"),
                request("Codeine 30mg tablets", status="stopped", authoredOn="2019-02-11"),
            ],
            date(2019, 2, 11),
        ),
        # a course's start (MedicationStatement.effectivePeriod.start, effectiveDateTime) counts
        ([statement(MST, effectivePeriod={"start": "2023-08-20"})], date(2023, 8, 20)),
        ([statement(MST, effectiveDateTime="2024-01-02T08:00:00Z")], date(2024, 1, 2)),
        # a non-opioid written earlier, and the service's own proposals and orders, say nothing
        (
            [
                request("Diazepam 5mg tablets", authoredOn="2010-01-01"),
                request(MST, authoredOn="2026-02-01", meta=OURS),
                request(MST, authoredOn="2025-12-24"),
            ],
            date(2025, 12, 24),
        ),
        ([request(MST)], None),
    ],
)
def test_first_opioid_use_is_the_earliest_opioid_date_on_the_record(
    resources: list[dict[str, Any]], first: date | None
) -> None:
    assert first_opioid_use(resources, CATALOGUE) == first


@pytest.mark.parametrize(
    ("first", "on", "long_term"),
    [
        (date(2025, 3, 2), date(2026, 3, 2), True),  # 365 days: a year
        (date(2025, 3, 3), date(2026, 3, 2), False),  # 364 days
        (date(2019, 2, 11), date(2026, 3, 2), True),
        (None, date(2026, 3, 2), False),  # unknown: the two-weekly default, said so on the plan
    ],
)
def test_a_year_or_more_of_use_is_long_term(first: date | None, on: date, long_term: bool) -> None:
    assert is_long_term(first, on) is long_term
