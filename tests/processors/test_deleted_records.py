"""Records deleted from a source partition before the worker read them (retention, or an
operator's `kafka-delete-records`): the worker goes on from the partition's new log start,
says so, and does not seek back for them forever."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from base import redis_keys
from base.settings import Settings
from base.topics import partition_for
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json, worker_group_offsets
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

SKIP_LOGGED = "deleted before they were read"


async def _committed(settings: Settings, tp: TopicPartition) -> int | None:
    return (await worker_group_offsets(settings)).get(tp)


async def _end_offset(settings: Settings, tp: TopicPartition) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([tp])
    finally:
        await consumer.stop()
    return int(ends[tp])


def _wait_committed_to_the_end(settings: Settings, tp: TopicPartition) -> int:
    """Until the worker's group committed `tp` to its log end; that end offset."""
    end = asyncio.run(_end_offset(settings, tp))
    wait_until(
        lambda: asyncio.run(_committed(settings, tp)),
        lambda committed: committed == end,
        timeout_s=30,
        what=f"the worker's offset on {tp} committed to {end}",
    )
    return end


async def _delete_before(settings: Settings, tp: TopicPartition, offset: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(offset)})
    finally:
        await admin.close()


def test_records_deleted_past_the_committed_offset_are_skipped_once_not_sought_forever(
    isolated: Settings, tmp_path: Path
) -> None:
    sku, store, web = unique("SKU"), unique("store"), unique("web")
    events = isolated.topics.events
    tp = TopicPartition(events, partition_for(sku, isolated.topics.partitions))
    asyncio.run(
        produce_json(isolated, isolated.topics.policy, [channel_policy(web, [store])], "channel")
    )
    client = redis_client(isolated)

    first = WorkerProcess(isolated, tmp_path / "worker-1.log").start()
    try:
        first.wait_metrics_up()
        asyncio.run(produce_json(isolated, events, [fact(unique("e"), "received", sku, store, 10)]))
        wait_for_figure(client, redis_keys.loc_key(store), sku, "10")
        folded_end = _wait_committed_to_the_end(isolated, tp)
    finally:
        first.stop()

    # Two more facts while no worker runs; the first of them is deleted unread.
    unread = fact(unique("e"), "received", sku, store, 5)
    kept = fact(unique("e"), "received", sku, store, 7)
    asyncio.run(produce_json(isolated, events, [unread, kept]))
    asyncio.run(_delete_before(isolated, tp, folded_end + 1))

    second = WorkerProcess(isolated, tmp_path / "worker-2.log").start()
    try:
        second.wait_metrics_up()
        wait_for_figure(client, redis_keys.loc_key(store), sku, "17", timeout_s=60)
        marker = fact(unique("e"), "received", sku, store, 1)  # the partition goes on after
        asyncio.run(produce_json(isolated, events, [marker]))
        wait_for_figure(client, redis_keys.loc_key(store), sku, "18", timeout_s=30)
        _wait_committed_to_the_end(isolated, tp)
        assert second.alive()
        metrics = second.metrics_text()
    finally:
        second.stop()
    log = (tmp_path / "worker-2.log").read_text()
    assert SKIP_LOGGED in log
    assert "hole in" not in log
    assert 'tally_delivery_repairs_total{kind="deleted_skipped"} 1.0' in metrics
