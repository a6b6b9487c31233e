"""CDS Hooks 2.0 discovery and cards (https://cds-hooks.hl7.org/2.0/): pure, plain dicts.

Cards follow the spec's shape: ``summary`` under 140 characters, ``indicator`` info | warning | critical,
``source.label``, a ``uuid`` per card and suggestion, ``selectionBehavior`` whenever there are suggestions,
and no empty or null values.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from services.medreview.domain.ome import OmeResult
from services.medreview.domain.risk import HIGH_DOSE_MG_PER_DAY, SPECIALIST_MG_PER_DAY, RiskFlag

__all__ = [
    "ORDER_SIGN",
    "PATIENT_VIEW",
    "SOURCE",
    "card",
    "discovery",
    "order_sign_cards",
    "patient_view_cards",
    "summary",
]

ORDER_SIGN = "opioid-order-sign"
PATIENT_VIEW = "opioid-patient-view"
SOURCE = {"label": "Pain and opioid review service"}
CO_PRESCRIPTION = ("opioid-benzodiazepine", "opioid-gabapentinoid", "opioid-other-sedative")
MAX_SUMMARY = 139


def discovery() -> dict[str, Any]:
    """``GET /cds-services``: the two services and what they prefetch."""
    return {
        "services": [
            {
                "hook": "order-sign",
                "id": ORDER_SIGN,
                "title": "Opioid dose check (oral morphine equivalent)",
                "description": (
                    "Total daily oral morphine equivalent with the draft orders, the 120 and 300 mg/day "
                    "thresholds, benzodiazepine, gabapentinoid and sedative co-prescription, and a referral "
                    "to the pain and opioid review service."
                ),
                "prefetch": {"medications": "MedicationRequest?patient={{context.patientId}}&status=active"},
                "usageRequirements": (
                    "A bearer token with system/MedicationRequest.r. Without the 'medications' prefetch the "
                    "patient's medication list held by the review service is used."
                ),
            },
            {
                "hook": "patient-view",
                "id": PATIENT_VIEW,
                "title": "Opioid dose trend and taper status",
                "description": (
                    "The patient's total daily oral morphine equivalent over the reviews so far, and where "
                    "their opioid dose reduction plan stands."
                ),
                "usageRequirements": "A bearer token with system/Observation.r and system/CarePlan.r.",
            },
        ]
    }


def summary(text: str) -> str:
    """A card summary under 140 characters."""
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 3].rstrip() + "..."


def card(
    text: str,
    indicator: str,
    *,
    detail: str | None = None,
    suggestions: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """One card (``indicator`` info, warning or critical)."""
    found: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": summary(text),
        "indicator": indicator,
        "source": dict(SOURCE),
    }
    if detail:
        found["detail"] = detail
    if suggestions:
        found["suggestions"] = list(suggestions)
        found["selectionBehavior"] = "at-most-one"
    return found


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _total(result: OmeResult) -> str:
    return ("at least " if result.incomplete else "") + f"{_n(result.total_mg_per_day)} mg"


def _indicator(total: Decimal) -> str:
    if total >= SPECIALIST_MG_PER_DAY:
        return "critical"
    return "warning" if total >= HIGH_DOSE_MG_PER_DAY else "info"


def _table(result: OmeResult) -> str:
    rows = ["| medicine | mg OME a day |", "| --- | --- |"]
    for med in result.medications:
        figure = _n(med.ome_mg_per_day) if med.ome_mg_per_day is not None else f"not computable: {med.reason}"
        rows.append(f"| {med.name or med.reference} | {figure} |")
    return "\n".join(rows)


def _referral(patient_id: str, reasons: Sequence[str]) -> dict[str, Any]:
    request = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
        "code": {"text": "Referral to the pain and opioid review service"},
        "reasonCode": [{"text": reason} for reason in reasons],
    }
    return {
        "label": "Refer to the pain and opioid review service",
        "uuid": str(uuid.uuid4()),
        "actions": [{"type": "create", "description": "Draft a referral", "resource": request}],
    }


def order_sign_cards(
    before: OmeResult,
    after: OmeResult,
    flags: Sequence[RiskFlag],
    drafts: Sequence[str],
    *,
    patient_id: str,
    enrolled: bool,
    taper_status: str | None,
) -> list[dict[str, Any]]:
    """Cards for draft orders: ``before``/``after`` are the OME without and with them, ``flags`` the risk
    flags with them, ``drafts`` their references. No card when the drafts are neither opioids nor medicines
    that matter with one."""
    draft_refs = set(drafts)
    opioid_drafts = [m for m in after.medications if m.reference in draft_refs]
    co_flags = [f for f in flags if f.code in CO_PRESCRIPTION and draft_refs & set(f.evidence)]
    if not opioid_drafts and not co_flags:
        return []
    total = after.total_mg_per_day
    cards = []
    if opioid_drafts:
        text = f"Opioid total with this order: {_total(after)} OME a day (now {_total(before)})"
        cards.append(card(text, "info", detail=_table(after)))
    for threshold, words in ((SPECIALIST_MG_PER_DAY, "seek specialist advice"), (HIGH_DOSE_MG_PER_DAY, "")):
        if opioid_drafts and total >= threshold:
            crossed = before.total_mg_per_day < threshold
            verb = "takes the total over" if crossed else "keeps the total over"
            tail = f": {words}" if words else ": harms likely outweigh benefits"
            cards.append(card(f"This order {verb} {_n(threshold)} mg OME a day{tail}", _indicator(total)))
            break
    for med in opioid_drafts:
        if not med.computable:
            cards.append(
                card(f"OME of {med.name or 'the draft order'} not computable: {med.reason}", "warning")
            )
    for flag in co_flags:
        cards.append(card(flag.summary, "warning", detail=f"{flag.detail}\n\nSource: {flag.source}"))
    if taper_status in ("draft", "active", "on-hold") and total > before.total_mg_per_day:
        text = f"Patient has an opioid dose reduction plan ({taper_status}); this order raises the dose"
        cards.append(card(text, "warning"))
    if not enrolled and (total >= HIGH_DOSE_MG_PER_DAY or co_flags):
        reasons = (
            [f"Total oral morphine equivalent {_total(after)} a day"] if total >= HIGH_DOSE_MG_PER_DAY else []
        )
        reasons += [f.summary for f in co_flags]
        text = "Consider a referral to the pain and opioid review service"
        cards.append(card(text, "info", suggestions=[_referral(patient_id, reasons)]))
    return cards


def patient_view_cards(
    trend: Sequence[tuple[date, Decimal, bool]], plan: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """Cards for a patient: ``trend`` is (date, total mg OME a day, complete) oldest first; ``plan`` holds the
    taper's ``status``, ``approved`` and ``proposed`` step counts, ``next`` date and ``view`` (the next step
    as the GP sees it on the approval Task: current against proposed, OME, flags, agreement, next review)."""
    cards = []
    if trend:
        day, latest, complete = trend[-1]
        figure = ("" if complete else "at least ") + f"{_n(latest)} mg OME a day"
        text = f"Opioid dose {figure} on {day.isoformat()}"
        if len(trend) > 1:
            text += f" (was {_n(trend[0][1])} on {trend[0][0].isoformat()})"
        rows = ["| date | mg OME a day |", "| --- | --- |"]
        rows += [f"| {d.isoformat()} | {('' if c else '>= ') + _n(v)} |" for d, v, c in trend[-12:]]
        cards.append(card(text, _indicator(latest), detail="\n".join(rows)))
    if plan is not None:
        status = str(plan["status"])
        words = {"draft": "proposed, awaiting the GP", "active": "under way", "on-hold": "paused"}
        progress = f"{plan['approved']} of {plan['proposed']} steps approved"
        text = f"Opioid dose reduction {words.get(status, status)}: {progress}"
        if plan.get("next"):
            text += f"; next step from {plan['next']}"
        detail = "\n".join(f"* {line}" for line in plan.get("view") or []) or None
        cards.append(card(text, "warning" if status == "on-hold" else "info", detail=detail))
    return cards
