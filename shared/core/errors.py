"""The one error hierarchy of the FHIR API; every error becomes an ``OperationOutcome``.

    FhirError                      (500 exception / REC_SERVER_ERROR)
    ├── BadRequest                 400 invalid / structure     REC_BAD_REQUEST
    │   └── InvalidResource        400 (or 422) invalid        REC_BAD_REQUEST
    ├── Unauthorized               401 login                   REC_UNAUTHORIZED
    ├── Forbidden                  403 forbidden               REC_FORBIDDEN
    ├── NotFound                   404 not-found               REC_NOT_FOUND
    ├── MethodNotAllowed           405 not-supported           REC_METHOD_NOT_ALLOWED
    ├── Conflict                   409 conflict                REC_CONFLICT
    │   └── Duplicate              409 duplicate               REC_CONFLICT
    ├── Gone                       410 deleted                 REC_GONE
    ├── PreconditionFailed         412 conflict                REC_PRECONDITION_FAILED
    ├── PayloadTooLarge            413 too-costly              REC_PAYLOAD_TOO_LARGE
    ├── UnsupportedMediaType       415 not-supported           REC_UNSUPPORTED_MEDIA_TYPE
    ├── Unprocessable              422 business-rule           REC_UNPROCESSABLE_ENTITY
    └── TooManyRequests            429 throttled               REC_TOO_MANY_REQUESTS
        ├── ClientThrottled        429: a valid token's client, again within one spell of throttling
        └── RefusalsThrottled      429: too many refused authentications from one network address

The ``REC_*`` codes are the NHS Booking and Referral Standard's error codes, with the system URL
spelt exactly as BaRS's own examples spell it; the ``issue.code`` values are FHIR's.
"""

from __future__ import annotations

import uuid
from typing import Any

BARS_ERROR_SYSTEM = "https://fhir.nhs.uk/Codesystem/http-error-codes"
BARS_SUCCESS_SYSTEM = "https://fhir.nhs.uk/CodeSystem/NRLF-SuccessCode"
UKCORE_OUTCOME_PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"


def _outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [UKCORE_OUTCOME_PROFILE]},
        "issue": issues,
    }


class FhirError(Exception):
    status = 500
    issue_code = "exception"
    bars_code = "REC_SERVER_ERROR"
    severity = "error"

    def __init__(
        self,
        diagnostics: str,
        *,
        expression: list[str] | None = None,
        issue_code: str | None = None,
        bars_code: str | None = None,
        headers: dict[str, str] | None = None,
        issues: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.expression = expression
        if issue_code:
            self.issue_code = issue_code
        if bars_code:
            self.bars_code = bars_code
        self.headers = headers or {}
        self.extra_issues = issues or []

    def to_operation_outcome(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.issue_code,
            "details": {"coding": [{"system": BARS_ERROR_SYSTEM, "code": self.bars_code}]},
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = self.expression
        return _outcome([issue, *self.extra_issues])


class BadRequest(FhirError):
    status = 400
    issue_code = "invalid"
    bars_code = "REC_BAD_REQUEST"


class InvalidResource(BadRequest):
    """A resource that does not parse as FHIR R4."""


class Unauthorized(FhirError):
    status = 401
    issue_code = "login"
    bars_code = "REC_UNAUTHORIZED"

    # Refusals from the same address answered 429 and not audited one by one since the last audited one
    # (set by the refusal limiter; the AuditEvent of this refusal carries the count).
    unaudited_before: int = 0

    def __init__(self, diagnostics: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        super().__init__(diagnostics, **kwargs)


class Forbidden(FhirError):
    status = 403
    issue_code = "forbidden"
    bars_code = "REC_FORBIDDEN"


class NotFound(FhirError):
    status = 404
    issue_code = "not-found"
    bars_code = "REC_NOT_FOUND"


class MethodNotAllowed(FhirError):
    status = 405
    issue_code = "not-supported"
    bars_code = "REC_METHOD_NOT_ALLOWED"


class Conflict(FhirError):
    status = 409
    issue_code = "conflict"
    bars_code = "REC_CONFLICT"


class Duplicate(Conflict):
    """A repeated ``X-Request-Id``. ``location``: where the original request's resource was stored
    (``Type/id/_history/n``, relative to the FHIR base) when it is known; the route answering the repeat
    turns it into the 409's ``Location`` header."""

    issue_code = "duplicate"

    def __init__(self, diagnostics: str, *, location: str | None = None, **kwargs: Any) -> None:
        super().__init__(diagnostics, **kwargs)
        self.location = location


class Gone(FhirError):
    status = 410
    issue_code = "deleted"
    bars_code = "REC_GONE"


class PreconditionFailed(FhirError):
    status = 412
    issue_code = "conflict"
    bars_code = "REC_PRECONDITION_FAILED"


class PayloadTooLarge(FhirError):
    status = 413
    issue_code = "too-costly"
    bars_code = "REC_PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(FhirError):
    status = 415
    issue_code = "not-supported"
    bars_code = "REC_UNSUPPORTED_MEDIA_TYPE"


class Unprocessable(FhirError):
    status = 422
    issue_code = "business-rule"
    bars_code = "REC_UNPROCESSABLE_ENTITY"


class TooManyRequests(FhirError):
    status = 429
    issue_code = "throttled"
    bars_code = "REC_TOO_MANY_REQUESTS"


class ClientThrottled(TooManyRequests):
    """A request with a valid token from a client already answered 429 in this spell of throttling.

    Not audited one by one (the first 429 of the spell is): the rate limiter counts it, and the count
    goes into the AuditEvent of the client's next audited request (``RequestContext.unaudited_before``).
    """


class RefusalsThrottled(TooManyRequests):
    """A request without a valid token from an address over its budget of refused authentications.

    Not audited one by one: the refusal limiter counts it, and the count goes into the AuditEvent of
    the next refusal from that address that is audited (``Unauthorized.unaudited_before``).
    """


def information_outcome(
    diagnostics: str, *, success_code: str | None = None, display: str | None = None
) -> dict[str, Any]:
    """A success ``OperationOutcome`` (severity information), e.g. BaRS ``RESOURCE_CREATED``."""
    issue: dict[str, Any] = {"severity": "information", "code": "informational", "diagnostics": diagnostics}
    if success_code:
        coding = {"system": BARS_SUCCESS_SYSTEM, "code": success_code, "display": display or success_code}
        issue["details"] = {"coding": [coding]}
    return _outcome([issue])
