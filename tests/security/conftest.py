"""The security tier: each finding of the hostile review (issue 16) replayed as the attack, against the
embedded system in-process. Tokens are made as ``tests/contract/security`` makes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.listener import Listener
from tests.support.tokens import secured

__all__ = ["secured"]


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(timeout=10)
