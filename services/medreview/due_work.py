"""Work that comes due in medreview: concerns past their answer time are escalated.

A concern's answer time is on its Task (``restriction.period.end``). A pass (``run_once``) looks, practice by
practice as the service itself, for open concerns whose time has passed by the service's clock (the movable
one in development and tests, so a test moves the clock and runs a pass; nothing sleeps) and escalates them,
in one transaction per practice. The service's lifespan runs a pass every ``MEDREVIEW_DUE_CHECK_SECONDS``,
as gpconnect's delivery worker claims dated deliveries by its clock. Several replicas may run passes: the
concern is marked escalated with the version it was read at (If-Match), so a pass that read it before
another escalated it writes nothing for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI
from sqlalchemy import Engine

from services.medreview.concerns import ConcernPolicy
from services.medreview.handlers.concern import escalate_overdue
from services.medreview.handlers.session import Session, service_actor
from services.medreview.repository import MedreviewRepository
from shared.core.principal import Tenancy
from shared.web.clock import Clock

__all__ = ["DueWork"]

log = logging.getLogger("pain-review.medreview.due")


class DueWork:
    def __init__(
        self, repo: MedreviewRepository, policy: ConcernPolicy, *, now: Clock, interval_s: float = 60.0
    ) -> None:
        self.repo, self.policy, self.now, self.interval_s = repo, policy, now, interval_s
        self.engine: Engine | None = None

    def bind(self, engine: Engine) -> None:
        self.engine = engine

    def run_once(self) -> list[dict[str, Any]]:
        """One pass over every practice; the escalation Tasks created."""
        if self.engine is None:
            raise RuntimeError("DueWork is not bound to the service's engine")
        with self.engine.connect() as conn:
            practices = self.repo.practices_with(conn, "Task")
        created: list[dict[str, Any]] = []
        for practice in practices:
            with self.engine.begin() as conn:
                actor = service_actor(practice, str(uuid.uuid4()), None)
                session = Session(conn, self.repo, actor, Tenancy({practice}), practice, self.now())
                created += escalate_overdue(session, self.policy)
        return created

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        stopping = asyncio.Event()

        async def loop() -> None:
            while not stopping.is_set():
                try:
                    await anyio.to_thread.run_sync(self.run_once)
                except Exception as exc:  # a database hiccup must not end the loop; no patient data logged
                    log.warning("due-work pass failed: %s", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.interval_s)

        task = asyncio.create_task(loop(), name="medreview-due-work")
        try:
            yield
        finally:
            stopping.set()
            await asyncio.gather(task, return_exceptions=True)
