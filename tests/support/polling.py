"""One poller. A deadline bounds the wait: it is never a speed goal (speed is measured in bench/)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

__all__ = ["eventually", "eventually_async"]

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None],
    *,
    within: float = 30.0,
    every: float = 0.05,
    what: str = "the expected effect",
) -> T:
    """Call ``check`` until it returns something truthy and return that; fail naming ``what`` and the
    last value seen once ``within`` seconds have passed."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within:g} s (last seen: {value!r:.300})")
        time.sleep(every)


async def eventually_async(
    check: Callable[[], T | None] | Callable[[], Awaitable[T | None]],
    *,
    within: float = 30.0,
    every: float = 0.05,
    what: str = "the expected effect",
    in_thread: bool = False,
) -> T:
    """``eventually`` for a test running on an event loop: sleeps without blocking it; ``check`` may be
    a coroutine function (asking a server); ``in_thread`` runs a blocking ``check`` (a database query)
    off the loop."""
    deadline = time.monotonic() + within
    while True:
        answer = await asyncio.to_thread(check) if in_thread else check()
        value = cast("T | None", await answer if inspect.isawaitable(answer) else answer)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within:g} s (last seen: {value!r:.300})")
        await asyncio.sleep(every)
