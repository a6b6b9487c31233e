"""The FHIR REST kernel every service uses: models, JSON I/O, errors, store, search, routes.

Services import from here only (an import contract holds them to it); the submodules are the kernel's
own. Migrations are the exception: they call the kernel's versioned schema (``shared.fhir.schema``)."""

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
from shared.fhir.audit import AuditRecord, RequestContext, provenance
from shared.fhir.http import etag_version
from shared.fhir.idempotency import DUPLICATE_TEXT
from shared.fhir.jsonio import FHIR_JSON, MAX_DEPTH, FhirResponse, depth_ok, dumps, loads
from shared.fhir.kernel import (
    Authenticator,
    FhirKernel,
    OperationCall,
    Preparer,
    RateLimiter,
    UnitHandler,
    WriteHook,
)
from shared.fhir.models import FHIR_VERSION, validate_resource, validate_stu3_resource
from shared.fhir.searchparams import SearchParams, patient_of
from shared.fhir.store import SHARED_TENANT, ResourceStore, new_id, now_instant
from shared.fhir.store_write import stamp
from shared.fhir.tables import history_table, kernel_metadata, resource_table, search_index_table
from shared.fhir.tenancy import (
    history_visible,
    owner_practice,
    record_discharge,
    record_enrolment,
    record_enrolment_event,
    visible_rows,
)
from shared.fhir.unit_of_work import ConsumerHandler, UnitOfWork, service_actor
from shared.fhir.values import (
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    Parameters,
    bundle_resources,
    format_instant,
    nhs_number_identifier,
    nhs_number_of,
    parse_instant,
    reference,
    reference_id,
)

__all__ = [
    "DUPLICATE_TEXT",
    "FHIR_JSON",
    "FHIR_VERSION",
    "MAX_DEPTH",
    "NHS_NUMBER_SYSTEM",
    "ODS_SYSTEM",
    "SHARED_TENANT",
    "AuditRecord",
    "Authenticator",
    "BadRequest",
    "Conflict",
    "ConsumerHandler",
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
    "Parameters",
    "PayloadTooLarge",
    "PreconditionFailed",
    "Preparer",
    "RateLimiter",
    "RequestContext",
    "ResourceStore",
    "SearchParams",
    "TooManyRequests",
    "Unauthorized",
    "UnitHandler",
    "UnitOfWork",
    "Unprocessable",
    "UnsupportedMediaType",
    "WriteHook",
    "bundle_resources",
    "depth_ok",
    "dumps",
    "etag_version",
    "format_instant",
    "history_table",
    "history_visible",
    "information_outcome",
    "kernel_metadata",
    "loads",
    "new_id",
    "nhs_number_identifier",
    "nhs_number_of",
    "now_instant",
    "owner_practice",
    "parse_instant",
    "patient_of",
    "provenance",
    "record_discharge",
    "record_enrolment",
    "record_enrolment_event",
    "reference",
    "reference_id",
    "resource_table",
    "search_index_table",
    "service_actor",
    "stamp",
    "validate_resource",
    "validate_stu3_resource",
    "visible_rows",
]
