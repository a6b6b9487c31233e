"""The client registry: who may ask the embedded issuer for tokens, and which assertions were used."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import Key
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from shared.auth.claims import CLIENT_ROLES, STAFF_ROLES, is_ods_code, narrow_scopes
from shared.auth.issuer.tables import client_table, token_refusal_table, used_assertion_table
from shared.auth.jwks import public_keys


class ClientRegistrationError(ValueError):
    """A registration that would make an unusable or unsafe client; the message is for the operator."""


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    practice: str  # ODS code
    role: str
    scopes: str  # space separated SMART scopes the client may be granted
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    practices: frozenset[str] = frozenset()  # assigned practices, staff roles only
    disabled: bool = False

    def keys(self) -> dict[str, Key]:
        return public_keys(self.jwks)

    def validate(self) -> None:
        if not self.client_id or len(self.client_id) > 200 or not self.client_id.isprintable():
            raise ClientRegistrationError("client id must be 1-200 printable characters")
        if not is_ods_code(self.practice):
            raise ClientRegistrationError("practice must be an ODS code, e.g. A81001")
        if self.role not in CLIENT_ROLES:
            raise ClientRegistrationError(f"role must be one of {', '.join(sorted(CLIENT_ROLES))}")
        if self.practices and self.role not in STAFF_ROLES:
            raise ClientRegistrationError(
                "only project-worker and specialist clients have assigned practices"
            )
        if not all(is_ods_code(code) for code in self.practices):
            raise ClientRegistrationError("assigned practices must be ODS codes")
        if not narrow_scopes(self.scopes, self.scopes):
            raise ClientRegistrationError("scopes must include at least one system/<Resource>.<cruds> scope")
        for entry in self.jwks.get("keys", []):
            if not isinstance(entry, dict) or "d" in entry or entry.get("kty") == "oct":
                raise ClientRegistrationError("register the client's public key only, never a private key")
        if len(self.keys()) != len(self.jwks.get("keys", [])):
            raise ClientRegistrationError(
                "every key needs a kid and must be RSA >= 2048 bits (RS384) or EC P-384 (ES384)"
            )


def jwks_from_document(document: Any) -> dict[str, Any]:
    """A JWK set from a JWKS document or a single JWK, as clients hand them over."""
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        return {"keys": document["keys"]}
    if isinstance(document, dict) and "kty" in document:
        return {"keys": [document]}
    raise ClientRegistrationError("expected a JWK or a JWK set ({'keys': [...]})")


class ClientRegistry:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, client: RegisteredClient) -> None:
        client.validate()
        row = {
            "client_id": client.client_id,
            "practice": client.practice,
            "role": client.role,
            "scopes": " ".join(client.scopes.split()),
            "practices": " ".join(sorted(client.practices)),
            "jwks": json.dumps(client.jwks),
            "disabled": client.disabled,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(client_table).values(**row))
        except IntegrityError:
            raise ClientRegistrationError(f"client {client.client_id!r} is already registered") from None

    def get(self, client_id: str) -> RegisteredClient | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(client_table).where(client_table.c.client_id == client_id)).first()
        if row is None:
            return None
        return RegisteredClient(
            client_id=row.client_id,
            practice=row.practice,
            role=row.role,
            scopes=row.scopes,
            jwks=json.loads(row.jwks),
            practices=frozenset(row.practices.split()),
            disabled=row.disabled,
        )

    def set_disabled(self, client_id: str, disabled: bool = True) -> None:
        """A disabled client gets no token (its tokens already issued live out their few minutes)."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(client_table).where(client_table.c.client_id == client_id).values(disabled=disabled)
            ).rowcount
        if not changed:
            raise ClientRegistrationError(f"client {client_id!r} is not registered")

    def replace_keys(self, client_id: str, jwks: dict[str, Any]) -> RegisteredClient:
        """Rotate: ``jwks`` becomes the client's only keys, so an assertion signed with any other (a
        leaked or retired key) is refused from now on."""
        current = self.get(client_id)
        if current is None:
            raise ClientRegistrationError(f"client {client_id!r} is not registered")
        rotated = RegisteredClient(
            current.client_id,
            current.practice,
            current.role,
            current.scopes,
            jwks,
            current.practices,
            current.disabled,
        )
        if not jwks.get("keys"):
            raise ClientRegistrationError("a rotation needs at least one new public key")
        rotated.validate()
        with self.engine.begin() as conn:
            conn.execute(
                update(client_table)
                .where(client_table.c.client_id == client_id)
                .values(jwks=json.dumps(jwks))
            )
        return rotated

    def all(self) -> list[RegisteredClient]:
        clients = [self.get(client_id) for client_id in sorted(self.ids())]
        return [client for client in clients if client is not None]

    def use_assertion(self, client_id: str, jti: str, expires_at: int, now: int) -> bool:
        """Record a client assertion's ``jti``; ``False`` if this client already used it (a replay)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(used_assertion_table).where(used_assertion_table.c.expires_at < now))
                conn.execute(
                    insert(used_assertion_table).values(client_id=client_id, jti=jti, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True

    def record_refusal(self, *, address: str, claimed_client_id: str, error: str, description: str) -> None:
        """Audit one refused token request (nothing of the assertion but the client id it claimed)."""
        claimed = "".join(ch for ch in claimed_client_id if ch.isprintable())[:200]
        with self.engine.begin() as conn:
            conn.execute(
                insert(token_refusal_table).values(
                    address=address[:64],
                    claimed_client_id=claimed,
                    error=error[:40],
                    description=description[:200],
                )
            )

    def refusals(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(token_refusal_table).order_by(token_refusal_table.c.id.desc()).limit(limit)
            ).all()
        return [dict(row._mapping) for row in rows]

    def ids(self) -> Iterable[str]:
        with self.engine.connect() as conn:
            return [row.client_id for row in conn.execute(select(client_table.c.client_id))]
