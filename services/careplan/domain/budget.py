"""A patient's budget for community services (social prescribing), tracked against what referrals cost.

Pure. The budget is a ``Money`` on the patient's pain management plan (extension
``community-budget``; the service's default when absent); each community ``ServiceRequest`` carries
its cost (extension ``community-service-cost``). A referral counts against the budget unless it was
revoked, entered in error or declined (nothing was spent). Amounts are GBP, to the penny.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from services.careplan.domain.catalogue import BUDGET_EXTENSION, COMMUNITY_STATUS_EXTENSION, COST_EXTENSION

__all__ = ["BudgetError", "BudgetPosition", "budget_of", "cost_of", "counts_against_budget", "position"]

CURRENCY = "GBP"
PENNY = Decimal("0.01")
NOT_SPENT = frozenset({"revoked", "entered-in-error"})


class BudgetError(ValueError):
    """A cost that cannot be read, or spend over the budget (the API answers 422)."""


@dataclass(frozen=True, slots=True)
class BudgetPosition:
    """Budget, committed spend and what remains, in GBP."""

    budget: Decimal
    committed: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.committed


def _money(resource: Mapping[str, Any], url: str) -> Decimal | None:
    for extension in resource.get("extension") or []:
        if extension.get("url") != url:
            continue
        money = extension.get("valueMoney")
        if not isinstance(money, Mapping) or "value" not in money:
            raise BudgetError(f"{url} needs a valueMoney with a value")
        if money.get("currency", CURRENCY) != CURRENCY:
            raise BudgetError(f"amounts are in {CURRENCY}, not {money.get('currency')}")
        try:
            value = Decimal(str(money["value"])).quantize(PENNY)
        except InvalidOperation:
            raise BudgetError(f"{money['value']!r} is not an amount") from None
        if value < 0:
            raise BudgetError("an amount cannot be negative")
        return value
    return None


def cost_of(request: Mapping[str, Any]) -> Decimal:
    """The cost of a community referral (GBP); 0 when none is recorded."""
    return _money(request, COST_EXTENSION) or Decimal("0.00")


def budget_of(plan: Mapping[str, Any] | None, default: Decimal) -> Decimal:
    """The patient's community budget: the plan's, else ``default`` (GBP)."""
    found = _money(plan, BUDGET_EXTENSION) if plan is not None else None
    return found if found is not None else default.quantize(PENNY)


def counts_against_budget(request: Mapping[str, Any]) -> bool:
    """Whether a referral's cost is spent: not revoked, not entered in error, not declined."""
    if request.get("status") in NOT_SPENT:
        return False
    for extension in request.get("extension") or []:
        if extension.get("url") == COMMUNITY_STATUS_EXTENSION:
            coding = extension.get("valueCoding") or {}
            if coding.get("code") == "declined":
                return False
    return True


def position(budget: Decimal, requests: Iterable[Mapping[str, Any]]) -> BudgetPosition:
    """The budget against the referrals that count; raises ``BudgetError`` when they exceed it."""
    committed = sum((cost_of(r) for r in requests if counts_against_budget(r)), Decimal("0.00"))
    if committed > budget:
        raise BudgetError(
            f"this would commit £{committed} of the patient's £{budget} community budget "
            f"(£{committed - budget} over)"
        )
    return BudgetPosition(budget, committed)
