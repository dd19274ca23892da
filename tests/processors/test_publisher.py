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


def publish_with_threshold(
    settings: Settings, figures: list[Figure], thresholds: dict[str, int]
) -> list[bool]:
    async def run() -> list[bool]:
        client = aioredis.Redis.from_url(settings.redis.url)
        publisher = RedisPublisher(
            client, changes_len_max=1_000, low_stock_units=lambda channel: thresholds.get(channel)
        )
        try:
            return await publisher.publish(figures)
        finally:
            await client.aclose()

    return asyncio.run(run())


def stock_events(settings: Settings, channel: str) -> list[tuple[str, str, str, str, str]]:
    """(event, sku, available, previous, threshold) of the channel's stock events, in order."""
    entries = stream_entries(redis_client(settings), redis_keys.stock_events_key(channel))
    return [(f["event"], f["sku"], f["available"], f["previous"], f["threshold"]) for f in entries]


def test_threshold_crossings_publish_stock_events_per_channel(live_stack: Settings) -> None:
    web, pos, sku = unique("web"), unique("pos"), unique("SKU")
    thresholds = {web: 5}  # pos has no low_stock_units
    steps = [8, 4, 3, 0, 0, 2, 9, 6, 5]
    for n, units in enumerate(steps, 1):
        figures = [
            Figure("ats", channel, sku, units, FigureVersion(n, 1), ingested_ms=n)
            for channel in (web, pos)
        ]
        publish_with_threshold(live_stack, figures, thresholds)
    # The same figure again at an older version is skipped: no event either.
    stale = Figure("ats", web, sku, 0, FigureVersion(1, 1), ingested_ms=1)
    assert publish_with_threshold(live_stack, [stale], thresholds) == [False]

    assert stock_events(live_stack, web) == [
        ("low_stock", sku, "4", "8", "5"),
        ("out_of_stock", sku, "0", "3", "5"),
        ("back_in_stock", sku, "2", "0", "5"),
        ("low_stock", sku, "2", "0", "5"),  # from 0 straight into the band
        ("low_stock", sku, "5", "6", "5"),
    ]
    assert stock_events(live_stack, pos) == [
        ("out_of_stock", sku, "0", "3", ""),
        ("back_in_stock", sku, "2", "0", ""),
    ]
    client = redis_client(live_stack)
    [first] = stream_entries(client, redis_keys.stock_events_key(web))[:1]
    assert (first["version"], first["ingested_at"]) == ("2-1", "2")
    # The change stream is as before: one entry per written figure.
    assert len(stream_entries(client, redis_keys.changes_key(web))) == len(steps)


def test_a_first_figure_of_zero_is_out_of_stock_and_locations_have_no_events(
    live_stack: Settings,
) -> None:
    channel, location, sku = unique("web"), unique("store"), unique("SKU")
    figures = [
        Figure("ats", channel, sku, 0, FigureVersion(1, 0), 0),
        Figure("loc", location, sku, 0, FigureVersion(1, 0), 0),
    ]
    assert publish_with_threshold(live_stack, figures, {channel: 3}) == [True, True]
    assert stock_events(live_stack, channel) == [("out_of_stock", sku, "0", "", "3")]
    assert redis_client(live_stack).exists(redis_keys.stock_events_key(location)) == 0


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


def test_figures_reach_redis_exactly_as_written_whatever_their_text_or_size(
    live_stack: Settings,
) -> None:
    """The figures travel to the script as one JSON array: text JSON must escape and numbers
    past a Lua number's 14 printed digits arrive unchanged."""
    channel = unique('web "quoted" \\ é')
    sku = unique('SKU-"1"\\é')
    big = 123_456_789_012_345_678  # more digits than a Lua number prints
    detail = '{"2026-12-05": 3, "2026-12-06": 7}'  # an ATP horizon, itself JSON
    figures = [
        Figure("ats", channel, sku, big, FigureVersion(big, big + 1), ingested_ms=big),
        Figure("atp", channel, sku, 3, FigureVersion(2, 1), ingested_ms=0, detail=detail),
    ]
    assert publish(live_stack, figures) == [True, True]
    client = redis_client(live_stack)
    assert client.hget(redis_keys.ats_key(channel), sku) == str(big)
    version, _ = redis_keys.parse_version_record(
        str(client.hget(redis_keys.version_key("ats", channel), sku))
    )
    assert version == FigureVersion(big, big + 1)
    (change,) = stream_entries(client, redis_keys.changes_key(channel))
    assert change == {
        "sku": sku, "available": str(big), "version": f"{big}-{big + 1}", "ingested_at": str(big),
    }  # fmt: skip
    assert client.hget(redis_keys.atp_key(channel), sku) == detail
