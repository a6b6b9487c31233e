"""Authorisation settings, from ``PAINREVIEW_AUTH_*`` environment variables.

``embedded``: this process runs the token endpoint and signs with ``<var>/issuer-key.json``.
``external``: tokens come from another issuer whose JWKS we fetch. Outside development the
settings refuse the embedded issuer, plain-HTTP issuers and placeholder passwords.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

PLACEHOLDER_SECRETS = frozenset({"changethis", "changeme", "password", "secret", "postgres", "example"})


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAINREVIEW_AUTH_", extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=AliasChoices("PAINREVIEW_AUTH_ENVIRONMENT", "PAINREVIEW_ENVIRONMENT")
    )
    mode: Literal["embedded", "external"] = "embedded"
    issuer: str = "http://localhost:8000/auth"
    # Space or comma separated: the FHIR base URL(s) tokens must be addressed to.
    audience: str = "http://localhost:8000/fhir"
    jwks_url: str | None = None  # external mode; embedded serves <issuer>/jwks.json
    token_url: str | None = None  # defaults to <issuer>/token
    token_lifetime_s: int = Field(300, ge=30, le=3600)
    leeway_s: int = Field(30, ge=0, le=300)
    # RFC 9068: an access token's header says typ at+jwt. True: a token typed otherwise (JWT, as a client
    # assertion is) is refused; tokens without typ pass. False only for an external issuer that types
    # its access tokens JWT.
    require_at_jwt: bool = True
    jwks_cache_ttl_s: float = Field(300.0, gt=0)
    jwks_min_refetch_s: float = Field(30.0, ge=0)
    signing_algorithm: Literal["ES384", "RS384"] = "ES384"
    var_dir: Path = Field(
        Path("var"), validation_alias=AliasChoices("PAINREVIEW_AUTH_VAR_DIR", "PAINREVIEW_VAR_DIR")
    )
    database_url: str | None = None  # embedded issuer's own database; defaults to <var>/auth.db
    rate_per_minute: float = Field(600.0, gt=0)  # per client
    rate_burst: int = Field(60, ge=1)
    # Per network address: refused authentications audited one by one; beyond, 429 (shared/auth/ratelimit.py).
    refused_per_minute: float = Field(120.0, gt=0)
    refused_burst: int = Field(60, ge=1)
    # The embedded token endpoint, per network address (every request, granted or refused).
    token_requests_per_minute: float = Field(120.0, gt=0)
    token_requests_burst: int = Field(60, ge=1)
    allow_insecure_http: bool = False  # plain http issuers and outbound calls: development only

    @property
    def audiences(self) -> list[str]:
        return [a for a in self.audience.replace(",", " ").split() if a]

    @property
    def token_endpoint(self) -> str:
        return self.token_url or f"{self.issuer.rstrip('/')}/token"

    @property
    def jwks_uri(self) -> str:
        return self.jwks_url or f"{self.issuer.rstrip('/')}/jwks.json"

    @property
    def issuer_key_path(self) -> Path:
        return self.var_dir / "issuer-key.json"

    @property
    def issuer_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.var_dir / 'auth.db').resolve()}"

    @property
    def advertised_path(self) -> Path:
        """Where ``pain-review up`` records the issuer and audience it advertises (its real address)."""
        return self.var_dir / "issuer-url.json"

    @model_validator(mode="after")
    def _advertised_by_up(self) -> Self:
        """An issuer and audience not set in the environment are the ones ``pain-review up`` recorded for
        this var directory (the address it serves on), so discovery, the tokens ``pain-review token`` mints
        and the verifier agree on the real address, not a fixed ``localhost:8000``."""
        if {"issuer", "audience"} & self.model_fields_set or not self.advertised_path.is_file():
            return self
        recorded = json.loads(self.advertised_path.read_text())
        self.issuer, self.audience = str(recorded["issuer"]), str(recorded["audience"])
        return self

    def advertise(self, base_url: str) -> None:
        """Record ``base_url``'s issuer and audience for this var directory (``pain-review up``)."""
        base = base_url.rstrip("/")
        self.issuer, self.audience = f"{base}/auth", f"{base}/fhir"
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.advertised_path.write_text(json.dumps({"issuer": self.issuer, "audience": self.audience}))

    @model_validator(mode="after")
    def _refuse_unsafe_outside_development(self) -> Self:
        if not self.audiences:
            raise ValueError("PAINREVIEW_AUTH_AUDIENCE must name at least one audience")
        if self.mode == "external" and not self.jwks_url:
            raise ValueError("external mode needs PAINREVIEW_AUTH_JWKS_URL")
        if self.environment == "development":
            return self
        if self.environment == "production" and self.mode == "embedded":
            raise ValueError("production must use an external issuer (PAINREVIEW_AUTH_MODE=external)")
        if self.allow_insecure_http and self.environment == "production":
            raise ValueError("PAINREVIEW_AUTH_ALLOW_INSECURE_HTTP is for development only")
        if self.environment == "production":
            for name, url in (("issuer", self.issuer), ("jwks_url", self.jwks_uri)):
                if not url.startswith("https://"):
                    raise ValueError(f"PAINREVIEW_AUTH_{name.upper()} must be https outside development")
        if self.database_url:
            password = make_url(self.database_url).password
            if password is not None and str(password).lower() in PLACEHOLDER_SECRETS:
                raise ValueError("PAINREVIEW_AUTH_DATABASE_URL uses a placeholder password; set a real one")
        return self
