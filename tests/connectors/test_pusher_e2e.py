"""End to end: a fact on Kafka, folded by a real worker, reaches a webhook receiver."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from base.settings import Settings
from connectors.pushers.runner import Pusher
from connectors.pushers.webhook import WebhookSink
from tests.connectors.fakes.harness import WEBHOOK_SECRET, fast_settings
from tests.connectors.fakes.webhook import FakeWebhookReceiver
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, produce_json
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0


async def test_a_received_fact_is_pushed_to_the_webhook(
    isolated: Settings, worker: WorkerProcess
) -> None:
    sku, store, channel = unique("SKU"), unique("store"), unique("web")
    await produce_json(
        isolated, isolated.topics.policy, [channel_policy(channel, [store])], "channel"
    )
    await produce_json(
        isolated, isolated.topics.events, [fact(unique("e"), "received", sku, store, 7)]
    )
    client = aioredis.Redis.from_url(isolated.redis.url, decode_responses=True)
    with FakeWebhookReceiver(WEBHOOK_SECRET).running() as receiver:
        settings = fast_settings(webhook_url=receiver.hook_url)
        sink = WebhookSink(settings, channel)
        pusher = Pusher(client, channel, sink, settings)
        try:
            deadline = time.monotonic() + DEADLINE_S
            while sku not in receiver.latest and time.monotonic() < deadline:
                await pusher.drain()
                await asyncio.sleep(0.1)
        finally:
            await sink.aclose()
            await client.aclose()
        assert receiver.latest[sku]["available"] == 7, worker.log_tail()
        assert receiver.latest[sku]["channel"] == channel
        assert receiver.latest[sku]["ingested_at"] > 0
        assert receiver.violations == []
