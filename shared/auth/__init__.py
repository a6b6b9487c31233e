"""Who may call us and what they may do: SMART Backend Services tokens, scopes, tenants, limits.

verify        TokenVerifier: bearer JWT -> Principal (RS384/ES384, iss/aud/exp/nbf)
jwks          where verification keys come from: LocalJwks, RemoteJwks (cached, rotation-aware)
claims        the claim names an issuer must emit, scope narrowing
authenticator Authenticator (request -> Principal), require(), FastAPI dependencies
ratelimit     per-client token buckets -> 429 with Retry-After; refused authentications per address
egress        SSRF guard for server-side fetches
settings      AuthSettings (PAINREVIEW_AUTH_*)
issuer        the embedded token endpoint, client registry, signing keys, local minting
"""

from shared.auth.authenticator import (
    Authenticator,
    bearer_token,
    principal_dependency,
    require,
    required_scope,
    scope_dependency,
)
from shared.auth.claims import ALGORITHMS, InvalidClaims, narrow_scopes, principal_from_claims
from shared.auth.egress import OutboundTarget, OutboundUrlRefused, RegisteredEndpoint, check_outbound_url
from shared.auth.issuer import (
    ClientRegistrationError,
    ClientRegistry,
    IssuerKeys,
    RegisteredClient,
    TokenIssuer,
    create_issuer_tables,
    embedded_issuer,
    issuer_router,
    mint_local_token,
    smart_configuration_router,
)
from shared.auth.jwks import JwksSource, LocalJwks, RemoteJwks
from shared.auth.ratelimit import RateLimiter, RefusalLimiter
from shared.auth.settings import AuthSettings
from shared.auth.verify import TokenVerifier
from shared.core.principal import (
    INTERACTIONS,
    ROLE_ACCESS,
    STAFF_ROLES,
    UNAUTHENTICATED_TENANT,
    Interaction,
    Principal,
    Role,
    Scope,
    Tenancy,
    parse_scopes,
    role_permits,
)

__all__ = [
    "ALGORITHMS",
    "INTERACTIONS",
    "ROLE_ACCESS",
    "STAFF_ROLES",
    "UNAUTHENTICATED_TENANT",
    "AuthSettings",
    "Authenticator",
    "ClientRegistrationError",
    "ClientRegistry",
    "Interaction",
    "InvalidClaims",
    "IssuerKeys",
    "JwksSource",
    "LocalJwks",
    "OutboundTarget",
    "OutboundUrlRefused",
    "Principal",
    "RateLimiter",
    "RefusalLimiter",
    "RegisteredClient",
    "RegisteredEndpoint",
    "RemoteJwks",
    "Role",
    "Scope",
    "Tenancy",
    "TokenIssuer",
    "TokenVerifier",
    "bearer_token",
    "check_outbound_url",
    "create_issuer_tables",
    "embedded_issuer",
    "issuer_router",
    "mint_local_token",
    "narrow_scopes",
    "parse_scopes",
    "principal_dependency",
    "principal_from_claims",
    "require",
    "required_scope",
    "role_permits",
    "scope_dependency",
    "smart_configuration_router",
]
