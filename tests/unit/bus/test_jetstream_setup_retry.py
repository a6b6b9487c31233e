"""A service starting beside others on a NATS cluster may find the JetStream API slow to answer (a meta
leader being elected, another service creating the stream): the stream's setup is tried again until
``connect_wait``, not given up on after one timeout (which made a service exit at start-up in CI)."""

from __future__ import annotations

import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import ServiceUnavailableError

from shared.bus import BusError
from shared.bus.jetstream import NatsSettings, NatsTransport

pytestmark = pytest.mark.anyio


def _transport(
    monkeypatch: pytest.MonkeyPatch, failures: list[Exception], wait: float
) -> tuple[NatsTransport, list[int]]:
    transport = NatsTransport(NatsSettings(connect_wait=wait))
    calls: list[int] = []

    async def once() -> None:  # the JetStream API's answers, in order: these failures, then success
        calls.append(1)
        if failures:
            raise failures.pop(0)

    monkeypatch.setattr(transport, "_ensure_stream_once", once)
    return transport, calls


async def test_a_timeout_or_an_unavailable_jetstream_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    transport, calls = _transport(monkeypatch, [NatsTimeout(), ServiceUnavailableError()], wait=10.0)
    await transport._ensure_stream()
    assert len(calls) == 3


async def test_it_gives_up_with_a_bus_error_after_connect_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    transport, calls = _transport(monkeypatch, [NatsTimeout() for _ in range(100)], wait=0.5)
    with pytest.raises(BusError, match=r"within 0\.5 s"):
        await transport._ensure_stream()
    assert 2 <= len(calls) < 10  # 0.2 s then 0.4 s between tries: not one try, not a busy loop
