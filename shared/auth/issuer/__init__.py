"""The embedded SMART Backend Services issuer (development, tests, single-box installs)."""

from shared.auth.issuer.keys import IssuerKeys, generate_signing_key
from shared.auth.issuer.local import embedded_issuer, issuer_engine, local_client_id, mint_local_token
from shared.auth.issuer.registry import (
    ClientRegistrationError,
    ClientRegistry,
    RegisteredClient,
    jwks_from_document,
)
from shared.auth.issuer.router import issuer_router, smart_configuration, smart_configuration_router
from shared.auth.issuer.service import (
    CLIENT_CREDENTIALS,
    JWT_BEARER,
    OAuthError,
    TokenIssuer,
    TokenResponse,
)
from shared.auth.issuer.tables import create_issuer_tables

__all__ = [
    "CLIENT_CREDENTIALS",
    "JWT_BEARER",
    "ClientRegistrationError",
    "ClientRegistry",
    "IssuerKeys",
    "OAuthError",
    "RegisteredClient",
    "TokenIssuer",
    "TokenResponse",
    "create_issuer_tables",
    "embedded_issuer",
    "generate_signing_key",
    "issuer_engine",
    "issuer_router",
    "jwks_from_document",
    "local_client_id",
    "mint_local_token",
    "smart_configuration",
    "smart_configuration_router",
]
