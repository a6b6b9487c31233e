"""``$medication-review``: OME and risk flags of one patient's medicines.

* ``POST /fhir/$medication-review``: a Bundle of one patient's MedicationRequest / MedicationStatement
  (+ Medication), or Parameters ``bundle`` | ``patient``, ``factorTable`` (also a query parameter) ->
  Parameters ``totalDailyOME``, ``complete``, ``factorTable``, ``medication`` and ``issue`` parts, and
  ``observation`` when the review was stored (it is when the resources name one patient);
* ``POST /fhir/Patient/{id}/$medication-review``: Parameters (``factorTable``; an empty Parameters for the
  default) -> the same, from the stored list.
"""

from __future__ import annotations

from typing import Any

from services.medreview.domain.medication_list import resources_from_bundle
from services.medreview.operations.params import factor_table_of, patient_of_call
from services.medreview.workflow import review_bundle_resources, review_patient
from shared.fhir import BadRequest, FhirKernel, OperationCall, Parameters, UnitOfWork, validate_resource

__all__ = ["register"]


def review_stored(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
    patient = patient_of_call(call, uow)
    table = factor_table_of(Parameters(call.body), call.request.query_params.get("factorTable"))
    return review_patient(uow, patient, table)


def review_posted(call: OperationCall, uow: UnitOfWork) -> dict[str, Any]:
    query_table = call.request.query_params.get("factorTable")
    body = call.body if isinstance(call.body, dict) else {}
    bundle: dict[str, Any] | None
    posted_bundle = body.get("resourceType") == "Bundle"
    if posted_bundle:  # validated here, first; a Bundle sent in Parameters below, once (as before)
        bundle, params = validate_bundle(body), Parameters(None)
    else:
        params = Parameters(call.body)
        bundle = params.resource("bundle")
    table = factor_table_of(params, query_table)
    patient_ref = params.value("patient")
    patient = _reference(patient_ref) if patient_ref is not None else None
    if bundle is None:
        if patient is None:
            raise BadRequest("Send a Bundle, or Parameters with a 'bundle' or a 'patient'")
        uow.patient = patient
        return review_patient(uow, patient, table)
    resources = resources_from_bundle(bundle if posted_bundle else validate_bundle(bundle))
    uow.patient = patient
    return review_bundle_resources(uow, resources, table, patient)


def validate_bundle(bundle: Any) -> dict[str, Any]:
    validate_resource(bundle, "Bundle")
    found: dict[str, Any] = bundle
    return found


def _reference(value: Any) -> str:
    text = str(value.get("reference", "")) if isinstance(value, dict) else str(value)
    text = text if text.startswith("Patient/") else f"Patient/{text}"
    if text == "Patient/" or "/" in text.removeprefix("Patient/"):
        raise BadRequest("Parameter 'patient' must be a Patient reference or id")
    return text


def register(kernel: FhirKernel) -> None:
    kernel.operation(
        "medication-review",
        review_stored,
        level="instance",
        resource_type="Patient",
        scope=("Observation", "c"),
        batched=True,
        documentation="Review a patient's stored medicines: total and per-opioid OME, risk flags; stored",
    )
    kernel.operation(
        "medication-review",
        review_posted,
        level="system",
        scope=("Observation", "c"),
        batched=True,
        documentation="OME (mg/day) and risk flags of one patient's medicines (a Bundle) or stored list",
    )
