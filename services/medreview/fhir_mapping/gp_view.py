"""What the GP sees of a step before deciding: current prescription against proposed, OME before and after,
the patient's risk flags, the patient's agreement and the next review date. Pure.

The same facts go into the approval Task (``input`` parts, typed by ``type.text``, and the summary) and the
CDS Hooks patient-view card, so the GP reads one account in either place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from services.medreview.fhir_mapping.codes import EXTENSION
from services.medreview.fhir_mapping.quantities import daily_ome, instant

__all__ = ["AGREEMENT_URL", "StepView", "agreement_of", "prescription_text"]

AGREEMENT_URL = f"{EXTENSION}/patient-agreement"
"""On a taper CarePlan: when the patient agreed the plan (``valueDateTime``)."""


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f")


def prescription_text(
    resource: Mapping[str, Any] | None, medications: Mapping[str, Mapping[str, Any]] | None = None
) -> str:
    """A prescription as one line: the medicine and its dosage as written."""
    if resource is None:
        return "not on the record"
    concept = resource.get("medicationCodeableConcept") or {}
    if not concept:
        target = str((resource.get("medicationReference") or {}).get("reference", ""))
        concept = ((medications or {}).get(target) or {}).get("code") or {}
    name = concept.get("text") or next(
        (c.get("display") for c in concept.get("coding", []) if c.get("display")), None
    )
    dosages = [
        str(d["text"])
        for d in resource.get("dosageInstruction") or resource.get("dosage") or []
        if d.get("text")
    ]
    if resource.get("doNotPerform"):
        return f"stop {name or 'the medicine'}"
    return f"{name or 'unnamed medicine'}: {'; '.join(dosages) or 'no dosage written'}"


def agreement_of(careplan: Mapping[str, Any]) -> str | None:
    """When the patient agreed the plan, if recorded."""
    for extension in careplan.get("extension") or []:
        if extension.get("url") == AGREEMENT_URL and extension.get("valueDateTime"):
            return str(extension["valueDateTime"])
    return None


@dataclass(frozen=True, slots=True)
class StepView:
    """One step as the GP is asked to decide it."""

    number: int
    day: date
    current: str
    proposed: str
    ome_before: Decimal
    ome_after: Decimal
    flags: tuple[str, ...]
    agreement: str | None
    next_review: date

    def lines(self) -> list[str]:
        agreed = (
            f"Patient agreed the plan on {self.agreement[:10]}"
            if self.agreement
            else ("The patient's agreement is not recorded")
        )
        return [
            f"Now: {self.current}.",
            f"Proposed from {self.day.isoformat()}: {self.proposed}.",
            f"Oral morphine equivalent {_n(self.ome_before)} -> {_n(self.ome_after)} mg a day.",
            f"Flags: {'; '.join(self.flags) if self.flags else 'none'}.",
            f"{agreed}. Next review {self.next_review.isoformat()}.",
        ]

    def task_inputs(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = [
            {"type": {"text": "current-prescription"}, "valueString": self.current},
            {"type": {"text": "proposed-prescription"}, "valueString": self.proposed},
            {"type": {"text": "ome-before"}, "valueQuantity": daily_ome(self.ome_before)},
            {"type": {"text": "ome-after"}, "valueQuantity": daily_ome(self.ome_after)},
        ]
        parts += [{"type": {"text": "flag"}, "valueString": flag} for flag in self.flags]
        if self.agreement:
            parts.append({"type": {"text": "patient-agreement"}, "valueDateTime": self.agreement})
        parts.append({"type": {"text": "next-review"}, "valueDateTime": instant(self.next_review)})
        return parts


def flags_of(issues: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The newest review's flags (DetectedIssues sharing the newest ``identifiedDateTime``), as words."""
    if not issues:
        return ()
    newest = max(str(i.get("identifiedDateTime", "")) for i in issues)
    words = []
    for issue in issues:
        if str(issue.get("identifiedDateTime", "")) != newest:
            continue
        code = issue.get("code") or {}
        text = code.get("text") or next((c.get("display") for c in code.get("coding", [])), None)
        if text:
            words.append(str(text))
    return tuple(dict.fromkeys(words))


__all__ += ["flags_of"]
