"""CDS Hooks 2.0 endpoints: ``GET /cds-services`` and ``POST /cds-services/{id}``.

Every call needs a bearer token like the FHIR API (the issue asks it of every CDS Hooks endpoint, discovery
included), sees only its practices' patients and leaves an AuditEvent. ``fhirAuthorization`` is not used: the
service never calls back into the EHR; it uses the ``medications`` prefetch when the EHR sends it (the EHR's
own current list), else the patient's list it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import JSONResponse, Response

from services.medreview.cds_hooks.cards import (
    ORDER_SIGN,
    PATIENT_VIEW,
    discovery,
    order_sign_cards,
    patient_view_cards,
)
from services.medreview.domain.medication_list import (
    MEDICATION_TYPES,
    by_type,
    medications_index,
    reference,
    regimen_resources,
    resources_from_bundle,
)
from services.medreview.fhir_mapping import decimal_of
from services.medreview.repository import repository
from services.medreview.workflow import current_regimen, plan_steps, reviewed
from services.medreview.workflow.planning import step_view
from shared.fhir import AuditRecord, BadRequest, FhirKernel, NotFound, UnitOfWork, validate_resource
from shared.terminology import DEFAULT_OME_FACTOR_TABLE

__all__ = ["CdsHooks"]

_HOOKS = {ORDER_SIGN: "order-sign", PATIENT_VIEW: "patient-view"}


class CdsHooks:
    """The CDS Hooks router, on the service's kernel (authentication, audit, units of work)."""

    def __init__(self, kernel: FhirKernel) -> None:
        self.kernel = kernel

    def router(self) -> APIRouter:
        router = APIRouter(tags=["CDS Hooks"])
        router.add_api_route(
            "/cds-services", self.discover, methods=["GET"], summary="CDS Hooks discovery (bearer token)"
        )
        router.add_api_route(
            "/cds-services/{service_id}", self.call, methods=["POST"], summary="Call a CDS service"
        )
        return router

    async def discover(self, request: Request) -> Response:
        kernel = self.kernel
        ctx = await kernel.context(request, "MedicationRequest", "r")
        record = AuditRecord("operation", None, operation="cds-services")
        await kernel.run(ctx, record, lambda conn: None)
        return JSONResponse(discovery())

    async def call(self, request: Request, service_id: str) -> Response:
        kernel = self.kernel
        scope_type = "Observation" if service_id == PATIENT_VIEW else "MedicationRequest"
        ctx = await kernel.context(request, scope_type, "r")  # who asks comes first, even for a wrong id
        if service_id not in _HOOKS:
            raise NotFound(f"No CDS service '{service_id}' here; see GET /cds-services")
        body = await kernel.body(request)
        patient_id = _check_request(body, _HOOKS[service_id])
        record = AuditRecord(
            "operation", None, patient=f"Patient/{patient_id}", operation=f"cds-{service_id}"
        )

        def work(conn: Connection) -> list[dict[str, Any]]:
            s = UnitOfWork(kernel, conn, ctx)
            if service_id == ORDER_SIGN:
                return _order_sign(s, body, patient_id)
            return _patient_view(s, patient_id)

        cards = await kernel.run(ctx, record, work)
        return JSONResponse({"cards": cards})


def _check_request(body: Any, hook: str) -> str:
    """The patient id of a well-formed request for ``hook`` (400 otherwise)."""
    if not isinstance(body, dict):
        raise BadRequest("A CDS Hooks request is a JSON object")
    if body.get("hook") != hook:
        raise BadRequest(f"This service answers the '{hook}' hook, not '{body.get('hook')}'")
    if not isinstance(body.get("hookInstance"), str) or not body["hookInstance"]:
        raise BadRequest("hookInstance is required")
    context = body.get("context")
    if (
        not isinstance(context, dict)
        or not isinstance(context.get("patientId"), str)
        or not context["patientId"]
    ):
        raise BadRequest("context.patientId is required")
    if hook == "order-sign":
        drafts = context.get("draftOrders")
        if not isinstance(drafts, dict) or drafts.get("resourceType") != "Bundle":
            raise BadRequest("context.draftOrders must be a Bundle of the orders being signed")
        # the orders and the prefetched list are read as $medication-review's Bundle is: valid R4 first (a
        # malformed order raised in the dose reader: 500)
        prefetch = body.get("prefetch")
        if prefetch is not None and not isinstance(prefetch, dict):
            raise BadRequest("prefetch must be a JSON object")
        listed = (prefetch or {}).get("medications")
        # (the schema names an invalid contained resource alone, by its own type, first: it once made the
        # Bundle's schema try every resource type, 2.4 s of CPU each; ``jsonschema_r4.schema_issues``)
        validate_resource(drafts, "Bundle")
        if isinstance(listed, dict) and listed.get("resourceType") == "Bundle":
            validate_resource(listed, "Bundle")
    patient_id = str(context["patientId"]).removeprefix("Patient/")
    if "/" in patient_id:
        raise BadRequest("context.patientId must be a Patient id")
    return patient_id


def _drafts(bundle: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    resources = resources_from_bundle(bundle)
    drafts = []
    for index, resource in enumerate(by_type(resources, *MEDICATION_TYPES)):
        if not resource.get("id"):
            resource["id"] = f"draft-{index + 1}"
        drafts.append(resource)
    return drafts, medications_index(resources)


def _order_sign(s: UnitOfWork, body: Mapping[str, Any], patient_id: str) -> list[dict[str, Any]]:
    patient = f"Patient/{patient_id}"
    enrolled = repository(s).medication_list(s.conn, patient, s.tenants) is not None
    prefetch = (body.get("prefetch") or {}).get("medications")
    if isinstance(prefetch, dict) and prefetch.get("resourceType") == "Bundle":
        listed = resources_from_bundle(prefetch)
        current, medications = by_type(listed, *MEDICATION_TYPES), medications_index(listed)
    elif enrolled:
        regimen = current_regimen(s, patient)
        current, medications = regimen.resources, regimen.medications
    else:
        current, medications = [], {}
    drafts, draft_medications = _drafts(body["context"]["draftOrders"])
    table = DEFAULT_OME_FACTOR_TABLE
    before = reviewed(regimen_resources(current), medications, table)
    after = reviewed(regimen_resources([*current, *drafts]), {**medications, **draft_medications}, table)
    plans = repository(s).taper_plans(s.conn, patient, s.tenants)
    return order_sign_cards(
        before.result,
        after.result,
        after.flags,
        [ref for ref in (reference(d) for d in drafts) if ref],
        patient_id=patient_id,
        enrolled=enrolled,
        taper_status=str(plans[0]["status"]) if plans else None,
    )


def _patient_view(s: UnitOfWork, patient_id: str) -> list[dict[str, Any]]:
    patient = f"Patient/{patient_id}"
    trend = []
    for observation in repository(s).ome_trend(s.conn, patient, s.tenants):
        value = observation.get("valueQuantity") or {}
        if value.get("value") is None or not observation.get("effectiveDateTime"):
            continue
        day = date.fromisoformat(str(observation["effectiveDateTime"])[:10])
        trend.append((day, decimal_of(value["value"]), "comparator" not in value))
    plans = repository(s).taper_plans(s.conn, patient, s.tenants)
    plan = None
    if plans:
        steps = [st for st in plan_steps(s, plans[0]) if st.proposal and st.status != "cancelled"]
        upcoming = next((st for st in steps if st.pending), None)
        plan = {
            "status": plans[0]["status"],
            "approved": sum(1 for st in steps if st.approved),
            "proposed": len(steps),
            "next": upcoming.date.isoformat() if upcoming else None,
            "view": step_view(s, plans[0], plan_steps(s, plans[0]), upcoming).lines() if upcoming else [],
        }
    return patient_view_cards(trend, plan)
