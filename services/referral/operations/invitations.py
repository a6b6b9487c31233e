"""Invitation letters on behalf of the GP practice: the practice's template, checked, filled, sent.

A practice may adapt the default letter (`data/invitation-letter.txt`). A template is refused (422,
one issue per offending phrase) when `wording.find_offending_phrases` finds anything, or when it
uses a placeholder nobody fills. ``patient_name`` and ``letter_date`` are filled per letter; the
practice's details (its name, address, GP, project worker, phone) are stored with the template.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.referral import repository
from services.referral.domain.wording import (
    Finding,
    default_invitation_template,
    find_offending_phrases,
    placeholders,
)
from services.referral.domain.wording import render_invitation as fill
from services.referral.fhir_mapping import date_text
from shared.fhir import ODS_SYSTEM, Parameters, UnitOfWork, Unprocessable, format_instant

__all__ = [
    "CAMEL",
    "DETAILS",
    "PER_LETTER",
    "check_template",
    "details_of",
    "invitation",
    "patient_name",
    "practice_template",
    "render_letter",
]

PER_LETTER = ("patient_name", "letter_date")
DETAILS = ("practice_name", "practice_address", "gp_name", "project_worker_name", "contact_phone")
#: The Parameters names of the practice's details (``practiceName`` ...), to the details they set.
CAMEL = {"".join(w.capitalize() if i else w for i, w in enumerate(d.split("_"))): d for d in DETAILS}


def details_of(values: Parameters) -> dict[str, str]:
    """The practice's details an operation's Parameters give."""
    return {CAMEL[name]: str(values.text(name)) for name in values.by_name if name in CAMEL}


_BARS_ERROR_SYSTEM = "https://fhir.nhs.uk/Codesystem/http-error-codes"


def _defaults(practice: str) -> dict[str, str]:
    return {
        "practice_name": f"Your GP practice ({practice})",
        "practice_address": "",
        "gp_name": "Your GP team",
        "project_worker_name": "our project worker",
        "contact_phone": "the practice's usual number",
    }


def _offending(template: str, details: dict[str, str]) -> list[tuple[str, Finding]]:
    found = [("template", finding) for finding in find_offending_phrases(template)]
    for key, value in details.items():
        found += [(key, finding) for finding in find_offending_phrases(value)]
    return found


def check_template(template: str, details: dict[str, str]) -> None:
    """Refuse a template with offending wording (one issue per phrase) or placeholders nobody fills."""
    issues: list[dict[str, Any]] = [
        {
            "severity": "error",
            "code": "business-rule",
            "details": {
                "coding": [{"system": _BARS_ERROR_SYSTEM, "code": "REC_UNPROCESSABLE_ENTITY"}],
                "text": finding.phrase,
            },
            "diagnostics": f"'{finding.matched}' ({finding.category}): {finding.why}",
            "expression": [where if where != "template" else f"template[{finding.start}:{finding.end}]"],
        }
        for where, finding in _offending(template, details)
    ]
    if issues:
        first, *rest = issues
        raise Unprocessable(first["diagnostics"], expression=first["expression"], issues=rest)
    unknown = [p for p in placeholders(template) if p not in (*PER_LETTER, *DETAILS, *details)]
    if unknown:
        raise Unprocessable(
            f"The template uses placeholders nobody fills: {', '.join(unknown)}",
            expression=["template"],
        )


def practice_template(uow: UnitOfWork, practice: str) -> tuple[str, dict[str, str]]:
    """The practice's template and details, else the default letter with placeholder details."""
    stored = repository.stored_template(uow, practice)
    if stored is None:
        return default_invitation_template(), _defaults(practice)
    template, details = stored
    return template, {**_defaults(practice), **details}


def patient_name(patient: dict[str, Any]) -> str:
    for name in patient.get("name", []):
        if name.get("text"):
            return str(name["text"])
        parts = [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
        if any(parts):
            return " ".join(p for p in parts if p)
    return "Patient"


def render_letter(template: str, details: dict[str, str], patient: dict[str, Any], now: datetime) -> str:
    values = {**details, "patient_name": patient_name(patient), "letter_date": date_text(now.date())}
    return fill(template, values)


def invitation(
    text: str,
    service_request: dict[str, Any],
    task: dict[str, Any],
    practice: str,
    practice_name: str,
    now: datetime,
) -> dict[str, Any]:
    """The invitation letter as a Communication sent on behalf of the practice."""
    patient = dict(service_request["subject"])
    return {
        "resourceType": "Communication",
        "status": "completed",
        "basedOn": [{"reference": f"ServiceRequest/{service_request['id']}"}],
        "partOf": [{"reference": f"Task/{task['id']}"}],
        "category": [{"text": "Invitation to the pain and opioid review service"}],
        "medium": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                        "code": "MAILWRIT",
                        "display": "mail",
                    }
                ]
            }
        ],
        "subject": patient,
        "recipient": [patient],
        "sender": {"identifier": {"system": ODS_SYSTEM, "value": practice}, "display": practice_name},
        "sent": format_instant(now),
        "payload": [{"contentString": text}],
    }
