"""The first end-to-end path: a `received` fact on Kafka becomes figures in Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from base import redis_keys
from base.settings import Settings
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json
from tests.support.waiting import redis_client, stream_entries, wait_for_figure
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration


def test_received_event_appears_in_redis_for_location_and_channel(
    isolated: Settings, worker: WorkerProcess
) -> None:
    sku, store, channel = unique("SKU"), unique("store"), unique("web")
    asyncio.run(
        produce_json(
            isolated, isolated.topics.policy, [channel_policy(channel, [store])], "channel"
        )
    )
    asyncio.run(
        produce_json(
            isolated, isolated.topics.events, [fact(unique("e"), "received", sku, store, 7)]
        )
    )
    client = redis_client(isolated)
    wait_for_figure(client, redis_keys.loc_key(store), sku, "7")
    wait_for_figure(client, redis_keys.ats_key(channel), sku, "7")
    change = stream_entries(client, redis_keys.changes_key(channel))[-1]
    assert change["sku"] == sku
    assert change["available"] == "7"
    assert int(change["ingested_at"]) > 0


def test_a_policy_change_made_while_no_worker_runs_is_published_on_restart(
    isolated: Settings, tmp_path: Path
) -> None:
    """Seed 40 of the fault runs: the policy changed while the SKU's worker was dead; its
    restart loaded the new policy as its starting point and never republished."""
    sku, store, channel = unique("SKU"), unique("store"), unique("web")
    topics = isolated.topics
    asyncio.run(
        produce_json(isolated, topics.policy, [channel_policy(channel, [store])], "channel")
    )
    asyncio.run(
        produce_json(isolated, topics.events, [fact(unique("e"), "received", sku, store, 7)])
    )
    client = redis_client(isolated)
    first = WorkerProcess(isolated, tmp_path / "worker-1.log").start()
    try:
        first.wait_metrics_up()
        wait_for_figure(client, redis_keys.ats_key(channel), sku, "7")
    finally:
        first.kill_hard()
    buffered = channel_policy(channel, [store], version=2, buffer_units=3)
    asyncio.run(produce_json(isolated, topics.policy, [buffered], "channel"))
    second = WorkerProcess(isolated, tmp_path / "worker-2.log").start()
    try:
        second.wait_metrics_up()
        wait_for_figure(client, redis_keys.ats_key(channel), sku, "4")  # 7 less a buffer of 3
    finally:
        second.stop()
