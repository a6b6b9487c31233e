"""Operations for contact during a reduction:

* ``POST /fhir/CarePlan/{id}/$raise-concern``: ``kind`` (withdrawal | pain-flare | mood), ``severity`` (0-10,
  the patient's rating), ``description`` (the patient's words), ``raisedBy`` (patient | project-worker |
  carer; default patient), ``stepBack`` (boolean: go back to the previous step now), ``date`` -> Parameters
  ``task``, ``carePlan``, ``priority``, ``answerBy``, ``paused``, ``steppedBack``, ``stepBackOffered``.
  ``date`` (default today) is today or up to ``CONCERN_DAYS_BACK`` days before, by the service's clock;
  ``description`` is at most ``MAX_WORDS`` characters (400 naming the parameter otherwise);
* ``POST /fhir/Task/{id}/$answer-concern``: ``note`` (required) -> the completed concern Task. A prescriber
  or the GP system of the patient's practice answers (the practice's clinical answer); ``note`` is at most
  ``MAX_WORDS`` characters.

The kernel claims ``X-Request-Id`` (a repeat is a 409) and audits each call; handlers run in its transaction.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial
from typing import Any

from services.medreview.domain.concerns import ConcernKind, ConcernPolicy
from services.medreview.repository import repository
from services.medreview.workflow.concern import answer_concern, raise_concern
from shared.fhir import BadRequest, FhirKernel, Forbidden, OperationCall, Parameters, UnitOfWork

__all__ = ["register"]

ANSWERING_ROLES = frozenset({"gp-system", "prescriber"})
RAISED_BY = frozenset({"patient", "project-worker", "carer"})
# A concern is raised when it happens: up to two weeks late (one taper step at the default interval), never
# ahead. Fixed, not a setting: the date dates a step back and the plan's note, so it is a safety bound.
CONCERN_DAYS_BACK = 14
# The patient's words, or the practice's note, travel in a Task to the GP system: a message, not a document.
MAX_WORDS = 2_000


def _words(name: str, text: str | None, needed: str) -> str:
    if not text:
        raise BadRequest(f"Parameter '{name}' is required ({needed})")
    if len(text) > MAX_WORDS:
        raise BadRequest(f"Parameter '{name}' is longer than {MAX_WORDS} characters ({len(text)})")
    return text


def _concern_day(day: date | None, today: date) -> date:
    """The concern's date: today by default, else today or up to ``CONCERN_DAYS_BACK`` days before."""
    if day is None:
        return today
    earliest = today - timedelta(days=CONCERN_DAYS_BACK)
    if not earliest <= day <= today:
        raise BadRequest(
            f"Parameter 'date' must be from {earliest.isoformat()} to {today.isoformat()} (today, by the "
            f"service's clock, or up to {CONCERN_DAYS_BACK} days before): {day.isoformat()}"
        )
    return day


def _kind(text: str | None) -> ConcernKind:
    try:
        return ConcernKind(text or "")
    except ValueError:
        known = " | ".join(k.value for k in ConcernKind)
        raise BadRequest(f"Parameter 'kind' is required: {known}") from None


def _severity(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise BadRequest(
            "Parameter 'severity' is required: a whole number from 0 to 10 (the patient's rating)"
        )
    return value


def raise_(call: OperationCall, uow: UnitOfWork, *, policy: ConcernPolicy) -> dict[str, Any]:
    params = Parameters(call.body)
    kind = _kind(params.text("kind"))
    severity = _severity(params.value("severity"))
    words = _words("description", params.text("description"), "the concern in the patient's words")
    raised_by = params.text("raisedBy") or "patient"
    if raised_by not in RAISED_BY:
        raise BadRequest(f"Parameter 'raisedBy' must be one of {', '.join(sorted(RAISED_BY))}")
    go_back = params.boolean("stepBack")
    day = params.day("date")
    careplan = repository(uow).read(uow.conn, f"CarePlan/{call.resource_id}", uow.tenants)
    uow.patient = str((careplan.get("subject") or {}).get("reference") or "") or None
    return raise_concern(
        uow,
        careplan,
        kind=kind,
        severity=severity,
        words=words,
        raised_by=raised_by,
        policy=policy,
        on=_concern_day(day, uow.now.date()),
        go_back=bool(go_back),
    )


def answer(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
    note = _words("note", Parameters(call.body).text("note"), "what the practice did: called, advised, saw")
    principal = call.ctx.principal
    if principal.role not in ANSWERING_ROLES:
        raise Forbidden(f"A concern is answered by a prescriber at the practice, not {principal.role}")
    reference = f"Task/{call.resource_id}"
    task = repository(uow).read(uow.conn, reference, uow.tenants)
    uow.patient = str((task.get("for") or {}).get("reference") or "") or None
    if uow.practice_of(reference) != principal.practice:
        raise Forbidden("Only the patient's own practice answers this concern")
    return answer_concern(uow, task, note=note)


def register(kernel: FhirKernel, policy: ConcernPolicy) -> None:
    """Declare ``$raise-concern`` and ``$answer-concern`` on ``kernel`` (whose clock they act on)."""
    kernel.operation(
        "raise-concern",
        partial(raise_, policy=policy),
        level="instance",
        resource_type="CarePlan",
        scope=("Task", "c"),
        documentation="A concern during a reduction (withdrawal, pain flare, mood): a prioritised Task to "
        "the practice; may pause the plan or go back a step",
    )
    kernel.operation(
        "answer-concern",
        answer,
        level="instance",
        resource_type="Task",
        scope=("Task", "u"),
        documentation="The practice answered a concern raised during a reduction (or its escalation)",
    )
