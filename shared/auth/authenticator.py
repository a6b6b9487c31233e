"""From an HTTP request to a ``Principal``: the bearer token, verified, then rate limited.

The FHIR kernel calls ``await authenticator.authenticate(request)`` on every FHIR, operation and
CDS Hooks route and ``require(principal, type, interaction)`` before acting; routes that prefer
FastAPI dependencies use ``principal_dependency`` / ``scope_dependency``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import Request

from shared.auth.issuer.keys import IssuerKeys
from shared.auth.jwks import RemoteJwks
from shared.auth.ratelimit import RateLimiter, RefusalLimiter
from shared.auth.settings import AuthSettings
from shared.auth.verify import TokenVerifier
from shared.core.errors import Forbidden, Unauthorized
from shared.core.principal import Interaction, Principal

_BEARER = re.compile(r"^Bearer +([A-Za-z0-9._~+/-]+=*) *$", re.IGNORECASE)
_INTERACTION_NAMES = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}


def bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer`` header; ``Unauthorized`` when missing or malformed."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized(
            "This request needs an access token: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    match = _BEARER.match(header)
    if match is None:
        raise Unauthorized("The Authorization header is not a Bearer token")
    return match.group(1)


class Authenticator:
    def __init__(
        self,
        verifier: TokenVerifier,
        rate_limiter: RateLimiter | None = None,
        refusals: RefusalLimiter | None = None,
    ) -> None:
        self.verifier = verifier
        self.rate_limiter = rate_limiter
        self.refusals = refusals

    @classmethod
    def from_settings(cls, settings: AuthSettings, *, rate_limit: bool = True) -> Authenticator:
        """Embedded mode trusts the key file beside us; external mode fetches the issuer's JWKS.

        Rate limiting per client is on by default; pass ``rate_limit=False`` only when the caller
        limits itself (e.g. hands ``RateLimiter.from_settings`` to the FHIR kernel instead). Refused
        authentications are always limited per network address (``RefusalLimiter``).
        """
        jwks: IssuerKeys | RemoteJwks
        if settings.mode == "embedded":
            jwks = IssuerKeys(settings.issuer_key_path, algorithm=settings.signing_algorithm)
        else:
            jwks = RemoteJwks(
                settings.jwks_uri, ttl_s=settings.jwks_cache_ttl_s, min_refetch_s=settings.jwks_min_refetch_s
            )
        verifier = TokenVerifier(
            jwks,
            settings.issuer,
            settings.audiences,
            settings.leeway_s,
            require_at_jwt=settings.require_at_jwt,
        )
        limiter = RateLimiter.from_settings(settings) if rate_limit else None
        return cls(verifier, limiter, RefusalLimiter.from_settings(settings))

    async def authenticate(self, request: Request) -> Principal:
        """The verified caller; also kept as ``request.state.principal`` for audit and logging."""
        try:
            principal = await self.verifier.verify(bearer_token(request))
        except Unauthorized as refusal:
            if self.refusals is not None:
                self.refusals.refused(request.client.host if request.client else "unknown", refusal)
            raise
        request.state.principal = principal  # before the limit: a 429 is audited under the caller's practice
        if self.rate_limiter is not None:
            # 429s of this client not audited one by one: this request's AuditEvent carries the count.
            request.state.throttled_unaudited = self.rate_limiter.check(principal.client_id)
        return principal


def required_scope(resource_type: str, interaction: Interaction) -> str:
    return f"system/{resource_type}.{interaction}"


def require(principal: Principal, resource_type: str, interaction: Interaction) -> None:
    """Raise ``Forbidden`` naming the scope needed unless the caller's scopes allow this."""
    if not principal.allows(resource_type, interaction):
        action = _INTERACTION_NAMES[interaction]
        scope = required_scope(resource_type, interaction)
        challenge = f'Bearer error="insufficient_scope", scope="{scope}"'  # RFC 6750 3.1
        raise Forbidden(
            f"This {action} of {resource_type} needs scope {scope}"
            " (or a wider one), which the access token does not grant",
            headers={"WWW-Authenticate": challenge},
        )


def principal_dependency(authenticator: Authenticator) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: ``CallerDep = Annotated[Principal, Depends(principal_dependency(a))]``."""

    async def current_principal(request: Request) -> Principal:
        return await authenticator.authenticate(request)

    return current_principal


def scope_dependency(
    authenticator: Authenticator, resource_type: str, interaction: Interaction
) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency that authenticates and then requires one scope."""

    async def authorised_principal(request: Request) -> Principal:
        principal = await authenticator.authenticate(request)
        require(principal, resource_type, interaction)
        return principal

    return authorised_principal
