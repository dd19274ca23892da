"""The Amazon pusher against real Redis and a fake Selling Partner API that enforces the
Listings Items model: the must-shows of every pusher (crash between send and ack, outage,
throttling, bad credentials, a figure superseded in flight), token refresh, issues, redrive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from base.redis_keys import ats_key, changes_key, version_key
from base.settings import PusherSettings, Settings
from connectors.pushers import keys
from connectors.pushers.amazon import AmazonSink, SellerSkus
from connectors.pushers.changes import parse_entry
from connectors.pushers.redrive import redrive
from connectors.pushers.runner import Pusher
from connectors.pushers.stops import BadCredentials
from tests.connectors.fakes.amazon import MARKETPLACES, FakeAmazon, amazon_overrides
from tests.connectors.fakes.harness import (
    Sleeps,
    add_changes,
    dead_letters,
    fast_settings,
    metric,
    pending_count,
)
from tests.support.isolation import unique

pytestmark = pytest.mark.integration


@pytest.fixture
def amazon() -> Iterator[FakeAmazon]:
    with FakeAmazon(timeout_sleep_s=1.0).running() as fake:
        yield fake
        assert fake.violations == []  # every request matched the model


@pytest.fixture
async def redis(live_stack: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(live_stack.redis.url, decode_responses=True)
    yield client
    await client.aclose()


def amazon_settings(fake: FakeAmazon, **overrides: Any) -> PusherSettings:
    return fast_settings(**{**amazon_overrides(fake.url), **overrides})


def make_pusher(
    client: aioredis.Redis,
    channel: str,
    fake: FakeAmazon,
    seller_skus: dict[str, str] | None = None,
    **overrides: Any,
) -> tuple[Pusher, AmazonSink, Sleeps]:
    settings = amazon_settings(fake, **overrides)
    sleeps = Sleeps()
    sink = AmazonSink(settings, channel, SellerSkus(seller_skus), sleep=sleeps, clock=sleeps.clock)
    return Pusher(client, channel, sink, settings), sink, sleeps


async def send_without_ack(pusher: Pusher, sink: AmazonSink, redis: aioredis.Redis) -> None:
    """Read the new entries and push them, then 'crash': no bookkeeping, no ack."""
    await pusher.ensure_group()
    reply: Any = await redis.xreadgroup(
        keys.group_name("amazon"), "pusher-1", {changes_key(pusher._channel): ">"}
    )
    changes = [parse_entry(i, f) for _, entries in reply for i, f in entries]
    await sink.push([c for c in changes if c is not None], {})


async def test_figures_are_set_per_seller_sku_and_marketplace_with_one_token(
    redis: aioredis.Redis, amazon: FakeAmazon
) -> None:
    channel, skus = unique("amz"), [unique("SKU") for _ in range(3)]
    rows = [(sku, 10 * v + n, f"{v}-1") for v in (1, 2) for n, sku in enumerate(skus)]
    await add_changes(redis, channel, rows)
    mapped = {skus[0]: "SELLER-" + skus[0]}
    pusher, _, _ = make_pusher(redis, channel, amazon, mapped, amazon_marketplace_ids=MARKETPLACES)

    await pusher.drain()

    seller = ["SELLER-" + skus[0], skus[1], skus[2]]
    assert amazon.quantities == {(s, m): 20 + n for n, s in enumerate(seller) for m in MARKETPLACES}
    assert amazon.token_requests == 1  # cached across every request
    assert amazon.patches == 6  # coalesced: the newest figure only, per marketplace
    assert await redis.hget(keys.pushed_key("amazon", channel), skus[1]) == "2-1:21"
    assert await pending_count(redis, channel, "amazon") == 0


async def test_the_access_token_is_refreshed_shortly_before_it_expires(
    redis: aioredis.Redis,
) -> None:
    channel, sku = unique("amz"), unique("SKU")
    with FakeAmazon(expires_in_s=120).running() as amazon:
        pusher, _, sleeps = make_pusher(redis, channel, amazon)
        for version, (quantity, later_s) in enumerate([(1, 30.0), (2, 40.0), (3, 0.0)], 1):
            await add_changes(redis, channel, [(sku, quantity, f"{version}-1")])
            await pusher.drain()
            sleeps.now_s += later_s
        assert amazon.violations == []
    # 120 s tokens refreshed 60 s early: t=0 fetch, t=30 cached, t=70 past 60: refreshed.
    assert amazon.token_requests == 2
    assert amazon.history[sku] == [1, 2, 3]


async def test_sent_then_crashed_before_the_ack_is_set_again_after_restart(
    redis: aioredis.Redis, amazon: FakeAmazon
) -> None:
    channel, sku = unique("amz"), unique("SKU")
    await add_changes(redis, channel, [(sku, 7, "1-1")])
    first, sink, _ = make_pusher(redis, channel, amazon)
    await send_without_ack(first, sink, redis)
    assert await pending_count(redis, channel, "amazon") == 1

    second, _, _ = make_pusher(redis, channel, amazon)
    assert await second.drain() == 1  # its pending entry, re-read at start-up

    assert amazon.history[sku] == [7, 7]  # an absolute quantity: the repeat changes nothing
    assert await dead_letters(redis, channel) == []
    assert await pending_count(redis, channel, "amazon") == 0


async def test_a_figure_superseded_while_in_flight_is_replaced_not_repeated(
    redis: aioredis.Redis, amazon: FakeAmazon
) -> None:
    """v1's PATCH is in flight (a slow API) when v2 and v3 arrive: the next push is v3."""
    channel, sku = unique("amz"), unique("SKU")
    amazon.delay_s = 0.3
    await add_changes(redis, channel, [(sku, 7, "1-1")])
    pusher, _, _ = make_pusher(redis, channel, amazon, read_block_ms=50)
    stop = asyncio.Event()
    task = asyncio.create_task(pusher.run(stop))
    try:
        await until(lambda: amazon.token_requests == 1, "the token")  # then v1's PATCH goes
        await asyncio.sleep(0.1)
        await add_changes(redis, channel, [(sku, 4, "2-1"), (sku, 3, "3-1")])
        await until(lambda: amazon.history.get(sku) == [7, 3], "v3 after v1, v2 skipped")
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task
    assert amazon.history[sku] == [7, 3]
    assert await redis.hget(keys.pushed_key("amazon", channel), sku) == "3-1:3"
    assert await pending_count(redis, channel, "amazon") == 0


async def until(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_an_outage_is_retried_then_dead_lettered_then_redriven(
    redis: aioredis.Redis, amazon: FakeAmazon
) -> None:
    channel, sku, other = unique("amz"), unique("SKU"), unique("SKU")
    await add_changes(redis, channel, [(sku, 5, "1-1")])
    pusher, sink, sleeps = make_pusher(redis, channel, amazon, attempts_max=4)
    amazon.script(["500", "503", "timeout"])  # the timed-out PATCH is applied, answer lost

    await pusher.drain()
    assert amazon.history[sku] == [5, 5]
    assert len(sleeps.waits) >= 3  # backed off between the attempts
    assert await dead_letters(redis, channel) == []

    amazon.fail_always = "503"  # a longer outage: attempts run out
    await add_changes(redis, channel, [(sku, 6, "2-1"), (other, 9, "1-1")])
    await pusher.drain()
    letters = await dead_letters(redis, channel)
    assert {(d["sku"], d["attempts"]) for d in letters} == {(sku, "4"), (other, "4")}
    assert all("HTTP 503" in d["reason"] for d in letters)
    assert await pending_count(redis, channel, "amazon") == 0

    # Amazon is back; the figures moved on meanwhile: redrive sends the current ones.
    amazon.fail_always = None
    await redis.hset(ats_key(channel), mapping={sku: 8, other: 9})
    await redis.hset(version_key("ats", channel), mapping={sku: "3-1:1", other: "1-1:1"})
    report = await redrive(redis, channel, sink, dlq_len_max=1_000)
    assert (report.delivered, report.failed, report.removed) == (2, 0, 2)
    assert amazon.history[sku][-1] == 8 and amazon.history[other] == [9]
    assert await dead_letters(redis, channel) == []
    assert await redis.hget(keys.pushed_key("amazon", channel), sku) == "3-1:8"


async def test_429_empties_the_bucket_and_backs_off(
    redis: aioredis.Redis, amazon: FakeAmazon
) -> None:
    channel, sku = unique("amz"), unique("SKU")
    await add_changes(redis, channel, [(sku, 2, "1-1")])
    pusher, _, sleeps = make_pusher(redis, channel, amazon, amazon_rate_per_s=5.0)
    before = metric("tally_pusher_pushes_total", pusher="amazon", result="throttled")
    amazon.script(["429", "429"])

    await pusher.drain()

    assert amazon.history[sku] == [2]
    assert [w for w in sleeps.waits if w > 0] and min(w for w in sleeps.waits if w > 0) >= 0.2
    assert metric("tally_pusher_pushes_total", pusher="amazon", result="throttled") - before == 2


async def test_requests_keep_to_the_rate_the_api_reports(redis: aioredis.Redis) -> None:
    """x-amzn-RateLimit-Limit says 2 req/s: past the burst, requests go 0.5 s apart."""
    channel, skus = unique("amz"), [unique("SKU") for _ in range(4)]
    await add_changes(redis, channel, [(sku, 1, "1-1") for sku in skus])
    with FakeAmazon(rate_per_s=2.0).running() as amazon:
        pusher, _, sleeps = make_pusher(
            redis, channel, amazon, amazon_rate_per_s=5.0, amazon_burst=1
        )
        await pusher.drain()
        assert amazon.violations == []
    assert sleeps.waits == [0.0, pytest.approx(0.5), pytest.approx(0.5), pytest.approx(0.5)]


@pytest.mark.parametrize("paced", [True, False])
async def test_paced_at_the_api_s_rate_it_is_seldom_throttled(
    redis: aioredis.Redis, paced: bool
) -> None:
    """Real time: a server enforcing 20 req/s, burst 2. Paced at that plan, at most a
    network-jitter 429 or two; unpaced (1000 req/s), a 429 for most requests. Either way
    every figure lands (429 backs off), none is dead-lettered."""
    channel, skus = unique("amz"), [unique("SKU") for _ in range(10)]
    await add_changes(redis, channel, [(sku, 1, "1-1") for sku in skus])
    rate = (
        {"amazon_rate_per_s": 20.0, "amazon_burst": 2}
        if paced
        else {"amazon_rate_per_s": 1_000.0, "amazon_burst": 1_000, "backoff_base_s": 0.001}
    )
    with FakeAmazon(rate_per_s=20.0, burst=2).running() as amazon:
        amazon.rate_header = False  # the plan is known only from the settings here
        settings = amazon_settings(amazon, **rate)
        sink = AmazonSink(settings, channel)
        try:
            await Pusher(redis, channel, sink, settings).drain()
        finally:
            await sink.aclose()
        assert amazon.violations == []
    assert amazon.patches == 10
    assert await dead_letters(redis, channel) == []
    if paced:
        assert amazon.throttled <= 2
    else:
        assert amazon.throttled >= 5


async def test_a_refused_refresh_token_stops_the_pusher_and_acks_nothing(
    redis: aioredis.Redis, amazon: FakeAmazon
) -> None:
    channel, sku = unique("amz"), unique("SKU")
    await add_changes(redis, channel, [(sku, 3, "1-1")])
    pusher, _, _ = make_pusher(redis, channel, amazon, amazon_lwa_refresh_token=SecretStr("bad"))

    with pytest.raises(BadCredentials, match="invalid_grant"):
        await pusher.drain()

    assert amazon.patches == 0
    assert await pending_count(redis, channel, "amazon") == 1  # pushed once fixed
    assert await dead_letters(redis, channel) == []


async def test_a_revoked_token_is_refreshed_once_then_a_refusal_stops(
    redis: aioredis.Redis, amazon: FakeAmazon
) -> None:
    channel, sku = unique("amz"), unique("SKU")
    await add_changes(redis, channel, [(sku, 3, "1-1")])
    pusher, _, _ = make_pusher(redis, channel, amazon)
    await pusher.drain()
    amazon.revoke_tokens()
    await add_changes(redis, channel, [(sku, 4, "2-1")])
    await pusher.drain()  # 403, a fresh token, then accepted
    assert (amazon.history[sku], amazon.token_requests) == ([3, 4], 2)

    amazon.script(["403", "403"])
    await add_changes(redis, channel, [(sku, 5, "3-1")])
    with pytest.raises(BadCredentials, match="Unauthorized"):
        await pusher.drain()
    assert await pending_count(redis, channel, "amazon") == 1
    assert await dead_letters(redis, channel) == []


@pytest.mark.parametrize("retried", [False, True])
async def test_error_issues_are_dead_lettered_unless_listed_as_retryable(
    redis: aioredis.Redis, amazon: FakeAmazon, retried: bool
) -> None:
    channel, sku = unique("amz"), unique("SKU")
    await add_changes(redis, channel, [(sku, 3, "1-1")])
    codes = ("8541",) if retried else ()
    pusher, _, _ = make_pusher(redis, channel, amazon, amazon_retry_issue_codes=codes)
    amazon.script(["invalid"])

    await pusher.drain()

    letters = await dead_letters(redis, channel)
    if retried:
        assert (letters, amazon.history[sku]) == ([], [3])
    else:
        [letter] = letters
        assert "INVALID" in letter["reason"] and "8541" in letter["reason"]
        assert sku not in amazon.history
    assert await pending_count(redis, channel, "amazon") == 0
