"""The embedded issuer's own small database (``var/auth.db``): registered clients and used ``jti``s.

These tables live in their own ``MetaData``, apart from every service's, and are created with
``create_issuer_tables``: the embedded issuer is for development, tests and single-box installs;
production points at an external issuer and has none of this.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
)

metadata = MetaData()

client_table = Table(
    "auth_client",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("practice", String(10), nullable=False),  # ODS code
    Column("role", String(40), nullable=False),
    Column("scopes", Text, nullable=False),  # space separated, as registered
    Column("practices", Text, nullable=False, default=""),  # space separated ODS codes (staff roles)
    Column("jwks", Text, nullable=False),  # JSON {"keys": [public JWKs]}
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# A client assertion's jti is remembered until the assertion has expired; after that its exp check
# refuses it anyway, so the row can go.
used_assertion_table = Table(
    "auth_used_assertion",
    metadata,
    Column("client_id", String(200), nullable=False),
    Column("jti", String(200), nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),  # Unix seconds
    PrimaryKeyConstraint("client_id", "jti"),
)


# Refused token requests: when, from where, which client the (unverified) assertion named, and why;
# never the assertion itself. Written for each refusal the token endpoint's rate limit lets through.
token_refusal_table = Table(
    "auth_token_refusal",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("address", String(64), nullable=False, default=""),
    Column("claimed_client_id", String(200), nullable=False, default=""),
    Column("error", String(40), nullable=False),
    Column("description", String(200), nullable=False),
)


def create_issuer_tables(engine: Engine) -> None:
    metadata.create_all(engine)
