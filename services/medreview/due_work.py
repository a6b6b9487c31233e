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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.medreview.domain.concerns import ConcernPolicy
from services.medreview.repository import MedreviewRepository
from services.medreview.workflow.concern import escalate_overdue
from shared.fhir import FhirKernel, UnitOfWork, as_service, off_loop, with_connection

__all__ = ["DueWork"]

log = logging.getLogger("pain-review.medreview.due")


class DueWork:
    def __init__(self, kernel: FhirKernel, policy: ConcernPolicy, *, interval_s: float = 60.0) -> None:
        self.kernel, self.policy, self.interval_s = kernel, policy, interval_s
        self.repo = MedreviewRepository(kernel.store)

    def run_once(self) -> list[dict[str, Any]]:
        """One pass over every practice (by the kernel's clock); the escalation Tasks created."""
        practices = with_connection(self.kernel.engine, lambda conn: self.repo.practices_with(conn, "Task"))
        created: list[dict[str, Any]] = []

        def escalate(uow: UnitOfWork) -> list[dict[str, Any]]:
            return escalate_overdue(uow, self.policy)

        for practice in practices:
            created += as_service(self.kernel, practice, escalate)
        return created

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        stopping = asyncio.Event()

        async def loop() -> None:
            while not stopping.is_set():
                try:
                    await off_loop(self.run_once)
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
