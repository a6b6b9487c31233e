"""``POST /fhir/$screen``: rank a practice's patients for review, streaming, with every reason.

In: a Bundle or NDJSON (``application/fhir+ndjson``) of many patients' resources, each patient's
resources together (a per-patient export). Query: ``_count`` (or ``count``) patients to return
(default 100), ``date`` the day to judge on (default today). Out: ``Parameters`` with the totals and
one ``patient`` part per returned patient, best first: ``patient`` (reference), ``rank``,
``eligible`` (boolean), ``decision``, ``score``, one ``reason`` coding per eligibility rule met or
failed, and one ``signal`` part per ranking signal (coding, points, detail).

A kernel operation with ``streams_body``: the kernel authenticates, checks the scope and writes the
AuditEvent; the handler reads the body itself, incrementally.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.responses import Response

from services.referral.domain.eligibility import Decision
from services.referral.domain.screening import ScreeningResult, UngroupedInputError, screen, top_ranked
from services.referral.fhir_mapping.screen_input import (
    NDJSON_TYPES,
    BlockingBody,
    ndjson_resources,
    streamed_bundle_resources,
)
from services.referral.settings import ReferralSettings
from shared.fhir import (
    BadRequest,
    FhirKernel,
    FhirResponse,
    OperationCall,
    PayloadTooLarge,
    Preparer,
    UnitHandler,
    UnitOfWork,
    UnsupportedMediaType,
    now_instant,
)

__all__ = ["ScreenSummary", "register", "run_screen", "screen_operation", "screen_parameters"]

JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
KNOWN_PARAMS = frozenset({"_count", "count", "date"})


@dataclass(frozen=True)
class ScreenSummary:
    counts: Counter[Decision]
    unattached: int
    top: list[ScreeningResult]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def run_screen(resources: Iterator[dict[str, Any]], on: date, count: int) -> ScreenSummary:
    """Screen a patient-grouped stream, holding only the best `count` results."""
    counts: Counter[Decision] = Counter()
    unattached = 0

    def note_unattached(_resource: Any) -> None:
        nonlocal unattached
        unattached += 1

    def counted() -> Iterator[ScreeningResult]:
        for result in screen(resources, on, on_unattached=note_unattached):
            counts[result.eligibility.decision] += 1
            yield result

    try:
        top = top_ranked(counted(), count)
    except UngroupedInputError as exc:
        raise BadRequest(f"The input must keep each patient's resources together: {exc}") from exc
    return ScreenSummary(counts, unattached, top)


def _patient_part(rank: int, result: ScreeningResult) -> dict[str, Any]:
    decision = result.eligibility.decision
    parts: list[dict[str, Any]] = [
        {"name": "patient", "valueReference": {"reference": result.patient_key}},
        {"name": "rank", "valueInteger": rank},
        {"name": "eligible", "valueBoolean": decision is Decision.ELIGIBLE},
        {"name": "decision", "valueCode": decision.value},
        {"name": "score", "valueDecimal": result.score},
    ]
    parts += [{"name": "reason", "valueCoding": r.coding.as_fhir()} for r in result.eligibility.reasons]
    for signal in result.signals:
        detail = [{"name": "detail", "valueString": signal.detail}] if signal.detail else []
        parts.append(
            {
                "name": "signal",
                "part": [
                    {"name": "code", "valueCoding": signal.coding.as_fhir()},
                    {"name": "points", "valueDecimal": signal.points},
                    *detail,
                ],
            }
        )
    if result.daily_ome_mg is not None:
        ome = {"value": round(result.daily_ome_mg, 1), "unit": "mg/d", "system": "http://unitsofmeasure.org"}
        parts.append({"name": "dailyOME", "valueQuantity": {**ome, "code": "mg/d"}})
    return {"name": "patient", "part": parts}


def screen_parameters(summary: ScreenSummary, on: date) -> dict[str, Any]:
    totals = [
        {"name": "date", "valueDate": on.isoformat()},
        {"name": "total", "valueInteger": summary.total},
        {"name": "eligible", "valueInteger": summary.counts[Decision.ELIGIBLE]},
        {"name": "needsReview", "valueInteger": summary.counts[Decision.NEEDS_REVIEW]},
        {"name": "ineligible", "valueInteger": summary.counts[Decision.INELIGIBLE]},
        {"name": "returned", "valueInteger": len(summary.top)},
        {"name": "unattached", "valueInteger": summary.unattached},
    ]
    patients = [_patient_part(rank, result) for rank, result in enumerate(summary.top, start=1)]
    return {"resourceType": "Parameters", "parameter": [*totals, *patients]}


def _options(items: list[tuple[str, str]], settings: ReferralSettings) -> tuple[int, date]:
    unknown = sorted({k for k, _ in items} - KNOWN_PARAMS)
    if unknown:
        raise BadRequest(f"Unknown $screen parameter(s): {', '.join(unknown)}; known: _count, count, date")
    values = dict(items)
    raw_count = values.get("_count", values.get("count", str(settings.screen_default_count)))
    valid = raw_count.isascii() and raw_count.isdigit() and len(raw_count) <= 9
    if not valid or not 1 <= int(raw_count) <= settings.screen_max_count:
        raise BadRequest(f"_count must be a whole number from 1 to {settings.screen_max_count}")
    try:
        on = date.fromisoformat(values["date"]) if "date" in values else now_instant().date()
    except ValueError as exc:
        raise BadRequest("date must be a calendar date (YYYY-MM-DD)") from exc
    return int(raw_count), on


def screen_operation(settings: ReferralSettings) -> tuple[Preparer, UnitHandler]:
    """``$screen`` as a kernel operation that streams its body: the kernel authenticates, checks the
    scope and audits; the input is read chunk by chunk, so memory stays flat however large it is.

    Reading and screening are the operation's ``prepare`` step, before its transaction: no transaction
    is held open while the client streams a large input in (the handler only returns the answer, and
    the kernel's transaction records the AuditEvent)."""

    def read_and_screen(call: OperationCall) -> tuple[ScreenSummary, date]:
        request = call.request
        count, on = _options(list(request.query_params.multi_items()), settings)
        media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media_type not in NDJSON_TYPES | JSON_TYPES:
            raise UnsupportedMediaType(
                "$screen takes a Bundle (application/fhir+json) or application/fhir+ndjson, "
                f"not {media_type!r}"
            )
        limit = settings.screen_max_body_bytes
        declared = request.headers.get("content-length") or ""
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes")
        body = BlockingBody(request.stream().__aiter__(), max_bytes=limit)
        ndjson = media_type in NDJSON_TYPES
        resources = ndjson_resources(body.next_chunk) if ndjson else streamed_bundle_resources(body)
        return run_screen(resources, on, count), on

    def answer(call: OperationCall, uow: UnitOfWork) -> Response:
        summary, on = call.input
        return FhirResponse(screen_parameters(summary, on))

    return read_and_screen, answer


def register(kernel: FhirKernel, settings: ReferralSettings) -> None:
    check, answer = screen_operation(settings)
    kernel.operation(
        "screen",
        answer,
        level="system",
        resource_type="Patient",
        scope=("Patient", "s"),
        documentation="Rank many patients' records (Bundle or application/fhir+ndjson) for review",
        streams_body=True,
        prepare=check,
    )
