"""The FHIR REST kernel every service uses: models, JSON I/O, errors, store, search, routes."""

from shared.core.errors import (
    BadRequest,
    Conflict,
    Duplicate,
    FhirError,
    Forbidden,
    Gone,
    InvalidResource,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    information_outcome,
)
from shared.fhir.audit import AuditRecord, RequestContext
from shared.fhir.jsonio import FHIR_JSON, FhirResponse, dumps, loads
from shared.fhir.kernel import Authenticator, FhirKernel, OperationCall, RateLimiter
from shared.fhir.models import FHIR_VERSION, validate_resource, validate_stu3_resource
from shared.fhir.searchparams import SearchParams
from shared.fhir.store import ResourceStore, new_id, now_instant
from shared.fhir.tables import kernel_metadata

__all__ = [
    "FHIR_JSON",
    "FHIR_VERSION",
    "AuditRecord",
    "Authenticator",
    "BadRequest",
    "Conflict",
    "Duplicate",
    "FhirError",
    "FhirKernel",
    "FhirResponse",
    "Forbidden",
    "Gone",
    "InvalidResource",
    "MethodNotAllowed",
    "NotFound",
    "OperationCall",
    "PayloadTooLarge",
    "PreconditionFailed",
    "RateLimiter",
    "RequestContext",
    "ResourceStore",
    "SearchParams",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
    "dumps",
    "information_outcome",
    "kernel_metadata",
    "loads",
    "new_id",
    "now_instant",
    "validate_resource",
    "validate_stu3_resource",
]
