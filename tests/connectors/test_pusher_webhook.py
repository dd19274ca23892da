"""The signed-webhook pusher against real Redis and a local verifying receiver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from base.redis_keys import ats_key, changes_key, version_key
from base.settings import PusherSettings, Settings
from connectors.pushers import keys
from connectors.pushers.redrive import enable
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


async def delivered_skus(receiver: FakeWebhookReceiver) -> set[str]:
    with receiver.lock:
        return set(receiver.latest)


async def wait_for(
    probe: Callable[[], Awaitable[Any]], what: str, *, want: Any = None, timeout_s: float = 10
) -> None:
    """Poll `probe` until it is truthy (or equals `want`), failing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await probe()
        if (value == want) if want is not None else value:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


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


async def test_failures_are_retried_on_the_schedule_then_dead_lettered_and_acked(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, sku = unique("hook"), unique("SKU")
    await add_changes(redis, channel, [(sku, 3, "1-1")])
    pusher, _ = make_pusher(redis, channel, receiver, webhook_retry_schedule_s=(0.01, 0.02))
    dead_before = metric("tally_pusher_pushes_total", pusher="webhook", result="dead_letter")
    receiver.fail_always = "500"

    await pusher.drain()

    assert len(receiver.attempts) == 3  # the first try, then one per scheduled retry
    assert len({message_id for message_id, _ in receiver.attempts}) == 1  # same webhook-id
    [letter] = await dead_letters(redis, channel)
    assert letter["pusher"] == "webhook"
    assert (letter["sku"], letter["available"], letter["version"]) == (sku, "3", "1-1")
    assert letter["attempts"] == "3"
    assert "retries exhausted after 3 attempts" in letter["reason"]
    assert "HTTP 500" in letter["reason"]
    assert await pending_count(redis, channel, "webhook") == 0
    after = metric("tally_pusher_pushes_total", pusher="webhook", result="dead_letter")
    assert after - dead_before == 1

    # The pusher moved on: the next figure is delivered once the receiver recovers.
    receiver.fail_always = None
    await add_changes(redis, channel, [(sku, 4, "2-1")])
    await pusher.drain()
    assert receiver.latest[sku]["available"] == 4


def test_the_default_schedule_retries_over_hours() -> None:
    settings = PusherSettings(
        webhook_url="http://127.0.0.1:9/hook", webhook_secret=SecretStr(WEBHOOK_SECRET)
    )
    assert settings.webhook_timeout_s == 15.0  # Standard Webhooks: 15-30 s
    sink = WebhookSink(settings, "web")
    waits = [sink.retry_delay_s(n, None) for n in range(1, 9)]
    assert waits == [5.0, 300.0, 1_800.0, 7_200.0, 18_000.0, 36_000.0, 36_000.0, None]
    assert sum(w for w in waits if w is not None) > 27 * 3_600
    assert sink.retry_delay_s(1, 60.0) == 60.0  # a longer Retry-After is honoured
    assert sink.retry_delay_s(2, 60.0) == 300.0


@pytest.mark.parametrize("status", ["400", "500", "401"])
async def test_any_answer_but_2xx_and_410_is_retried_not_dead_lettered(
    redis: aioredis.Redis, status: str
) -> None:
    channel, sku = unique("hook"), unique("SKU")
    await add_changes(redis, channel, [(sku, 3, "1-1")])
    with FakeWebhookReceiver(WEBHOOK_SECRET).running() as receiver:
        pusher, _ = make_pusher(redis, channel, receiver)
        receiver.script([status])

        await pusher.drain()

        assert receiver.violations == []
    assert await dead_letters(redis, channel) == []
    assert len(receiver.attempts) == 2
    assert receiver.latest[sku]["available"] == 3
    assert await pending_count(redis, channel, "webhook") == 0


async def test_throttling_and_timeouts_are_retried_with_the_same_id(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, sku = unique("hook"), unique("SKU")
    await add_changes(redis, channel, [(sku, 8, "1-1")])
    pusher, _ = make_pusher(redis, channel, receiver, http_timeout_s=5, webhook_timeout_s=0.3)
    receiver.script(["429", "timeout"])  # the timed-out one is received, its answer lost

    await pusher.drain()

    assert len(receiver.attempts) == 3
    assert len(receiver.delivered) == 2  # at-least-once; the receiver dedupes on webhook-id
    assert len({message_id for message_id, _ in receiver.attempts}) == 1
    assert await dead_letters(redis, channel) == []
    assert await pending_count(redis, channel, "webhook") == 0


async def test_a_failing_figure_waits_without_blocking_the_channel_and_is_superseded(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, held, other = unique("hook"), unique("A"), unique("B")
    pusher, _ = make_pusher(redis, channel, receiver, webhook_retry_schedule_s=(0.5,))
    await pusher.resume()
    await add_changes(redis, channel, [(held, 1, "1-1")])
    receiver.script(["500"])
    parked_before = metric("tally_pusher_parked_figures", pusher="webhook")

    await pusher.step()  # held fails: parked for 0.5 s, its entry left pending
    assert metric("tally_pusher_parked_figures", pusher="webhook") == parked_before + 1
    await add_changes(redis, channel, [(other, 5, "1-1"), (held, 2, "2-1")])
    await pusher.step()  # other goes out at once; held's newer figure joins the parked one

    assert [payload["sku"] for _, payload in receiver.delivered] == [other]
    assert await pending_count(redis, channel, "webhook") == 2  # both of held's entries
    await pusher.drain()  # the retry sends held's newest figure only
    assert [(p["sku"], p["version"]) for _, p in receiver.attempts] == [
        (held, "1-1"),
        (other, "1-1"),
        (held, "2-1"),
    ]
    assert receiver.latest[held]["available"] == 2
    assert await pending_count(redis, channel, "webhook") == 0
    assert await dead_letters(redis, channel) == []


async def test_410_gone_stops_sending_until_re_enabled(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, first, second = unique("hook"), unique("A"), unique("B")
    pusher, _ = make_pusher(redis, channel, receiver, disabled_poll_s=0.05)
    receiver.script(["410"])
    await add_changes(redis, channel, [(first, 1, "1-1")])
    stop = asyncio.Event()
    task = asyncio.create_task(pusher.run(stop))
    try:
        disabled = keys.disabled_key("webhook", channel)
        await wait_for(lambda: redis.exists(disabled), "the pusher disabled")
        assert "410 Gone" in str(await redis.get(disabled))
        assert metric("tally_pusher_disabled", pusher="webhook") == 1
        await add_changes(redis, channel, [(second, 2, "1-1")])
        await asyncio.sleep(0.5)
        assert receiver.requests == 1  # nothing sent since the 410
        assert await dead_letters(redis, channel) == []

        assert await enable(redis, channel, "webhook")  # what `tally push enable` does
        await wait_for(lambda: delivered_skus(receiver), "both figures", want={first, second})
        assert {sku: f["available"] for sku, f in receiver.latest.items()} == {first: 1, second: 2}
        await wait_for(lambda: pending_count(redis, channel, "webhook"), "all acked", want=0)
        assert metric("tally_pusher_disabled", pusher="webhook") == 0
    finally:
        stop.set()
        await task


async def test_the_bare_v1_payload_is_still_available(redis: aioredis.Redis) -> None:
    channel, sku = unique("hook"), unique("SKU")
    await add_changes(redis, channel, [(sku, 6, "1-2")])
    with FakeWebhookReceiver(WEBHOOK_SECRET, payload="v1").running() as receiver:
        pusher, _ = make_pusher(redis, channel, receiver, webhook_payload="v1")
        await pusher.drain()
        assert receiver.violations == []
    [(_, figure)] = receiver.delivered
    assert set(figure) == {"channel", "sku", "available", "version", "ingested_at"}
    assert receiver.envelopes == []


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


async def publish_figures(redis: aioredis.Redis, channel: str, figures: dict[str, int]) -> None:
    """What the worker leaves in tally:ats / tally:ver:ats for the channel (version 9-1)."""
    await redis.hset(ats_key(channel), mapping=figures)  # type: ignore[arg-type]
    await redis.hset(version_key("ats", channel), mapping=dict.fromkeys(figures, "9-1:1"))


async def test_changes_trimmed_before_they_were_read_trigger_a_resync(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, skus = unique("hook"), [unique("SKU") for _ in range(3)]
    pusher, _ = make_pusher(redis, channel, receiver)
    await add_changes(redis, channel, [(skus[0], 1, "1-1")])
    await pusher.drain()
    # The pusher falls behind: the capped stream trims changes it never read.
    await add_changes(redis, channel, [(sku, 5, "2-1") for sku in skus])
    await redis.xtrim(changes_key(channel), maxlen=1, approximate=False)
    await publish_figures(redis, channel, dict.fromkeys(skus, 7))
    trims = metric("tally_pusher_trims_detected_total", pusher="webhook", where="unread")
    resyncs = metric("tally_pusher_resyncs_total", pusher="webhook")

    await pusher.drain()

    assert (
        metric("tally_pusher_trims_detected_total", pusher="webhook", where="unread") == trims + 1
    )
    assert metric("tally_pusher_resyncs_total", pusher="webhook") == resyncs + 1
    assert {sku: receiver.latest[sku]["available"] for sku in skus} == dict.fromkeys(skus, 7)
    assert {receiver.latest[sku]["version"] for sku in skus} == {"9-1"}
    assert await pending_count(redis, channel, "webhook") == 0


async def test_pending_changes_trimmed_before_they_were_sent_trigger_a_resync(
    redis: aioredis.Redis, receiver: FakeWebhookReceiver
) -> None:
    channel, sku = unique("hook"), unique("SKU")
    pusher, _ = make_pusher(redis, channel, receiver)
    await pusher.ensure_group()
    await add_changes(redis, channel, [(sku, 5, "2-1")])
    stream = changes_key(channel)
    await redis.xreadgroup(keys.group_name("webhook"), "pusher-1", {stream: ">"})  # then a crash
    await redis.xtrim(stream, maxlen=0, approximate=False)
    await publish_figures(redis, channel, {sku: 6})
    trims = metric("tally_pusher_trims_detected_total", pusher="webhook", where="pending")

    await pusher.drain()

    assert metric("tally_pusher_trims_detected_total", pusher="webhook", where="pending") == (
        trims + 1
    )
    assert receiver.latest[sku]["available"] == 6  # not silently dropped
    assert await pending_count(redis, channel, "webhook") == 0
