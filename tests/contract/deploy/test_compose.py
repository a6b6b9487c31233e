"""docker-compose.yml: valid Compose, and unable to drift from the CLI, the settings and deploy/.

Docker does not run on these machines, so the file is checked against the Compose Specification schema
and against the code: every command resolves in ``pain-review``'s click tree, every variable is one a
settings class (or the CLI, or OpenTelemetry) reads, and the settings accept the environment.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import click
import pytest

from painreview.registry import SERVICES
from shared.auth.settings import AuthSettings
from tests.contract.deploy.code_contract import (
    AUTH_VARIABLES,
    CLI_SOURCE,
    CLI_VARIABLES,
    ENTRYPOINT,
    KNOWN_VARIABLES,
    ROOT,
    SERVICE_VARIABLES,
    resolve,
)
from tests.support.compose import (
    COMPOSE_FILE,
    PENDING_COMMANDS,
    app_processes,
    interpolate,
    load_compose,
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose(environ={})


@pytest.fixture(scope="module")
def processes() -> dict[str, Any]:
    return app_processes(environ={}, include_pending=True)


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stack_has_every_part_the_design_names(compose: dict[str, Any]) -> None:
    expected = {"postgres", "nats", "migrate", "auth", "gp-simulator", "mesh-sandbox", *SERVICES}
    assert expected <= set(compose["services"])


def test_every_command_is_a_real_pain_review_subcommand(processes: dict[str, Any]) -> None:
    for process in processes.values():
        if process.pending:
            with pytest.raises(click.UsageError):
                resolve(process.args)  # when this resolves, drop it from PENDING_COMMANDS
            continue
        resolve(process.args)


def test_pending_commands_are_only_the_ones_named_with_their_issue(processes: dict[str, Any]) -> None:
    pending = {p.args for p in processes.values() if p.pending}
    assert pending == set(PENDING_COMMANDS)
    assert all(p.profiles for p in processes.values() if p.pending), "pending services must be opt-in"


def test_a_made_up_command_does_not_resolve() -> None:
    with pytest.raises(click.UsageError):
        resolve(("serve", "pharmacy"))
    with pytest.raises(click.UsageError):
        resolve(("deploy",))


def test_every_variable_is_one_our_code_reads(processes: dict[str, Any]) -> None:
    for variable in CLI_VARIABLES:
        assert variable in CLI_SOURCE or variable in AUTH_VARIABLES, variable
    for process in processes.values():
        unknown = set(process.environment) - KNOWN_VARIABLES
        assert not unknown, (process.name, sorted(unknown))


def test_each_service_has_only_its_own_prefix_and_its_settings_accept_it(
    processes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, entry in SERVICES.items():
        environment = processes[name].environment
        others = set().union(*(v for n, v in SERVICE_VARIABLES.items() if n != name))
        assert not set(environment) & others, name
        with monkeypatch.context() as env:
            for variable in KNOWN_VARIABLES:
                env.delenv(variable, raising=False)
            for variable, value in environment.items():
                env.setenv(variable, value)
            settings = entry.load_settings()
            auth = AuthSettings()
        assert settings.environment == "production", name
        assert settings.database_url and settings.database_url.startswith("postgresql"), name
        assert settings.nats_url == "nats://127.0.0.1:4222", name
        assert settings.run_migrations is False, "the migrate one-shot runs them, once"
        assert auth.mode == "external" and auth.jwks_url, name
        assert f"http://localhost:{processes[name].port}/fhir" in auth.audiences


def test_the_migrate_one_shot_configures_every_service(
    processes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate = processes["migrate"]
    assert migrate.args == ("migrate",)
    with monkeypatch.context() as env:
        for variable in KNOWN_VARIABLES:
            env.delenv(variable, raising=False)
        for variable, value in migrate.environment.items():
            env.setenv(variable, value)
        for name, entry in SERVICES.items():
            settings = entry.load_settings()
            assert settings.database_url == processes[name].environment[f"{name.upper()}_DATABASE_URL"]


def test_services_start_after_migrations_and_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        for dependency in ("postgres", "nats", "auth"):
            assert depends[dependency]["condition"] == "service_healthy", (name, dependency)
            assert "healthcheck" in services[dependency], dependency
        assert "healthcheck" in services[name]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_auth_issuer_is_the_one_every_service_trusts(
    processes: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as env:
        for variable, value in processes["auth"].environment.items():
            env.setenv(variable, value)
        issuer = AuthSettings()
    assert processes["auth"].args == ("serve", "auth")
    assert issuer.mode == "embedded"
    for name in SERVICES:
        environment = processes[name].environment
        assert environment["PAINREVIEW_AUTH_ISSUER"] == issuer.issuer
        assert environment["PAINREVIEW_AUTH_JWKS_URL"] == issuer.jwks_uri
        assert environment["PAINREVIEW_AUTH_AUDIENCE"] in issuer.audiences


def test_every_database_url_names_a_database_the_init_script_creates(processes: dict[str, Any]) -> None:
    script = (ROOT / "deploy" / "postgres" / "init-databases.sql").read_text(encoding="utf-8")
    created = set(re.findall(r"^CREATE DATABASE (\w+);", script, flags=re.MULTILINE))
    databases = {name: processes[name].environment[f"{name.upper()}_DATABASE_URL"] for name in SERVICES}
    names = {name: url.rsplit("/", 1)[1] for name, url in databases.items()}
    assert set(names.values()) == created
    assert len(set(names.values())) == len(SERVICES), "one database per service"


def test_the_init_script_and_nats_config_are_mounted_from_deploy(compose: dict[str, Any]) -> None:
    postgres_mounts = compose["services"]["postgres"]["volumes"]
    assert "./deploy/postgres/init-databases.sql:/docker-entrypoint-initdb.d/10-init-databases.sql:ro" in (
        postgres_mounts
    )
    nats = compose["services"]["nats"]
    mounts = [m for m in nats["volumes"] if m.startswith("./deploy/nats/")]
    assert mounts, "NATS must run the durable configuration from deploy/nats"
    source = mounts[0].split(":", 1)[0]
    assert nats["command"][1:3] == ["--config", mounts[0].split(":")[1]]
    config = ROOT / source
    assert config.exists(), f"{source} is missing"
    text = config.read_text(encoding="utf-8")
    assert re.search(r"sync(_interval)?\s*[:=]?\s*\"?always", text), "acknowledged means fsynced"


def test_e2e_processes_reach_every_host_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    processes = app_processes(environ={"POSTGRES_PASSWORD": "pw"})
    assert list(processes)[:2] == ["migrate", "auth"]
    assert "gp-simulator" in processes
    services = set(load_compose(environ={})["services"])
    for process in processes.values():
        for variable, value in process.environment.items():
            for host in services:
                assert not re.search(rf"[/@]{re.escape(host)}:\d", value), (process.name, variable, value)
    referral = processes["referral"].environment
    assert referral["REFERRAL_DATABASE_URL"] == "postgresql+psycopg://painreview:pw@127.0.0.1:5432/referral"
    assert referral["PAINREVIEW_AUTH_JWKS_URL"] == "http://127.0.0.1:8000/auth/jwks.json"
    ports = [p.port for p in processes.values() if p.port is not None]
    assert len(ports) == len(set(ports)), "each process needs its own port outside containers"


def test_overrides_replace_variables_after_the_rewrite() -> None:
    url = "postgresql://postgres@127.0.0.1:5432/painreview_test_x"
    processes = app_processes(environ={}, overrides={"referral": {"REFERRAL_DATABASE_URL": url}})
    assert processes["referral"].environment["REFERRAL_DATABASE_URL"] == url


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("${A:-x}", {}, "x"),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A}", {"A": "1"}, "1"),
        ("$${A}", {"A": "1"}, "${A}"),
    ],
)
def test_interpolation_follows_compose(text: str, environ: dict[str, str], expected: str) -> None:
    assert interpolate(text, environ) == expected


def test_a_required_variable_that_is_missing_is_an_error() -> None:
    with pytest.raises(ValueError, match="required"):
        interpolate("${SECRET:?set it}", {})


def test_compose_and_the_image_agree_on_the_entrypoint() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert f'ENTRYPOINT ["{ENTRYPOINT}"]' in dockerfile
