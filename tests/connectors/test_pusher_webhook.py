"""The signed-webhook pusher against real Redis and a local verifying receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from base.redis_keys import changes_key
from base.settings import Settings
from connectors.pushers import keys
from connectors.pushers.runner import Pusher
from connectors.pushers.webhook import WebhookSink
from tests.connectors.fakes.harness import (
    WEBHOOK_SECRET,
    Sleeps,
    add_changes,
    dead_letters,
    fast_settings,
    metric,
    pending_count,
)
from tests.connectors.fakes.webhook import FakeWebhookReceiver
from tests.support.isolation import unique

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(WEBHOOK_SECRET, timeout_sleep_s=1.0).running() as fake:
        yield fake
        assert fake.violations == []  # every signature verified, every body well-formed


@pytest.fixture
async def redis(live_stack: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(live_stack.redis.url, decode_responses=True)
    yield client
    await client.aclose()


def make_pusher(
    client: aioredis.Redis, channel: str, fake: FakeWebhookReceiver, **overrides: Any
) -> tuple[Pusher, Sleeps]:
    settings = fast_settings(webhook_url=fake.hook_url, **overrides)
    sleeps = Sleeps()
    return Pusher(client, channel, WebhookSink(settings, channel, sleep=sleeps), settings), sleeps


@pytest.mark.parametrize("per_request", [1, 10])
async def test_signed_figures_arrive_newest_per_sku(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver, per_request: int
) -> None:
    channel, skus = unique("hook"), [unique("SKU") for _ in range(4)]
    rows = [(sku, 10 * v + n, f"{v}-2") for v in range(1, 6) for n, sku in enumerate(skus)]
    await add_changes(redis, channel, rows)
    pusher, _ = make_pusher(redis, channel, receiver, webhook_figures_per_request_max=per_request)

    await pusher.drain()

    assert len(receiver.delivered) == (4 if per_request == 1 else 1)
    assert {sku: f["available"] for sku, f in receiver.latest.items()} == {
        sku: 50 + n for n, sku in enumerate(skus)
    }
    assert {f["version"] for f in receiver.latest.values()} == {"5-2"}
    if per_request == 1:
        assert all(payload["channel"] == channel for _, payload in receiver.delivered)
    assert await pending_count(redis, channel, "webhook") == 0


async def test_failures_are_retried_with_backoff_then_dead_lettered_and_acked(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, sku = unique("hook"), unique("SKU")
    await add_changes(redis, channel, [(sku, 3, "1-1")])
    pusher, sleeps = make_pusher(redis, channel, receiver, attempts_max=3)
    dead_before = metric("tally_pusher_pushes_total", pusher="webhook", result="dead_letter")
    receiver.fail_always = "500"

    await pusher.drain()

    assert len(receiver.attempts) == 3
    assert len({message_id for message_id, _ in receiver.attempts}) == 1  # same webhook-id
    assert len(sleeps.waits) == 2 and all(0 <= w <= 0.01 for w in sleeps.waits)
    [letter] = await dead_letters(redis, channel)
    assert letter["pusher"] == "webhook"
    assert (letter["sku"], letter["available"], letter["version"]) == (sku, "3", "1-1")
    assert letter["attempts"] == "3"
    assert "attempts exhausted" in letter["reason"] and "HTTP 500" in letter["reason"]
    assert await pending_count(redis, channel, "webhook") == 0
    after = metric("tally_pusher_pushes_total", pusher="webhook", result="dead_letter")
    assert after - dead_before == 1

    # The pusher moved on: the next figure is delivered once the receiver recovers.
    receiver.fail_always = None
    await add_changes(redis, channel, [(sku, 4, "2-1")])
    await pusher.drain()
    assert receiver.latest[sku]["available"] == 4


async def test_a_permanent_rejection_is_dead_lettered_at_once(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, sku = unique("hook"), unique("SKU")
    await add_changes(redis, channel, [(sku, 3, "1-1")])
    pusher, sleeps = make_pusher(redis, channel, receiver)
    receiver.script(["400"])

    await pusher.drain()

    [letter] = await dead_letters(redis, channel)
    assert letter["reason"] == "rejected: HTTP 400"
    assert letter["attempts"] == "1"
    assert sleeps.waits == []


async def test_throttling_and_timeouts_are_retried_with_the_same_id(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, sku = unique("hook"), unique("SKU")
    await add_changes(redis, channel, [(sku, 8, "1-1")])
    pusher, sleeps = make_pusher(redis, channel, receiver, http_timeout_s=0.3)
    receiver.script(["429", "timeout"])  # the timed-out one is received, its answer lost

    await pusher.drain()

    assert sleeps.waits[0] == 0.0  # Retry-After: 0
    assert len(receiver.attempts) == 3
    assert len(receiver.delivered) == 2  # at-least-once; the receiver dedupes on webhook-id
    assert len({message_id for message_id, _ in receiver.attempts}) == 1
    assert await dead_letters(redis, channel) == []
    assert await pending_count(redis, channel, "webhook") == 0


async def test_start_up_pushes_own_pending_first_then_claims_what_others_left(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, own, others, new, trimmed = (unique(p) for p in ("hook", "A", "B", "C", "D"))
    pusher, _ = make_pusher(redis, channel, receiver, claim_idle_ms=0)
    await pusher.ensure_group()
    stream, group = changes_key(channel), keys.group_name("webhook")
    # Read but never acked: by this consumer before a crash, and by a consumer now gone.
    await add_changes(redis, channel, [(own, 1, "1-1"), (trimmed, 1, "1-1")])
    await redis.xreadgroup(group, "pusher-1", {stream: ">"})
    entries: Any = await redis.xrange(stream)
    await redis.xdel(stream, entries[-1][0])  # trimmed while pending
    await add_changes(redis, channel, [(others, 2, "1-1")])
    await redis.xreadgroup(group, "ghost", {stream: ">"})
    await add_changes(redis, channel, [(new, 3, "1-1")])
    assert await pending_count(redis, channel, "webhook") == 3

    await pusher.drain()

    assert [payload["sku"] for _, payload in receiver.delivered] == [own, others, new]
    assert await pending_count(redis, channel, "webhook") == 0
