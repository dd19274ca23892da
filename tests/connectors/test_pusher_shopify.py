"""The Shopify pusher against real Redis and a local fake Admin GraphQL endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from base.redis_keys import changes_key
from base.settings import Settings
from connectors.pushers import keys
from connectors.pushers.changes import parse_entry
from connectors.pushers.runner import Pusher
from connectors.pushers.shopify import ShopifyMapping, ShopifySink
from tests.connectors.fakes.harness import (
    LOCATION,
    Sleeps,
    add_changes,
    dead_letters,
    fast_settings,
    item_id,
    metric,
    pending_count,
    write_mapping,
)
from tests.connectors.fakes.shopify import THROTTLE_WAIT_S, FakeShopify
from tests.support.isolation import unique

pytestmark = pytest.mark.integration

OTHER_LOCATION = "gid://shopify/Location/2"


@pytest.fixture
def shopify() -> Iterator[FakeShopify]:
    with FakeShopify(timeout_sleep_s=1.0).running() as fake:
        yield fake
        assert fake.violations == []


@pytest.fixture
async def redis(live_stack: Settings) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(live_stack.redis.url, decode_responses=True)
    yield client
    await client.aclose()


def make_pusher(
    client: aioredis.Redis,
    channel: str,
    fake: FakeShopify,
    skus: list[str],
    tmp_path: Path,
    **overrides: Any,
) -> tuple[Pusher, Sleeps]:
    settings = fast_settings(shopify_shop_url=fake.shop_url, **overrides)
    mapping = ShopifyMapping.load(write_mapping(tmp_path / f"{channel}.json", skus))
    sleeps = Sleeps()
    sink = ShopifySink(settings, channel, mapping, sleep=sleeps)
    return Pusher(client, channel, sink, settings), sleeps


def quantities(variables: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = variables["input"]["quantities"]
    return result


async def test_burst_is_coalesced_batched_acked_and_later_figures_compare_and_swap(
    redis: aioredis.Redis, shopify: FakeShopify, tmp_path: Path
) -> None:
    channel, skus = unique("web"), [unique("SKU") for _ in range(3)]
    rows = [(sku, 10 * v + n, f"{v}-1") for v in range(1, 11) for n, sku in enumerate(skus)]
    await add_changes(redis, channel, rows)
    pusher, _ = make_pusher(redis, channel, shopify, skus, tmp_path)

    assert await pusher.drain() == len(rows)
    assert len(shopify.mutations) == 1  # one call, three SKUs in its quantities list
    assert {shopify.levels[(item_id(s), LOCATION)] for s in skus} == {100, 101, 102}
    assert all(shopify.history[item_id(s)] == [100 + n] for n, s in enumerate(skus))
    assert [q["changeFromQuantity"] for q in quantities(shopify.mutations[0])] == [None] * 3
    assert await pending_count(redis, channel, "shopify") == 0
    assert await redis.hget(keys.pushed_key("shopify", channel), skus[0]) == "10-1:100"

    # A newer figure: changeFromQuantity is what we last pushed. An older one: never pushed.
    await add_changes(redis, channel, [(skus[0], 7, "11-1"), (skus[1], 3, "9-1")])
    await pusher.drain()
    assert len(shopify.mutations) == 2
    assert quantities(shopify.mutations[1]) == [
        {
            "inventoryItemId": item_id(skus[0]),
            "locationId": LOCATION,
            "quantity": 7,
            "changeFromQuantity": 100,
        }
    ]
    assert shopify.levels[(item_id(skus[1]), LOCATION)] == 101
    assert await pending_count(redis, channel, "shopify") == 0


async def test_throttling_is_waited_out_as_the_bucket_says(
    redis: aioredis.Redis, shopify: FakeShopify, tmp_path: Path
) -> None:
    channel, sku = unique("web"), unique("SKU")
    await add_changes(redis, channel, [(sku, 5, "1-1")])
    pusher, sleeps = make_pusher(redis, channel, shopify, [sku], tmp_path)
    throttled_before = metric("tally_pusher_pushes_total", pusher="shopify", result="throttled")
    shopify.script(["throttled", "429", "503", "throttled"])

    await pusher.drain()

    assert shopify.levels[(item_id(sku), LOCATION)] == 5
    assert len(sleeps.waits) == 4
    # THROTTLED: (requestedQueryCost - currentlyAvailable) / restoreRate; 429: Retry-After 0.
    assert sleeps.waits[0] == pytest.approx(THROTTLE_WAIT_S)
    assert sleeps.waits[1] == 0.0
    assert 0.0 <= sleeps.waits[2] <= 0.01  # 503 without Retry-After: backoff
    assert sleeps.waits[3] == pytest.approx(THROTTLE_WAIT_S)
    after = metric("tally_pusher_pushes_total", pusher="shopify", result="throttled")
    assert after - throttled_before == 4
    assert await pending_count(redis, channel, "shopify") == 0


async def test_endless_throttling_is_bounded_then_dead_lettered(
    redis: aioredis.Redis, shopify: FakeShopify, tmp_path: Path
) -> None:
    channel, sku = unique("web"), unique("SKU")
    await add_changes(redis, channel, [(sku, 5, "1-1")])
    pusher, sleeps = make_pusher(redis, channel, shopify, [sku], tmp_path, shopify_throttles_max=3)
    shopify.fail_always = "throttled"

    await pusher.drain()

    assert len(sleeps.waits) == 3
    [letter] = await dead_letters(redis, channel)
    assert letter["pusher"] == "shopify"
    assert letter["sku"] == sku
    assert letter["version"] == "1-1"
    assert letter["reason"].startswith("throttled")
    assert await pending_count(redis, channel, "shopify") == 0


async def test_a_lost_answer_is_retried_with_the_same_idempotency_key(
    redis: aioredis.Redis, shopify: FakeShopify, tmp_path: Path
) -> None:
    channel, sku = unique("web"), unique("SKU")
    await add_changes(redis, channel, [(sku, 5, "1-1")])
    pusher, _ = make_pusher(redis, channel, shopify, [sku], tmp_path, http_timeout_s=0.3)
    timeouts_before = metric("tally_pusher_errors_total", pusher="shopify", kind="timeout")
    shopify.script(["timeout", "500"])  # applied but the answer is lost; then a 500

    await pusher.drain()

    assert len(shopify.keys_seen) == 2  # the 500 never reached GraphQL
    assert len(set(shopify.keys_seen)) == 1
    assert len(shopify.keys_applied) == 1  # the retry got the stored answer
    assert shopify.history[item_id(sku)] == [5]
    assert metric("tally_pusher_errors_total", pusher="shopify", kind="timeout") > timeouts_before
    assert await pending_count(redis, channel, "shopify") == 0


async def test_stale_change_from_quantity_is_re_read_and_retried(
    redis: aioredis.Redis, shopify: FakeShopify, tmp_path: Path
) -> None:
    channel, sku = unique("web"), unique("SKU")
    # We last pushed 5, but someone changed Shopify to 9 since.
    await redis.hset(keys.pushed_key("shopify", channel), sku, "1-1:5")
    shopify.levels[(item_id(sku), LOCATION)] = 9
    await add_changes(redis, channel, [(sku, 20, "2-1")])
    pusher, _ = make_pusher(redis, channel, shopify, [sku], tmp_path)

    await pusher.drain()

    assert [quantities(m)[0]["changeFromQuantity"] for m in shopify.mutations] == [5, 9]
    assert shopify.reads == 1
    assert len(set(shopify.keys_seen)) == 2  # different content, different key
    assert shopify.levels[(item_id(sku), LOCATION)] == 20
    assert await redis.hget(keys.pushed_key("shopify", channel), sku) == "2-1:20"


async def test_unmapped_skus_are_dead_lettered_and_the_rest_pushed(
    redis: aioredis.Redis, shopify: FakeShopify, tmp_path: Path
) -> None:
    channel, mapped, unmapped = unique("web"), unique("SKU"), unique("SKU")
    await add_changes(redis, channel, [(mapped, 4, "1-1"), (unmapped, 6, "1-1")])
    pusher, _ = make_pusher(redis, channel, shopify, [mapped], tmp_path)

    await pusher.drain()

    assert shopify.levels == {(item_id(mapped), LOCATION): 4}
    [letter] = await dead_letters(redis, channel)
    assert (letter["sku"], letter["available"], letter["reason"][:8]) == (unmapped, "6", "unmapped")
    assert await pending_count(redis, channel, "shopify") == 0


async def test_a_refused_quantity_is_dead_lettered_and_the_others_retried(
    redis: aioredis.Redis, shopify: FakeShopify, tmp_path: Path
) -> None:
    channel, skus = unique("web"), [unique("SKU") for _ in range(3)]
    await add_changes(redis, channel, [(sku, n + 1, "1-1") for n, sku in enumerate(skus)])
    pusher, _ = make_pusher(redis, channel, shopify, skus, tmp_path)
    shopify.script(["too_low_1"])

    await pusher.drain()

    [letter] = await dead_letters(redis, channel)
    assert letter["sku"] == skus[1]
    assert "INVALID_QUANTITY_TOO_LOW" in letter["reason"]
    assert shopify.levels == {(item_id(skus[0]), LOCATION): 1, (item_id(skus[2]), LOCATION): 3}
    assert await pending_count(redis, channel, "shopify") == 0


async def test_an_internal_server_error_inside_a_200_is_retried_not_dead_lettered(
    redis: aioredis.Redis, shopify: FakeShopify, tmp_path: Path
) -> None:
    channel, sku = unique("web"), unique("SKU")
    await add_changes(redis, channel, [(sku, 6, "1-1")])
    pusher, sleeps = make_pusher(redis, channel, shopify, [sku], tmp_path)
    shopify.script(["internal", "internal"])

    await pusher.drain()

    assert await dead_letters(redis, channel) == []
    assert shopify.levels[(item_id(sku), LOCATION)] == 6
    assert len(sleeps.waits) == 2  # backed off twice, then applied
    assert await pending_count(redis, channel, "shopify") == 0


@pytest.mark.parametrize("changed", ["reason", "mapping"])
async def test_a_retry_after_a_crash_with_another_reason_or_mapping_is_applied(
    redis: aioredis.Redis, shopify: FakeShopify, tmp_path: Path, changed: str
) -> None:
    """Sent, then the pusher died before its ack; it restarts with another reason (or the SKU
    mapped to another item): the retry is a call of its own, not a reused key."""
    channel, sku = unique("web"), unique("SKU")
    await add_changes(redis, channel, [(sku, 9, "1-1")])
    first, _ = make_pusher(redis, channel, shopify, [sku], tmp_path)
    await first.ensure_group()
    entries: Any = await redis.xreadgroup(
        keys.group_name("shopify"), "pusher-1", {changes_key(channel): ">"}
    )
    [[_, [(entry_id, fields)]]] = entries
    change = parse_entry(entry_id, fields)
    assert change is not None
    await first._sink.push([change], {})  # sent; the crash comes before the ack
    assert len(shopify.keys_applied) == 1

    overrides: dict[str, Any] = {}
    if changed == "reason":
        overrides["shopify_reason"] = "cycle_count_available"
    second, _ = make_pusher(redis, channel, shopify, [sku], tmp_path, **overrides)
    if changed == "mapping":
        moved = ShopifyMapping(location_id=OTHER_LOCATION, items={sku: item_id(sku)})
        second._sink._mapping = moved  # type: ignore[attr-defined]
    await second.drain()

    assert await dead_letters(redis, channel) == []
    assert len(shopify.keys_applied) == 2
    assert len(set(shopify.keys_seen)) == 2
    where = (item_id(sku), OTHER_LOCATION if changed == "mapping" else LOCATION)
    assert shopify.levels[where] == 9
    assert await pending_count(redis, channel, "shopify") == 0
