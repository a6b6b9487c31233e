"""Operations for the care team and the commissioner: monthly MDT reviews and the service evaluation.

* ``POST Appointment/$propose-mdt-review``: Parameters ``patient`` (reference; without it, every
  patient of the caller's practice with an open plan) and ``month`` (YYYY-MM, default next month);
  answers a Bundle (collection) of the proposed Appointments. A month's proposal is made once: asked
  again, the existing Appointment is returned.
* ``GET Measure/service-evaluation/$evaluate-measure?periodStart=&periodEnd=[&practice=ODS]``: the
  MeasureReport over every practice the caller acts for (overall), or over one of them (``practice``);
  with ``_format=svg`` or ``png`` a chart of the same figures, ``_format=html`` a one-page summary (both
  drawn from the MeasureReport, by :mod:`services.careplan.fhir_mapping.report_render`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.responses import Response

from services.careplan.domain.catalogue import interventions
from services.careplan.domain.mdt import check_year, parse_month
from services.careplan.fhir_mapping.evaluation_report import measure_report
from services.careplan.fhir_mapping.plans import mdt_review, stable_id
from services.careplan.fhir_mapping.report_render import evaluation_chart, evaluation_html
from services.careplan.repository import CLOSED_PLAN, evaluation_facts, pain_plan_for, pain_plans
from shared.fhir import (
    BadRequest,
    FhirKernel,
    Forbidden,
    NotFound,
    OperationCall,
    UnitOfWork,
    Unprocessable,
    format_instant,
    now_instant,
    parse_instant,
)

__all__ = ["ReviewOperations", "first_weekday", "period_bounds"]

#: ``_format`` values (and their media types) that render the report for a reader rather than as FHIR.
RENDERED = {
    "svg": "image/svg+xml",
    "image/svg+xml": "image/svg+xml",
    "png": "image/png",
    "image/png": "image/png",
    "html": "text/html",
    "text/html": "text/html",
}


def first_weekday(year: int, month: int, weekday: int) -> date:
    """The first ``weekday`` (Monday 0 … Sunday 6) of a month."""
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7)


def _parse_moment(text: str, *, end: bool) -> datetime:
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
        return parse_instant(text)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves year 1 or 9999 out of range
        raise BadRequest(f"'{text}' is not a date (YYYY-MM-DD) or dateTime") from None


def period_bounds(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The evaluation period as UTC instants; dates cover whole days."""
    if not start or not end:
        raise BadRequest("$evaluate-measure needs periodStart and periodEnd (YYYY-MM-DD)")
    low, high = _parse_moment(start, end=False), _parse_moment(end, end=True)
    try:
        check_year(low.year, "periodStart")
        check_year(high.year, "periodEnd")
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if high < low:
        raise BadRequest("periodEnd is before periodStart")
    return low, high


def _month(text: Any) -> tuple[int, int]:
    try:
        return parse_month(None if text is None else str(text), now_instant().date())
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


class ReviewOperations:
    def __init__(self, kernel: FhirKernel, *, weekday: int, at: time, minutes: int) -> None:
        self.kernel, self.weekday, self.at, self.minutes = kernel, weekday, at, minutes

    def register(self) -> None:
        self.kernel.operation(
            "propose-mdt-review",
            self.propose,
            level="type",
            resource_type="Appointment",
            scope=("Appointment", "c"),
            documentation="Propose next month's multidisciplinary review for a patient, or for every "
            "patient of the practice with an open pain management plan",
        )
        self.kernel.operation(
            "evaluate-measure",
            self.evaluate,
            level="instance",
            resource_type="Measure",
            scope=("Measure", "r"),
            methods=("GET",),
            documentation="The service evaluation for periodStart..periodEnd as a MeasureReport, overall "
            "or for one practice (practice=ODS code); _format=svg or png: a chart, html: a one-page summary",
        )

    def propose(self, call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
        year, month = _month(call.parameters.value("month"))
        patient = call.parameters.value("patient")
        patient = patient.get("reference") if isinstance(patient, dict) else patient
        if patient is not None and (not isinstance(patient, str) or not patient.startswith("Patient/")):
            raise BadRequest("patient must be a reference to a Patient")
        day = first_weekday(year, month, self.weekday)
        start = datetime.combine(day, self.at, tzinfo=UTC)
        conn, practice = uow.conn, uow.practice
        mine = uow.tenants & {practice}  # the caller's own practice, under the caller's tenancy rules
        own = uow.within(mine)
        if patient is not None:
            uow.patient = patient
            found = pain_plan_for(conn, patient, mine)
            plans = [found] if found is not None else []
            if not plans:
                raise Unprocessable(f"{patient} has no pain management plan in this practice")
        else:
            plans = pain_plans(conn, mine)
        appointments = []
        for plan in plans:
            if plan.get("status") in CLOSED_PLAN:
                continue
            appointment_id = stable_id(practice, "mdt-review", plan["id"], f"{year:04d}-{month:02d}")
            try:
                existing = own.read("Appointment", appointment_id)
                appointments.append(existing)
                continue
            except NotFound:
                pass
            team = None
            for ref in plan.get("careTeam") or []:
                try:
                    team_id = str(ref.get("reference", "")).removeprefix("CareTeam/")
                    team = own.read("CareTeam", team_id)
                except NotFound:
                    continue
            proposal = mdt_review(
                appointment_id=appointment_id,
                patient=str((plan.get("subject") or {}).get("reference")),
                plan_id=plan["id"],
                team=team,
                start=start,
                minutes=self.minutes,
            )
            appointments.append(uow.create(proposal, resource_id=appointment_id))
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "total": len(appointments),
            "entry": [{"fullUrl": f"Appointment/{a['id']}", "resource": a} for a in appointments],
        }

    def evaluate(self, call: OperationCall, uow: UnitOfWork) -> Any:
        query = call.request.query_params
        start_text, end_text = query.get("periodStart"), query.get("periodEnd")
        low, high = period_bounds(start_text, end_text)
        rendered = RENDERED.get(str(query.get("_format")))
        tenants = uow.tenants
        practice = query.get("practice")
        if practice is not None:
            if practice not in uow.tenants:
                raise Forbidden(f"practice {practice!r} is not one this caller acts for")
            tenants = uow.tenants & {practice}
        measure = uow.read("Measure", str(call.resource_id))
        if measure.get("id") != "service-evaluation":
            raise Unprocessable("only Measure/service-evaluation can be evaluated here")
        facts = evaluation_facts(uow.conn, tenants, low, high)

        def report(facts: Any) -> Any:  # after the commit: building and rendering hold no transaction
            catalogue = interventions()
            reporters = sorted(tenants)
            report = measure_report(
                facts,
                catalogue,
                period_start=str(start_text),
                period_end=str(end_text),
                generated=format_instant(now_instant()),
                reporter_ods=reporters[0] if len(reporters) == 1 else None,
            )
            report = self.kernel.validate(report, "MeasureReport")
            if rendered is None:
                return report
            settings = {code: i.setting for code, i in catalogue.items()}
            if rendered == "text/html":
                page = evaluation_html(report, settings).encode("utf-8")
                return Response(page, media_type=f"{rendered}; charset=utf-8")
            body = evaluation_chart(report, settings, "png" if rendered == "image/png" else "svg")
            return Response(body, media_type=rendered)

        uow.then(report)
        return facts
