"""HTTP face of the embedded issuer: ``POST /auth/token``, ``GET /auth/jwks.json``, SMART discovery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from shared.auth.claims import ALGORITHMS
from shared.auth.issuer.service import JWT_BEARER, OAuthError, TokenIssuer
from shared.auth.ratelimit import RateLimiter
from shared.auth.settings import AuthSettings
from shared.auth.verify import unverified_claims
from shared.core.errors import TooManyRequests

MAX_FORM_BYTES = 16 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_TOKEN_FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["grant_type", "client_assertion_type", "client_assertion", "scope"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_assertion_type": {"type": "string", "enum": [JWT_BEARER]},
        "client_assertion": {"type": "string", "description": "JWT signed with the client's key"},
        "scope": {"type": "string", "example": "system/Patient.rs system/ServiceRequest.cruds"},
    },
}
_TOKEN_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": _TOKEN_FORM_SCHEMA}},
    }
}


def _oauth_error(error: OAuthError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=NO_STORE)


async def _token_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", "the request body is too large")
    try:
        fields = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    if any(len(values) > 1 for values in fields.values()):
        raise OAuthError("invalid_request", "a parameter was sent more than once")
    return {name: values[0] for name, values in fields.items()}


def token_rate_limiter(settings: AuthSettings) -> RateLimiter:
    """The token endpoint's limit per network address, from ``PAINREVIEW_AUTH_TOKEN_REQUESTS_*``."""
    return RateLimiter.per_minute(settings.token_requests_per_minute, burst=settings.token_requests_burst)


def _claimed_client(form: dict[str, str]) -> str:
    try:
        claimed = unverified_claims(form.get("client_assertion", "")).get("iss")
    except ValueError:
        return ""
    return claimed if isinstance(claimed, str) else ""


def issuer_router(
    issuer: TokenIssuer, *, prefix: str = "/auth", rate_limiter: RateLimiter | None = None
) -> APIRouter:
    """The token endpoint and the issuer's public JWKS; mount on the app serving ``issuer`` URLs.

    Token requests are limited per network address (``rate_limiter``; default 120 a minute, burst 60):
    past it, 429 with ``Retry-After`` before the form is read. Every refused request within the limit
    is audited in the issuer's database (``auth_token_refusal``: time, address, the client id the
    assertion claimed, the error), never with the assertion."""
    router = APIRouter(prefix=prefix, tags=["auth"])
    limiter = rate_limiter or RateLimiter.per_minute(120, burst=60)

    @router.post(
        "/token",
        summary="SMART Backend Services token endpoint (client_credentials)",
        openapi_extra=_TOKEN_OPENAPI,
    )
    async def token(request: Request) -> JSONResponse:
        address = request.client.host if request.client else "unknown"
        try:
            limiter.check(address)
        except TooManyRequests as exc:
            body = {
                "error": "invalid_request",
                "error_description": "too many token requests from this address",
            }
            return JSONResponse(body, status_code=429, headers={**NO_STORE, **(exc.headers or {})})
        form: dict[str, str] = {}
        try:
            form = await _token_form(request)
            response = await run_in_threadpool(issuer.exchange, form)
        except OAuthError as error:
            await run_in_threadpool(
                issuer.registry.record_refusal,
                address=address,
                claimed_client_id=_claimed_client(form),
                error=error.error,
                description=error.description,
            )
            return _oauth_error(error)
        return JSONResponse(response.body(), headers=NO_STORE)

    @router.get("/jwks.json", summary="The issuer's public signing keys")
    async def jwks() -> JSONResponse:
        keys = await run_in_threadpool(issuer.keys.jwks)
        return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})

    return router


def smart_configuration(
    *, issuer: str, token_endpoint: str, jwks_uri: str, scopes_supported: Sequence[str]
) -> dict[str, Any]:
    """The SMART App Launch 2 discovery document for backend services only."""
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "token_endpoint": token_endpoint,
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": list(scopes_supported),
        "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
        # REQUIRED by SMART 2 even without an authorize endpoint: S256 listed, plain never.
        "code_challenge_methods_supported": ["S256"],
    }


def smart_configuration_router(
    *,
    issuer: str,
    token_endpoint: str,
    jwks_uri: str,
    scopes_supported: Sequence[str],
    prefix: str = "",
) -> APIRouter:
    """``GET <prefix>/.well-known/smart-configuration``; mount under each FHIR base URL."""
    router = APIRouter(prefix=prefix, tags=["auth"])
    document = smart_configuration(
        issuer=issuer, token_endpoint=token_endpoint, jwks_uri=jwks_uri, scopes_supported=scopes_supported
    )

    @router.get("/.well-known/smart-configuration", summary="SMART discovery")
    async def smart_config() -> JSONResponse:
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=3600"})

    return router
