"""Nothing acknowledged is lost, in both modes: a load of BaRS referrals while processes are killed with
``kill -9`` mid-stream, then every referral answered 2xx is stored once and its downstream effects
(careplan's referral facts, gpconnect's BaRS response delivery) are present exactly once.

Production-shaped: the compose processes on PostgreSQL and a three-node NATS cluster of
``deploy/nats/nats-cluster.conf`` (R3 stream, fsync on every write); the intake process (referral), a
consumer (careplan) and one NATS node are killed in turn. Embedded: ``pain-review up`` (SQLite, in-process
events) is killed twice. A message whose answer was lost is resent with the same ``X-Request-Id`` and is
stored once (answered 409 with the original's ``Location``). The figures are printed in the summary.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from shared.db import sqlite_path_for
from tests.e2e.crash_load import (
    FHIR,
    Ledger,
    Senders,
    caught_up,
    check_and_report,
    referrals,
    stored,
)
from tests.e2e.production import production_stack
from tests.e2e.running import BIN, free_port, wait_healthy
from tests.support import eventually
from tests.support.nats_servers import NatsCluster

pytestmark = pytest.mark.e2e

N = 160  # referrals per run: enough for every kill to land mid-stream, small enough to stay quick
RESENT = 8  # answered referrals sent again with their X-Request-Id, as by a sender that lost the 201
CATCH_UP_S = 300.0


def _resend_answered(url: str, token: str, messages: list[dict[str, Any]], ledger: Ledger) -> None:
    """A sender that lost its 2xx resends: 409 duplicate, the same Location, nothing stored twice."""
    by_id = {str(m["id"]): m for m in messages}
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for message_id, location in list(ledger.acknowledged.items())[:RESENT]:
            again = client.post(
                url,
                content=orjson.dumps(by_id[message_id]),
                headers={"Content-Type": FHIR, "X-Request-Id": ledger.request_ids[message_id]},
            )
            assert again.status_code == 409 and again.json()["issue"][0]["code"] == "duplicate"
            assert again.headers["Location"] == location


def test_production_kill_9_of_intake_a_consumer_and_a_nats_node_loses_nothing_acknowledged(
    pg_admin_url: str, nats_cluster: NatsCluster, tmp_path: Path
) -> None:
    with (
        production_stack(pg_admin_url, nats_cluster.url, tmp_path, replicas=3, check_audit=False) as stack,
        stack.diagnosed(),
    ):
        token = stack.token(practice="A81001", scope="system/*.cruds")
        url = f"{stack.services['referral']}/fhir/$process-message"
        messages = referrals(N, first_serial=20_000)
        senders = Senders(url, token, messages).start()
        try:
            senders.wait_answered(N // 4)
            stack.kill("referral")
            restarts = {"referral": stack.restart("referral")}
            senders.wait_answered(N // 2)
            stack.kill("careplan")
            restarts["careplan"] = stack.restart("careplan")
            senders.wait_answered(3 * N // 4)
            nats_cluster.nodes[0].kill()  # nats-1, wherever the stream's leader is
        finally:
            senders.join()
        nats_cluster.nodes[0].start()
        nats_cluster.wait_for_jetstream()
        ledger = senders.ledger
        databases = (stack.databases["referral"], stack.databases["careplan"], stack.databases["gpconnect"])
        eventually(
            lambda: caught_up(ledger, stored(*databases)),
            within=CATCH_UP_S,
            every=0.2,
            what="every effect caught up",
        )
        catch_up = time.monotonic() - ledger.last_answer_at
        _resend_answered(url, token, messages, ledger)
        restarted = ", ".join(
            f"{name} ready {seconds:.0f} s after restart" for name, seconds in restarts.items()
        )
        check_and_report(
            "PostgreSQL + 3-node NATS (R3, sync_interval: always)",
            ledger,
            stored(*databases),
            catch_up,
            f"kill -9 of referral at {N // 4} answered, careplan at {N // 2}, NATS node nats-1 at "
            f"{3 * N // 4}; {restarted}",
        )


@contextmanager
def _embedded(workdir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAINREVIEW_", "REFERRAL_", "CAREPLAN_"))}
    env.pop("GPCONNECT_MESH_URL", None)
    with (workdir / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [str(BIN / "pain-review"), "up", "--host", "127.0.0.1", "--port", str(port), "--no-mesh"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        for service in ("referral", "careplan", "medreview", "gpconnect"):
            wait_healthy(f"http://127.0.0.1:{port}/{service}/readyz", process, timeout=180)
        yield process
    finally:
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=60)


def _kill_9(process: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)


def test_embedded_kill_9_of_up_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/referral/fhir/$process-message"
    messages = referrals(N, first_serial=30_000)
    with _embedded(tmp_path, port) as first:
        token = (
            subprocess.run(
                [str(BIN / "pain-review"), "token", "--practice", "A81001", "--scope", "system/*.cruds"],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        senders = Senders(url, token, messages).start()
        try:
            senders.wait_answered(N // 3)
            _kill_9(first)
            with _embedded(tmp_path, port) as second:
                senders.wait_answered(2 * N // 3)
                _kill_9(second)
                with _embedded(tmp_path, port):
                    senders.join()
                    ledger = senders.ledger
                    var = tmp_path / "var"
                    databases = tuple(sqlite_path_for(var, s) for s in ("referral", "careplan", "gpconnect"))
                    eventually(
                        lambda: caught_up(ledger, stored(*databases)),
                        within=CATCH_UP_S,
                        every=0.2,
                        what="every effect caught up",
                    )
                    catch_up = time.monotonic() - ledger.last_answer_at
                    _resend_answered(url, token, messages, ledger)
                    check_and_report(
                        "embedded (SQLite, in-process events)",
                        ledger,
                        stored(*databases),
                        catch_up,
                        f"kill -9 of pain-review up at {N // 3} and {2 * N // 3} answered",
                    )
        finally:
            senders.join()
