"""Rules of the pain management plan: activity and plan status changes, agreement, what was received.

Pure: FHIR JSON dicts in, decisions or new dicts out; the time is an argument. Activities are matched
across versions by their element ``id`` (the intervention code, see :func:`activity_key`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.careplan.domain.catalogue import AGREEMENT_EXTENSION

__all__ = [
    "AGREEING_PARTIES",
    "RECEIVED_STATUSES",
    "NewActivity",
    "PlanRuleError",
    "activity_key",
    "add_activities",
    "agreements_of",
    "check_activity_change",
    "check_activity_shapes",
    "check_plan_change",
    "check_plan_update",
    "intervention_codes",
    "received_in_any_version",
    "received_interventions",
    "with_agreements",
]

AGREEING_PARTIES = frozenset({"patient", "project-worker"})
RECEIVED_STATUSES = frozenset({"in-progress", "completed"})
NEEDS_REASON = frozenset({"stopped", "cancelled"})
TERMINAL_ACTIVITY = frozenset({"completed", "stopped", "cancelled", "entered-in-error"})
TERMINAL_PLAN = frozenset({"completed", "revoked", "entered-in-error"})
NOT_BACK_TO = frozenset({"not-started", "scheduled"})


class PlanRuleError(ValueError):
    """A change the plan's rules refuse (the API answers 422)."""


def check_activity_change(old: str | None, new: str, *, has_reason: bool) -> None:
    """May an activity go from status ``old`` (``None``: new activity) to ``new``?

    Stopping or cancelling needs a reason; finished activities stay finished (start a new one);
    started ones do not go back to not started or scheduled. ``entered-in-error`` is always allowed.
    """
    if new == "entered-in-error" or old == new:
        if new in NEEDS_REASON and not has_reason:
            raise PlanRuleError(f"an activity that is {new} needs a statusReason")
        return
    if new in NEEDS_REASON and not has_reason:
        raise PlanRuleError(f"an activity that is {new} needs a statusReason")
    if old in TERMINAL_ACTIVITY:
        raise PlanRuleError(f"an activity that is {old} cannot become {new}; add a new activity instead")
    if old in ("in-progress", "on-hold") and new in NOT_BACK_TO:
        raise PlanRuleError(f"an activity that is {old} cannot go back to {new}")


def check_plan_change(old: str | None, new: str, agreements: Iterable[str]) -> None:
    """May the plan go from ``old`` (``None``: new plan) to ``new``?

    A plan becomes active only when both the patient and the project worker agreed to it; completed
    and revoked plans are final; an active plan does not go back to draft.
    """
    if old == new or new == "entered-in-error":
        return
    if old in TERMINAL_PLAN:
        raise PlanRuleError(f"a {old} plan cannot become {new}")
    if new == "active":
        missing = AGREEING_PARTIES - set(agreements)
        if missing:
            raise PlanRuleError(
                "the plan becomes active only when the patient and the project worker agree to it; "
                f"no agreement recorded for: {', '.join(sorted(missing))}"
            )
    if old in ("active", "on-hold") and new == "draft":
        raise PlanRuleError(f"an {old} plan cannot go back to draft")


def activity_key(activity: Mapping[str, Any], index: int) -> str:
    """How an activity is recognised across versions: its element id, else its first code, else its place."""
    if isinstance(activity.get("id"), str):
        return str(activity["id"])
    for coding in (activity.get("detail") or {}).get("code", {}).get("coding", []):
        if coding.get("code"):
            return str(coding["code"])
    return f"#{index}"


def _statuses(plan: Mapping[str, Any]) -> dict[str, tuple[str, bool]]:
    found: dict[str, tuple[str, bool]] = {}
    for index, activity in enumerate(plan.get("activity") or []):
        detail = activity.get("detail")
        if isinstance(detail, dict) and isinstance(detail.get("status"), str):
            found[activity_key(activity, index)] = (detail["status"], bool(detail.get("statusReason")))
    return found


def check_activity_shapes(plan: Mapping[str, Any]) -> None:
    """Each activity gives a ``reference`` or a ``detail``, not both (FHIR R4 invariant cpl-3)."""
    for index, activity in enumerate(plan.get("activity") or []):
        if isinstance(activity, Mapping) and activity.get("reference") and activity.get("detail"):
            raise PlanRuleError(
                f"activity {activity_key(activity, index)}: give a reference or a detail, not both (cpl-3)"
            )


def check_plan_update(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
    """Every rule between two versions of a plan (``old`` ``None`` for a new plan)."""
    check_activity_shapes(new)
    check_plan_change(old.get("status") if old else None, str(new.get("status")), agreements_of(new))
    before = _statuses(old) if old else {}
    for key, (status, has_reason) in _statuses(new).items():
        previous = before.get(key)
        try:
            check_activity_change(previous[0] if previous else None, status, has_reason=has_reason)
        except PlanRuleError as exc:
            raise PlanRuleError(f"activity {key}: {exc}") from None


def agreements_of(plan: Mapping[str, Any]) -> set[str]:
    """The parties recorded as agreeing to the plan (the plan-agreement extension's ``party`` codes)."""
    parties: set[str] = set()
    for extension in plan.get("extension") or []:
        if extension.get("url") != AGREEMENT_EXTENSION:
            continue
        parts = {e.get("url"): e for e in extension.get("extension") or []}
        party, agreed = parts.get("party"), parts.get("agreed")
        if party and agreed and party.get("valueCode") and agreed.get("valueDateTime"):
            parties.add(str(party["valueCode"]))
    return parties


def with_agreements(plan: Mapping[str, Any], agreed: Mapping[str, str]) -> dict[str, Any]:
    """The plan with an agreement recorded for each party in ``agreed`` (party -> dateTime)."""
    kept = [
        e
        for e in plan.get("extension") or []
        if e.get("url") != AGREEMENT_EXTENSION
        or not any(p.get("valueCode") in agreed for p in e.get("extension") or [] if p.get("url") == "party")
    ]
    for party, moment in sorted(agreed.items()):
        kept.append(
            {
                "url": AGREEMENT_EXTENSION,
                "extension": [
                    {"url": "party", "valueCode": party},
                    {"url": "agreed", "valueDateTime": moment},
                ],
            }
        )
    return {**plan, "extension": kept}


def intervention_codes(activity: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (system, code) pairs of an activity's detail code."""
    detail = activity.get("detail") or {}
    return [
        (str(c.get("system")), str(c.get("code")))
        for c in (detail.get("code") or {}).get("coding", [])
        if c.get("code")
    ]


def received_interventions(plan: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The interventions a plan shows as received: an activity with it started (in progress) or completed."""
    received: set[tuple[str, str]] = set()
    for activity in plan.get("activity") or []:
        if (activity.get("detail") or {}).get("status") in RECEIVED_STATUSES:
            received.update(intervention_codes(activity))
    return received


def received_in_any_version(versions: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """The interventions any version of a plan showed as received: an activity started and later paused
    (on hold), stopped or cancelled was still received (a paused taper is de-scripting received)."""
    received: set[tuple[str, str]] = set()
    for version in versions:
        received |= received_interventions(version)
    return received


@dataclass(frozen=True, slots=True)
class NewActivity:
    key: str
    concept: Mapping[str, Any]
    description: str | None = None
    kind: str | None = None


def add_activities(plan: Mapping[str, Any], additions: Sequence[NewActivity]) -> dict[str, Any]:
    """The plan with each addition as a not-started activity, unless it already has one with that key."""
    activities = [dict(a) for a in plan.get("activity") or []]
    present = {activity_key(a, i) for i, a in enumerate(activities)}
    for addition in additions:
        if addition.key in present:
            continue
        detail: dict[str, Any] = {"code": dict(addition.concept), "status": "not-started"}
        if addition.kind:
            detail["kind"] = addition.kind
        if addition.description:
            detail["description"] = addition.description
        activities.append({"id": addition.key, "detail": detail})
        present.add(addition.key)
    return {**plan, "activity": activities}
