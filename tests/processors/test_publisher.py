"""The Redis publisher's compare-and-set, against the real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from base import redis_keys
from base.redis_keys import FigureVersion
from base.settings import Settings
from processors.publisher import Figure, RedisPublisher
from tests.support.isolation import unique
from tests.support.waiting import redis_client, stream_entries

pytestmark = pytest.mark.integration


def publish(settings: Settings, figures: list[Figure]) -> list[bool]:
    async def run() -> list[bool]:
        client = aioredis.Redis.from_url(settings.redis.url)
        try:
            return await RedisPublisher(client, changes_len_max=1_000).publish(figures)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_a_stale_version_never_overwrites_a_newer_figure(live_stack: Settings) -> None:
    channel, sku = unique("web"), unique("SKU")
    newer = Figure("ats", channel, sku, 3, FigureVersion(7, 2), ingested_ms=1)
    assert publish(live_stack, [newer]) == [True]
    stale = [
        Figure("ats", channel, sku, 9, FigureVersion(6, 5), ingested_ms=1),  # older SKU version
        Figure("ats", channel, sku, 9, FigureVersion(7, 1), ingested_ms=1),  # older policy
        Figure("ats", channel, sku, 9, FigureVersion(7, 2), ingested_ms=1),  # same version
    ]
    assert publish(live_stack, stale) == [False, False, False]
    client = redis_client(live_stack)
    assert client.hget(redis_keys.ats_key(channel), sku) == "3"
    assert len(stream_entries(client, redis_keys.changes_key(channel))) == 1
    # Newer on either component wins.
    assert publish(live_stack, [Figure("ats", channel, sku, 4, FigureVersion(7, 3), 1)]) == [True]
    assert publish(live_stack, [Figure("ats", channel, sku, 5, FigureVersion(8, 0), 1)]) == [True]
    assert client.hget(redis_keys.ats_key(channel), sku) == "5"
    version, published_ms = redis_keys.parse_version_record(
        str(client.hget(redis_keys.version_key("ats", channel), sku))
    )
    assert version == FigureVersion(8, 0)
    assert published_ms > 0


def test_location_figures_are_written_without_a_change_stream(live_stack: Settings) -> None:
    location, sku = unique("store"), unique("SKU")
    assert publish(live_stack, [Figure("loc", location, sku, 2, FigureVersion(1, 0), 0)]) == [True]
    client = redis_client(live_stack)
    assert client.hget(redis_keys.loc_key(location), sku) == "2"
    assert client.exists(redis_keys.changes_key(location)) == 0


def test_each_changed_sku_is_signalled_once_per_publish_and_a_stale_one_not_at_all(
    live_stack: Settings,
) -> None:
    channel, location, sku = unique("web"), unique("store"), unique("SKU")
    listener = redis_client(live_stack).pubsub()
    listener.subscribe(redis_keys.sku_changes_key(sku))
    try:
        confirmed = listener.get_message(timeout=5.0)  # subscribed before anything is published
        assert confirmed is not None and confirmed["type"] == "subscribe"
        figures = [
            Figure("ats", channel, sku, 3, FigureVersion(4, 1), ingested_ms=1),
            Figure("loc", location, sku, 5, FigureVersion(4, 1), ingested_ms=1),
        ]
        assert publish(live_stack, figures) == [True, True]
        message = listener.get_message(timeout=5.0)
        assert message is not None and message["data"] == "4-1"
        assert publish(live_stack, figures) == [False, False]  # a replay: nothing changed
        assert listener.get_message(timeout=0.5) is None
    finally:
        listener.close()
