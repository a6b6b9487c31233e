"""Finding 7 (medium): ``pain-review up`` mounted the GP simulator with no authentication and no way to
turn it off: anyone could break every GP read (``PUT /admin/faults``), read patient records and approve
or decline taper steps, with 60 MB bodies. Replayed as the attack: every route but ``/healthz`` needs
the simulator's own token, bodies are capped, and it is not there in production."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from painreview.embedded import EmbeddedSystem, create_embedded_system
from painreview.simulator import SimulatorSettings, create_simulator_app
from painreview.simulator_app import TOKEN_FILE, standalone_simulator_app
from shared.auth.issuer import IssuerKeys
from tests.support.tokens import Tokens

SIM = "/gp-simulator"


@pytest.fixture(scope="module")
def with_simulator(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmbeddedSystem, TestClient, str, Path]]:
    var_dir = tmp_path_factory.mktemp("var")
    with pytest.MonkeyPatch.context() as env:
        for name in (
            "GPSIM_TOKEN",
            "GPSIM_ENVIRONMENT",
            "GPCONNECT_ENVIRONMENT",
            "GPCONNECT_SECRET_GP_SIMULATOR",
        ):
            env.setenv(name, "")  # remembered as it was, so what the system sets is undone too
            env.delenv(name)
        env.setenv("GPSIM_PATIENTS_PER_PRACTICE", "20")
        system = create_embedded_system(var_dir, with_simulator=True)
        token = (var_dir / TOKEN_FILE).read_text().strip()
        with TestClient(system.app) as client:
            yield system, client, token, var_dir
    for parts in system.services.values():
        parts.engine.dispose()


def test_without_its_token_nobody_breaks_reads_sees_patients_or_decides_for_the_gp(
    with_simulator: tuple[EmbeddedSystem, TestClient, str, Path],
) -> None:
    system, client, token, _var = with_simulator
    ours = Tokens(
        system, IssuerKeys(system.auth.issuer_key_path, algorithm=system.auth.signing_algorithm)
    ).valid()
    for credentials in (None, "Bearer wrong-token-of-the-right-length", f"Bearer {ours}", token):
        headers = {"authorization": credentials} if credentials else {}
        attempts = [
            client.put(f"{SIM}/admin/faults", json={"error_rate": 1.0}, headers=headers),
            client.get(f"{SIM}/admin/faults", headers=headers),
            client.get(f"{SIM}/practices/A81001/patients", headers=headers),
            client.get(f"{SIM}/practices/A81001/inbox", headers=headers),
            client.post(f"{SIM}/practices/A81001/inbox/any/approve", json={}, headers=headers),
            client.post(f"{SIM}/practices/A81001/Patient/$gpc.getstructuredrecord", json={}, headers=headers),
        ]
        assert [r.status_code for r in attempts] == [401] * len(attempts), credentials
    good = {"authorization": f"Bearer {token}"}
    assert client.get(f"{SIM}/admin/faults", headers=good).json()["error_rate"] == 0.0
    assert client.get(f"{SIM}/practices/A81001/patients?limit=1", headers=good).status_code == 200
    assert client.get(f"{SIM}/healthz").status_code == 200


def test_a_60_mb_body_is_refused_413_even_with_the_token(
    with_simulator: tuple[EmbeddedSystem, TestClient, str, Path],
) -> None:
    _system, client, token, _var = with_simulator
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    declared = client.put(
        f"{SIM}/admin/faults", headers={**headers, "content-length": str(60 * 1024 * 1024)}, content=b"{}"
    )
    assert declared.status_code == 413

    def streamed() -> Iterator[bytes]:
        yield b'{"poison_nhs_numbers": ["'
        for _ in range(40):
            yield b"9" * 65_536
        yield b'"]}'

    assert client.put(f"{SIM}/admin/faults", headers=headers, content=streamed()).status_code == 413
    assert client.get(f"{SIM}/admin/faults", headers=headers).json()["poison_nhs_numbers"] == []


def test_the_token_pain_review_up_keeps_is_readable_by_its_owner_only(
    with_simulator: tuple[EmbeddedSystem, TestClient, str, Path],
) -> None:
    _system, _client, token, var_dir = with_simulator
    mode = stat.S_IMODE((var_dir / TOKEN_FILE).stat().st_mode)
    assert mode == 0o600 and len(token) >= 32


def test_in_production_the_simulator_is_neither_mounted_nor_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GPSIM_PATIENTS_PER_PRACTICE", "5")
    monkeypatch.setenv("GPSIM_TOKEN", "a-token-for-this-test-only")
    monkeypatch.setenv("GPSIM_ENVIRONMENT", "production")
    system = create_embedded_system(tmp_path, with_simulator=True)
    try:
        with TestClient(system.app) as client:
            assert client.get(f"{SIM}/healthz").status_code == 404
    finally:
        for parts in system.services.values():
            parts.engine.dispose()
    with pytest.raises(ValueError, match="not served in production"):
        standalone_simulator_app()
    with pytest.raises(ValueError, match="not production"):
        create_simulator_app(
            SimulatorSettings(patients_per_practice=5, token="x" * 20, environment="production")
        )


def test_the_simulator_does_not_start_without_a_token_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GPSIM_TOKEN", raising=False)
    with pytest.raises(ValueError, match="GPSIM_TOKEN"):
        create_simulator_app(SimulatorSettings(patients_per_practice=5))
