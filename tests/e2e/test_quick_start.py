"""The README's production quick start, run as written: its bash block between the
``production-quick-start`` markers, with this run's own ports (``BASE_PORT``), database names (``DB``)
and NATS stream (``NATS``), the variables the block itself offers. It must end with the first referral
answered 201, and that referral's ``referral.received`` must reach careplan over NATS."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import time
import uuid
from contextlib import suppress
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.e2e.production import _delete_stream
from tests.e2e.running import BIN
from tests.support import eventually

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(
    r"<!-- production-quick-start -->\s*```bash\n(.*?)```\s*<!-- /production-quick-start -->", re.S
)
SERVICES = ("referral", "careplan", "medreview", "gpconnect")
DEADLINE_S = 300.0


def quick_start() -> str:
    match = BLOCK.search(README.read_text(encoding="utf-8"))
    assert match, "README.md has no production quick start between its markers"
    return match.group(1)


def _free_run_of_ports(count: int) -> int:
    """A base port with ``count`` free ports from it on, below the ephemeral range (where outgoing
    connections would take a port between this check and the server's bind)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randrange(10_000, low - count)
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return base
    raise AssertionError("no run of free ports")


def test_the_readme_production_quick_start_works_as_written(
    pg_admin_url: str, nats_url: str, tmp_path: Path
) -> None:
    admin_url = make_url(pg_admin_url)
    if (
        admin_url.host not in ("127.0.0.1", "localhost")
        or admin_url.username != "postgres"
        or admin_url.password
    ):
        pytest.skip("the quick start reaches PostgreSQL as postgres@127.0.0.1 without a password")
    run = uuid.uuid4().hex[:8]
    stream, database = f"QUICKSTART_{run.upper()}", f"painreview_qs_{run}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PAINREVIEW_", "REFERRAL_", "CAREPLAN_", "MEDREVIEW_", "GPCONNECT_", "GPSIM_"))
    }
    env.update(
        PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        PG=pg_admin_url.rsplit("/", 1)[0],
        NATS=f"{nats_url}?stream={stream}&prefix=qs{run}",
        DB=database,
        BASE_PORT=str(_free_run_of_ports(6)),
        GPSIM_PATIENTS_PER_PRACTICE="200",  # a smaller simulated practice starts sooner
    )
    script = tmp_path / "quick-start.sh"
    script.write_text("set -euo pipefail\n" + quick_start())
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    log = tmp_path / "quick-start.log"
    with log.open("wb") as sink:  # a file, not a pipe: the servers it leaves running keep writing
        shell = subprocess.Popen(
            ["bash", str(script)],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the servers it leaves running share its process group
        )
    try:
        shell.wait(timeout=DEADLINE_S)
        output = log.read_text(encoding="utf-8", errors="replace")
        assert shell.returncode == 0, output[-4000:]
        [last] = [line for line in output.splitlines() if re.match(r"\d{3} ", line)][-1:]
        created = r"201 http://127\.0\.0\.1:\d+/fhir/ServiceRequest/([A-Za-z0-9.-]+)/_history/1"
        answer = re.fullmatch(created, last)
        assert answer, output[-4000:]
        referral_id = answer.group(1)
        careplan = create_engine(
            admin_url.set(database=f"{database}_careplan").render_as_string(hide_password=False)
        )
        try:

            def received() -> bool:  # referral.received travels over NATS to careplan
                with careplan.connect() as conn:
                    fact = conn.execute(
                        text(
                            "SELECT 1 FROM careplan_evaluation_fact"
                            " WHERE kind = 'referral-received' AND subject = :s"
                        ),
                        {"s": f"ServiceRequest/{referral_id}"},
                    ).first()
                return fact is not None

            eventually(received, within=DEADLINE_S, every=0.5, what="referral.received reaching careplan")
        finally:
            careplan.dispose()
    finally:
        with suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
        if shell.poll() is None:
            shell.kill()
        shell.wait(timeout=60)
        _wait_group_gone(shell.pid)
        with admin.connect() as conn:
            for service in SERVICES:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}_{service}" WITH (FORCE)'))
        admin.dispose()
        _delete_stream(nats_url, stream)


def _wait_group_gone(group: int) -> None:
    """Until every server the block started has exited (SIGKILL after a generous grace)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
