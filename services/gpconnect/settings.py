"""Configuration of the gpconnect service, from ``GPCONNECT_*`` environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.web import ServiceSettings

__all__ = ["GpconnectSettings"]

SANDBOX_SECRETS = ("password", "TestKey")


class GpconnectSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GPCONNECT_", extra="ignore")

    service_name: str = "gpconnect"

    # The GP practice simulator (local runs): when set, the practices named below are configured to use
    # it at start-up, unless a practice already has a configuration.
    simulator_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:8000/gp-simulator")
    simulator_practices: str = Field(
        default="A81001:gpconnect-fhir,A81002:emis-style",
        description="ODS:supplier pairs the simulator stands in for (comma-separated).",
    )
    simulator_mesh_mailbox: str = Field(default="X26ABC2", description="The simulated practices' mailbox.")
    simulator_credentials_ref: str = Field(
        default="GP_SIMULATOR",
        description="The simulator's token in the secret store: GPCONNECT_SECRET_<REF>.",
    )

    # MESH (documents): NHS England's mesh-sandbox locally; our mailbox sends, the practice's receives.
    mesh_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:8700; unset = no MESH")
    mesh_mailbox: str = "X26ABC1"
    mesh_password: SecretStr = SecretStr("password")
    mesh_shared_key: SecretStr = SecretStr("TestKey")
    mesh_workflow_id: str = "PAIN_REVIEW_PLAN_SUMMARY"
    mesh_timeout_s: float = Field(default=10.0, gt=0)

    # Outbound HTTP to GP systems.
    allow_insecure_http: bool | None = Field(
        default=None, description="Plain http to GP systems; default: allowed outside production."
    )
    allow_private_endpoints: bool = Field(
        default=False,
        description="Development only: every registered GP endpoint may be a private or loopback "
        "address (refused in production; register an HSCN practice with `gp practices set --allow-private`).",
    )
    connect_timeout_s: float = Field(default=2.0, gt=0)
    read_timeout_s: float = Field(default=5.0, gt=0)
    consumer_asid: str = "200000000359"

    # The delivery worker.
    delivery_enabled: bool = True
    delivery_max_attempts: int = Field(default=10, ge=1)
    delivery_base_s: float = Field(default=0.5, ge=0)
    delivery_cap_s: float = Field(default=30.0, gt=0)
    delivery_concurrency: int = Field(default=16, ge=1, le=256)
    delivery_poll_s: float = Field(default=0.2, gt=0, description="How often due deliveries are looked for.")
    delivery_idle_poll_s: float = Field(
        default=2.0,
        gt=0,
        description="With nothing due: the longest sleep (deliveries added in this process wake it).",
    )
    decision_poll_s: float = Field(default=2.0, gt=0, description="How often a pending GP decision is asked.")
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_open_s: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _no_sandbox_secrets_in_production(self) -> GpconnectSettings:
        if self.environment == "production" and self.mesh_url and not self.mesh_url.startswith("http://"):
            for secret in (self.mesh_password, self.mesh_shared_key):
                if secret.get_secret_value() in SANDBOX_SECRETS:
                    raise ValueError("production MESH needs real credentials, not the sandbox's")
        return self

    @model_validator(mode="after")
    def _no_private_endpoints_allowance_in_production(self) -> GpconnectSettings:
        if self.environment == "production" and self.allow_private_endpoints:
            raise ValueError(
                "GPCONNECT_ALLOW_PRIVATE_ENDPOINTS is for development; in production register each "
                "private endpoint with `pain-review gp practices set --allow-private`"
            )
        return self

    @property
    def insecure_http_allowed(self) -> bool:
        if self.allow_insecure_http is not None:
            return self.allow_insecure_http
        return self.environment != "production"

    def simulated_practices(self) -> list[tuple[str, str]]:
        pairs = []
        for item in self.simulator_practices.replace(" ", "").split(","):
            if item:
                ods, _, supplier = item.partition(":")
                pairs.append((ods.upper(), supplier or "gpconnect-fhir"))
        return pairs
