"""Assembling the embedded issuer from settings, and minting tokens for local use (the CLI)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from sqlalchemy import Engine

from shared.auth.claims import STAFF_ROLES, narrow_scopes
from shared.auth.issuer.keys import IssuerKeys
from shared.auth.issuer.registry import ClientRegistrationError, ClientRegistry, RegisteredClient
from shared.auth.issuer.service import TokenIssuer
from shared.auth.issuer.tables import create_issuer_tables
from shared.auth.settings import AuthSettings
from shared.core.principal import Role
from shared.db import make_engine

# The local CLI client may be granted anything; who can read the issuer key can sign anything anyway.
LOCAL_CLIENT_SCOPES = "system/*.cruds"


def issuer_engine(settings: AuthSettings) -> Engine:
    """The issuer's own database (``<var>/auth.db`` unless configured), with its tables created."""
    engine = make_engine(settings.issuer_database_url, pool_size=2)
    create_issuer_tables(engine)
    return engine


def embedded_issuer(
    settings: AuthSettings, *, engine: Engine | None = None, clock: Callable[[], float] = time.time
) -> TokenIssuer:
    if settings.mode != "embedded":
        raise ValueError("the embedded issuer runs only with PAINREVIEW_AUTH_MODE=embedded")
    audiences = settings.audiences
    return TokenIssuer(
        ClientRegistry(engine or issuer_engine(settings)),
        IssuerKeys(settings.issuer_key_path, algorithm=settings.signing_algorithm),
        issuer=settings.issuer,
        audience=audiences[0] if len(audiences) == 1 else audiences,
        token_url=settings.token_endpoint,
        lifetime_s=settings.token_lifetime_s,
        leeway_s=settings.leeway_s,
        clock=clock,
    )


def local_client_id(role: str, practice: str) -> str:
    return f"local-cli-{role}-{practice}"


def mint_local_token(
    settings: AuthSettings,
    *,
    practice: str,
    scope: str,
    role: Role = "gp-system",
    practices: Iterable[str] = (),
    lifetime_s: int | None = None,
) -> str:
    """A token signed with the embedded issuer's key for a local CLI client of ``practice``.

    The client ``local-cli-<role>-<ODS>`` is registered on first use, so tokens name a real client
    in audit trails. Raises ``ValueError`` (operator-readable) for a bad practice, role or scope.
    """
    assigned = frozenset(practices)
    if assigned and role not in STAFF_ROLES:
        raise ClientRegistrationError("--practices is only for project-worker and specialist roles")
    engine = issuer_engine(settings)
    try:
        issuer = embedded_issuer(settings, engine=engine)
        client_id = local_client_id(role, practice)
        client = issuer.registry.get(client_id)
        if client is None:
            client = RegisteredClient(
                client_id=client_id, practice=practice, role=role, scopes=LOCAL_CLIENT_SCOPES
            )
            try:
                issuer.registry.add(client)
            except ClientRegistrationError:
                client = issuer.registry.get(client_id)  # registered by a concurrent run
                if client is None:
                    raise
        granted = narrow_scopes(scope, client.scopes)
        if not granted:
            raise ValueError("no usable scope: give SMART system scopes, e.g. 'system/Patient.rs'")
        return issuer.mint(client, granted, practices=assigned, lifetime_s=lifetime_s)
    finally:
        engine.dispose()
