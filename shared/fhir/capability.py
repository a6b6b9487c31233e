"""The CapabilityStatement, generated from what the kernel really routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.fhir.models import FHIR_VERSION
from shared.fhir.store import now_instant

if TYPE_CHECKING:
    from shared.fhir.kernel import FhirKernel, Operation

__all__ = ["capability_statement"]

SMART_SECURITY = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}
    ],
    "text": "SMART Backend Services (client_credentials, private_key_jwt); scopes system/<Resource>.<cruds>",
}


OPERATION_DEFINITIONS = "https://pain-review.example.org/fhir/OperationDefinition"
"""Where our operations' definitions are named: canonical URLs, not addresses on this server, which
serves no OperationDefinition (a ``{base}/OperationDefinition/...`` definition was a link that 404'd)."""


def _operation(op: Operation) -> dict[str, str]:
    return {"name": op.name, "definition": f"{OPERATION_DEFINITIONS}/{op.name}"}


def capability_statement(kernel: FhirKernel, base: str) -> dict[str, Any]:
    # A _revinclude follows any reference parameter of any type this service stores back to the matches
    # (``search_sql.included_resources``), so each searched type declares all of them.
    rev_includes = sorted(
        f"{source}:{p.name}"
        for source in kernel.resources
        for p in kernel.store.search_params.of(source).values()
        if p.type == "reference"
    )
    resources = []
    for resource_type in sorted(kernel.resources):
        config = kernel.resources[resource_type]
        entry: dict[str, Any] = {
            "type": resource_type,
            "interaction": [{"code": code} for code in sorted(config.interactions)],
            "versioning": "versioned-update",
            "readHistory": "vread" in config.interactions,
            "updateCreate": False,  # PUT never creates: ids are assigned by POST
            "conditionalCreate": "create" in config.interactions,
            "conditionalDelete": "not-supported",
        }
        if config.documentation:
            entry["documentation"] = config.documentation
        if "search-type" in config.interactions:
            entry["searchParam"] = [
                {
                    "name": p.name,
                    "type": p.type,
                    **({"documentation": p.documentation} if p.documentation else {}),
                }
                for p in kernel.store.search_params.of(resource_type).values()
            ]
            entry["searchInclude"] = sorted(
                f"{resource_type}:{p.name}"
                for p in kernel.store.search_params.of(resource_type).values()
                if p.type == "reference"
            )
            entry["searchRevInclude"] = rev_includes
        entry = {key: value for key, value in entry.items() if value != []}  # R4 JSON has no empty arrays
        ops = [op for op in kernel.operations if op.resource_type == resource_type and op.level != "system"]
        if ops:
            entry["operation"] = [_operation(op) for op in ops]
        resources.append(entry)
    # Types with operations but no REST interactions of their own (e.g. Patient/{id}/$medication-review
    # on a service that does not store Patients) are listed with their operations only.
    served = set(kernel.resources)
    for resource_type in sorted({op.resource_type for op in kernel.operations if op.resource_type} - served):
        ops = [op for op in kernel.operations if op.resource_type == resource_type]
        resources.append(
            {
                "type": resource_type,
                "operation": [_operation(op) for op in ops],
            }
        )
    system_ops = [op for op in kernel.operations if op.level == "system"]
    rest: dict[str, Any] = {
        "mode": "server",
        "security": {"service": [SMART_SECURITY], "cors": False},
        "resource": resources,
    }
    if system_ops:
        rest["operation"] = [_operation(op) for op in system_ops]
    return {
        "resourceType": "CapabilityStatement",
        "id": f"pain-review-{kernel.service}",
        "url": f"{base}/metadata",
        "name": f"PainReview{kernel.service.capitalize()}",
        "title": f"Pain and opioid review: {kernel.service} service",
        "status": "active",
        "date": now_instant().date().isoformat(),
        "publisher": "pain-review",
        "kind": "instance",
        "software": {"name": "pain-review", "version": "0.1.0"},
        "implementation": {"description": f"pain-review {kernel.service}", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [rest],
    }
