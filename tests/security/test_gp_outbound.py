"""Finding 1 (critical): an API caller chose where gpconnect sends requests and which environment
variable it sends as a bearer token. Replayed as the attack: the API can no longer configure a
practice, the outbound guard refuses loopback even for an endpoint an operator registered, and
credentials come only from the operator's secret store (``GPCONNECT_SECRET_<REF>``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem, create_embedded_system
from painreview.gp_cli import gp
from services.gpconnect import repository
from services.gpconnect.delivery.adapters import DeliveryError, FakeDocumentChannel, GpConnectFhirAdapter
from services.gpconnect.delivery.credentials import bearer_token
from services.gpconnect.domain.practices import PracticeConfig
from services.gpconnect.settings import GpconnectSettings
from shared.auth.egress import OutboundTarget, RegisteredEndpoint, check_outbound_url
from shared.auth.issuer import IssuerKeys
from tests.support import eventually
from tests.support.listener import Listener
from tests.support.tokens import Tokens

MESH_URL_VALUE = "http://mesh.internal.example:8700/?the-value-the-attacker-wants"
FHIR = {"content-type": "application/fhir+json"}
PATIENT = {
    "resourceType": "Patient",
    "id": "pat-ssrf-1",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
}


@pytest.fixture
def gp_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[EmbeddedSystem, TestClient, Tokens]]:
    for name in ("GPCONNECT_SIMULATOR_URL", "GPCONNECT_ALLOW_PRIVATE_ENDPOINTS", "GPCONNECT_SECRETS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GPCONNECT_VAR_DIR", str(tmp_path))
    # The variable the attacker names: gpconnect's own configuration (it is never sent anywhere, and no
    # MESH is reached in this test: the mailbox host does not exist).
    monkeypatch.setenv("GPCONNECT_MESH_URL", MESH_URL_VALUE)
    monkeypatch.setenv("GPCONNECT_DELIVERY_BASE_S", "0.05")
    system = create_embedded_system(tmp_path)
    tokens = Tokens(system, IssuerKeys(system.auth.issuer_key_path, algorithm=system.auth.signing_algorithm))
    with TestClient(system.app) as client:
        yield system, client, tokens
    for parts in system.services.values():
        parts.engine.dispose()


def _parameters(**values: str) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": k, "valueString": v} for k, v in values.items()],
    }


def _sync(client: TestClient, token: str) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "patient", "resource": PATIENT}]}
    response = client.post(
        "/gpconnect/fhir/$sync-medications", json=body, headers={**FHIR, "authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text


def _deliveries(system: EmbeddedSystem) -> list[repository.Delivery]:
    with system.services["gpconnect"].engine.connect() as conn:
        return repository.list_deliveries(conn)


def _register(*args: str) -> None:
    result = CliRunner().invoke(
        gp, ["practices", "set", "--ods", "A81001", "--supplier", "gpconnect-fhir", *args]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("role", ["gp-system", "project-worker"])
def test_an_api_caller_cannot_point_the_practice_at_its_listener_nor_name_a_secret(
    gp_system: tuple[EmbeddedSystem, TestClient, Tokens], listener: Listener, role: str
) -> None:
    system, client, tokens = gp_system
    token = tokens.valid(scope="system/*.cruds", role=role)
    attack = _parameters(
        supplier="gpconnect-fhir", endpoint=f"{listener.url}/gp", credentialsRef="GPCONNECT_MESH_URL"
    )
    response = client.post(
        "/gpconnect/fhir/$configure-practice",
        json=attack,
        headers={**FHIR, "authorization": f"Bearer {token}"},
    )
    assert response.status_code in (404, 405), response.text
    with system.services["gpconnect"].engine.connect() as conn:
        assert repository.get_practice(conn, "A81001") is None

    _sync(client, token)
    # The read is tried, and waits for a practice an operator configures: it never reaches the listener.
    eventually(
        lambda: any(
            d.attempts and "no GP system configured" in (d.last_error or "") for d in _deliveries(system)
        ),
        what="a read attempt",
    )
    assert listener.requests == []


def test_a_sync_sent_twice_with_one_request_id_queues_one_read(
    gp_system: tuple[EmbeddedSystem, TestClient, Tokens],
) -> None:
    """$sync-medications makes gpconnect call the GP system: a client's retry of the same X-Request-Id
    is a 409 and queues no second read."""
    system, client, tokens = gp_system
    body = {"resourceType": "Parameters", "parameter": [{"name": "patient", "resource": PATIENT}]}
    headers = {**FHIR, "authorization": f"Bearer {tokens.valid()}", "x-request-id": "sync-once-1"}
    first = client.post("/gpconnect/fhir/$sync-medications", json=body, headers=headers)
    assert first.status_code == 200, first.text
    repeat = client.post("/gpconnect/fhir/$sync-medications", json=body, headers=headers)
    assert repeat.status_code == 409, repeat.text
    assert len(_deliveries(system)) == 1


def test_a_loopback_endpoint_an_operator_registered_is_refused_without_the_private_allowance(
    gp_system: tuple[EmbeddedSystem, TestClient, Tokens], listener: Listener
) -> None:
    system, client, tokens = gp_system
    _register("--endpoint", f"{listener.url}/gp")
    _sync(client, tokens.valid())
    dead = eventually(lambda: [d for d in _deliveries(system) if d.state == "dead"], what="the refusal")
    assert "private or loopback" in (dead[0].last_error or "")
    assert listener.requests == []


def test_a_registered_private_endpoint_gets_only_the_operators_secret_never_another_variable(
    gp_system: tuple[EmbeddedSystem, TestClient, Tokens], listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    _system, client, tokens = gp_system
    # The reference names gpconnect's own variable: the store reads GPCONNECT_SECRET_GPCONNECT_MESH_URL,
    # which does not exist, so nothing is sent.
    _register(
        "--endpoint", f"{listener.url}/gp", "--allow-private", "--credentials-ref", "GPCONNECT_MESH_URL"
    )
    _sync(client, tokens.valid())
    eventually(lambda: listener.requests, what="the GP read")
    assert all("authorization" not in {k.lower() for k in r["headers"]} for r in listener.requests)
    assert all(MESH_URL_VALUE not in str(r) for r in listener.requests)

    monkeypatch.setenv("GPCONNECT_SECRET_A81001_GP", "operator-issued-token")
    _register("--endpoint", f"{listener.url}/gp", "--allow-private", "--credentials-ref", "A81001_GP")
    before = len(listener.requests)
    _sync(client, tokens.valid())
    eventually(lambda: len(listener.requests) > before, what="the second GP read")
    last = {k.lower(): v for k, v in listener.requests[-1]["headers"].items()}
    assert last["authorization"] == "Bearer operator-issued-token"


def test_an_operator_cannot_register_a_reference_that_is_a_path_or_a_secret() -> None:
    practice = [
        "--ods",
        "A81001",
        "--supplier",
        "gpconnect-fhir",
        "--endpoint",
        "https://gp.example.nhs.uk/fhir",
    ]
    for ref in ("../../etc/passwd", "lower_case", "Bearer abc.def", "X" * 65):
        result = CliRunner().invoke(gp, ["practices", "set", *practice, "--credentials-ref", ref])
        assert result.exit_code != 0
        assert "credentials_ref" in result.output


def test_the_private_endpoints_allowance_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="ALLOW_PRIVATE_ENDPOINTS"):
        GpconnectSettings(
            environment="production",
            database_url="postgresql+psycopg://x@127.0.0.1/x",
            nats_url="nats://127.0.0.1:4222",
            allow_private_endpoints=True,
        )


def test_the_secret_store_reads_only_its_prefix_or_its_directory(tmp_path: Path) -> None:
    (tmp_path / "A81002_GP").write_text("from-the-mounted-secret\n")
    environ = {"GPCONNECT_MESH_URL": MESH_URL_VALUE, "GPCONNECT_SECRETS_DIR": str(tmp_path)}
    assert bearer_token("GPCONNECT_MESH_URL", environ) is None
    assert bearer_token("A81002_GP", environ) == "from-the-mounted-secret"
    assert bearer_token("../A81002_GP", environ) is None
    assert bearer_token("A81001_GP", {**environ, "GPCONNECT_SECRET_A81001_GP": "t"}) == "t"


def test_the_call_goes_to_the_address_the_guard_vetted_not_to_a_second_lookup(listener: Listener) -> None:
    """DNS rebinding: a name that resolved to an allowed address when checked must not be looked up again
    (and answer an internal one) when connecting. The name here resolves only in the guard's resolver."""
    lookups: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    endpoint = f"http://rebind.invalid:{listener.port}/gp"
    practice = PracticeConfig("A81001", "gpconnect-fhir", endpoint, allow_private=True)

    def guard(url: str, config: PracticeConfig) -> OutboundTarget:
        allowed = [RegisteredEndpoint(config.endpoint, allow_private=True)]
        return check_outbound_url(url, allowed, allow_insecure_http=True, resolve=resolve)

    async def read() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            adapter = GpConnectFhirAdapter(practice, client, guard, FakeDocumentChannel())
            with contextlib.suppress(DeliveryError):  # what the listener answers is beside the point
                await adapter.read_record("9990000018", trace_id="rebinding")

    anyio.run(read)
    assert lookups == ["rebind.invalid"]
    assert len(listener.requests) == 1
    headers = {k.lower(): v for k, v in listener.requests[0]["headers"].items()}
    assert headers["host"] == f"rebind.invalid:{listener.port}"
