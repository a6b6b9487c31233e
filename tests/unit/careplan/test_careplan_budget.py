"""A patient's community budget against the cost of community referrals (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.careplan.domain.budget import BudgetError, budget_of, cost_of, position
from services.careplan.domain.catalogue import BUDGET_EXTENSION, COMMUNITY_STATUS_EXTENSION, COST_EXTENSION


def _referral(cost: str, status: str = "active", progress: str | None = None) -> dict[str, Any]:
    extensions: list[dict[str, Any]] = [
        {"url": COST_EXTENSION, "valueMoney": {"value": cost, "currency": "GBP"}}
    ]
    if progress:
        extensions.append({"url": COMMUNITY_STATUS_EXTENSION, "valueCoding": {"code": progress}})
    return {"resourceType": "ServiceRequest", "status": status, "extension": extensions}


@pytest.mark.parametrize(
    ("costs", "committed"),
    [
        ([], "0.00"),
        ([_referral("40")], "40.00"),
        ([_referral("40"), _referral("60.5")], "100.50"),
        ([_referral("40"), _referral("60", status="revoked")], "40.00"),
        ([_referral("40"), _referral("60", progress="declined")], "40.00"),
        ([_referral("40", progress="waiting"), _referral("60", progress="started")], "100.00"),
    ],
)
def test_committed_spend_counts_referrals_not_revoked_or_declined(
    costs: list[dict[str, Any]], committed: str
) -> None:
    assert position(Decimal("250"), costs).committed == Decimal(committed)


def test_spend_over_the_budget_is_refused_and_says_by_how_much() -> None:
    with pytest.raises(BudgetError, match=r"£10\.00 over"):
        position(Decimal("100.00"), [_referral("60"), _referral("50")])


def test_the_plan_budget_overrides_the_default() -> None:
    plan = {"extension": [{"url": BUDGET_EXTENSION, "valueMoney": {"value": 400, "currency": "GBP"}}]}
    assert budget_of(plan, Decimal("250")) == Decimal("400.00")
    assert budget_of({}, Decimal("250")) == Decimal("250.00")
    assert budget_of(None, Decimal("250")) == Decimal("250.00")


@pytest.mark.parametrize(
    "money",
    [{"value": "ten"}, {"value": 5, "currency": "EUR"}, {"value": -1}, {"currency": "GBP"}],
)
def test_a_cost_that_cannot_be_read_is_refused(money: dict[str, Any]) -> None:
    with pytest.raises(BudgetError):
        cost_of({"extension": [{"url": COST_EXTENSION, "valueMoney": money}]})
