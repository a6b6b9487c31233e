"""Every error leaves as an ``OperationOutcome`` with the right status and no stack trace."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from shared.core.errors import (
    BadRequest,
    FhirError,
    MethodNotAllowed,
    NotFound,
    UnsupportedMediaType,
)
from shared.fhir.jsonio import FhirResponse

__all__ = ["install_error_handlers", "render_error", "where"]

log = logging.getLogger("pain-review.errors")


def where(exc: BaseException) -> list[str]:
    """The frames an exception passed through (file:line function), innermost last; no message."""
    frames = traceback.extract_tb(exc.__traceback__)[-12:]
    return [f"{'/'.join(Path(f.filename).parts[-3:])}:{f.lineno} {f.name}" for f in frames]


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """The ``Allow`` of a 405 (RFC 9110 15.5.6: it MUST list the methods the target serves): each method
    some route of the app takes at this path. Starlette's own names only the first matching route's
    (``GET`` of ``/Patient/{id}``, not its ``PUT`` and ``DELETE``)."""
    routes = request.app.router.routes
    served = [
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]
    return ", ".join(served)


def render_error(exc: FhirError) -> Response:
    return FhirResponse(exc.to_operation_outcome(), status_code=exc.status, headers=exc.headers or None)


def install_error_handlers(app: FastAPI) -> None:
    async def fhir_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FhirError)
        return render_error(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        mapped: FhirError
        if exc.status_code == 404:
            mapped = NotFound("No such endpoint or resource type on this server")
        elif exc.status_code == 405:
            allowed = allowed_methods(request)
            mapped = MethodNotAllowed(
                f"This method is not supported here; allowed: {allowed}", headers={"Allow": allowed}
            )
        elif exc.status_code == 415:
            mapped = UnsupportedMediaType("Unsupported media type")
        else:
            mapped = FhirError(str(exc.detail) if exc.status_code < 500 else "Internal error")
            mapped.status = exc.status_code
        return render_error(mapped)

    async def validation_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for error in exc.errors()[:5]:
            location = ".".join(str(p) for p in error.get("loc", ()))
            parts.append(f"{location}: {error.get('msg', 'invalid')}")
        return render_error(BadRequest("; ".join(parts) or "Invalid request"))

    async def unexpected(_request: Request, exc: Exception) -> Response:
        # Where it failed, not what it said: an exception's message may carry what it was given
        # (a driver's error names the values of a key), and no log line carries patient data.
        log.error("unhandled error", extra={"error_type": type(exc).__name__, "where": where(exc)})
        return render_error(FhirError("An internal error occurred; quote the X-Request-Id to the operator"))

    app.add_exception_handler(FhirError, fhir_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
