"""A service process for the fault tests: an outbox relay and/or an inbox consumer, run until killed.

    python tests/integration/bus/bus_worker.py --transport nats --producer URL --consumer URL \
        --nats nats://127.0.0.1:4222 --stream S --prefix p [--max-in-flight 8] [--die-after-commits N]

``--die-after-commits N`` makes the consumer SIGKILL its own process right after its N-th committed
batch, before the transport acknowledges it: "killed after its effect, before its ack".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bus_int_support import FAST, apply_effect

from shared.bus import InProcessTransport, NatsSettings, NatsTransport, Outcome, Received, Transport
from shared.contracts import REFERRAL_ACCEPTED_V1
from shared.db import make_engine
from shared.outbox import Inbox, OutboxRelay


class MortalInbox(Inbox):
    """An inbox whose process dies right after the N-th commit, before any acknowledgement."""

    def __init__(self, *args: object, die_after: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commits_left = die_after

    def _apply(self, consumer: str, batch: Sequence[Received]) -> list[Outcome]:
        outcomes = super()._apply(consumer, batch)  # committed
        self.commits_left -= 1
        if self.commits_left == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return outcomes


async def main(args: argparse.Namespace) -> None:
    transport: Transport
    if args.transport == "nats":
        transport = NatsTransport(
            NatsSettings(
                servers=(args.nats,), stream=args.stream, subject_prefix=args.prefix, ack_wait=args.ack_wait
            )
        )
    else:
        transport = InProcessTransport()
    inbox = None
    if args.consumer:
        consumer = make_engine(args.consumer, pool_size=2)
        kwargs = {"max_deliver": 5, "backoff": FAST}
        inbox = (
            MortalInbox(consumer, transport, die_after=args.die_after_commits, **kwargs)
            if args.die_after_commits
            else Inbox(consumer, transport, **kwargs)  # type: ignore[arg-type]
        )
        await inbox.subscribe("careplan", [REFERRAL_ACCEPTED_V1], apply_effect)
    await transport.start()
    relay = None
    if args.producer:
        relay = OutboxRelay(
            make_engine(args.producer, pool_size=2), transport, max_in_flight=args.max_in_flight
        )
        await relay.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    if relay is not None:
        await relay.close()
    await transport.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["nats", "inprocess"], required=True)
    parser.add_argument("--producer")
    parser.add_argument("--consumer")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--stream", default="PAINREVIEW")
    parser.add_argument("--prefix", default="painreview")
    parser.add_argument("--ack-wait", type=float, default=2.0)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("--die-after-commits", type=int, default=0)
    asyncio.run(main(parser.parse_args()))
