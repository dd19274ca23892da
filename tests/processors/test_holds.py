"""Holds through the real worker: the last-unit storm and expiry on the log's clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

import pytest

from base import redis_keys
from base.settings import Settings
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, now_iso, produce_json, read_all
from tests.support.waiting import redis_client, stream_entries, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

STORM_UNITS = 10
TICK_SLACK_S = 0.5  # a timer may fire this late on a loaded machine
STORM_REQUESTS = 240


def reserve(
    sku: str, channel: str, qty: int = 1, ttl_s: int = 600, **extra: object
) -> dict[str, object]:
    hold_id = unique("hold")
    return {
        "type": "reserve",
        "request_id": f"req-{hold_id}",
        "hold_id": hold_id,
        "sku": sku,
        "channel": channel,
        "qty": qty,
        "ttl_s": ttl_s,
        "issued_at": now_iso(),
        **extra,
    }


def test_last_unit_storm_accepts_exactly_the_units_on_hand(
    isolated: Settings, worker: WorkerProcess
) -> None:
    sku, store = unique("SKU"), unique("store")
    channels = [unique("web"), unique("market"), unique("pos")]
    policies = [channel_policy(channel, [store]) for channel in channels]
    asyncio.run(produce_json(isolated, isolated.topics.policy, policies, "channel"))
    asyncio.run(
        produce_json(
            isolated,
            isolated.topics.events,
            [fact(unique("e"), "received", sku, store, STORM_UNITS)],
        )
    )
    client = redis_client(isolated)
    wait_for_figure(client, redis_keys.loc_key(store), sku, str(STORM_UNITS))

    requests = [reserve(sku, channels[i % len(channels)]) for i in range(STORM_REQUESTS)]
    asyncio.run(produce_json(isolated, isolated.topics.commands, requests))

    decisions = wait_until(
        lambda: asyncio.run(read_all(isolated, isolated.topics.decisions, idle_ms=500)),
        lambda found: len(found) >= STORM_REQUESTS,
        timeout_s=60,
        what=f"{STORM_REQUESTS} decisions",
    )
    by_request = {d["request_id"]: d for d in decisions}
    assert set(by_request) == {r["request_id"] for r in requests}
    outcomes = Counter(d["outcome"] for d in by_request.values())
    assert outcomes == {"accepted": STORM_UNITS, "rejected": STORM_REQUESTS - STORM_UNITS}
    for decision in by_request.values():
        if decision["outcome"] == "rejected":
            assert decision["reason"] == "insufficient_stock"
            assert decision["available_after"] == 0
    for channel in channels:
        wait_for_figure(client, redis_keys.ats_key(channel), sku, "0")
        entries = stream_entries(client, redis_keys.changes_key(channel))
        published = [int(f["available"]) for f in entries if f["sku"] == sku]
        assert published, f"no change published for {channel}"
        assert min(published) >= 0
    assert client.hget(redis_keys.loc_key(store), sku) == "0"


def test_hold_expires_within_one_tick_of_its_ttl(isolated: Settings, worker: WorkerProcess) -> None:
    sku, store, channel = unique("SKU"), unique("store"), unique("web")
    asyncio.run(
        produce_json(
            isolated, isolated.topics.policy, [channel_policy(channel, [store])], "channel"
        )
    )
    asyncio.run(
        produce_json(
            isolated, isolated.topics.events, [fact(unique("e"), "received", sku, store, 5)]
        )
    )
    client = redis_client(isolated)
    wait_for_figure(client, redis_keys.ats_key(channel), sku, "5")

    hold = reserve(sku, channel, qty=2, ttl_s=2)
    expires_at = datetime.fromisoformat(str(hold["issued_at"])) + timedelta(seconds=2)
    asyncio.run(produce_json(isolated, isolated.topics.commands, [hold]))
    wait_for_figure(client, redis_keys.ats_key(channel), sku, "3")
    wait_for_figure(client, redis_keys.ats_key(channel), sku, "5", timeout_s=30)
    # The ledger expires holds on the log's clock: the worker's tick sends `expire` through
    # the log once a hold is due. The tick that expired this one came at or after the TTL,
    # and within one tick of it (plus the timer's scheduling slack).
    expires = [
        datetime.fromisoformat(command["issued_at"])
        for command in asyncio.run(read_all(isolated, isolated.topics.commands))
        if command["type"] == "expire" and command["sku"] == sku
    ]
    assert expires and min(expires) >= expires_at, (expires, expires_at)
    late_s = (min(expires) - expires_at).total_seconds()
    assert late_s <= isolated.worker.hold_expiry_tick_s + TICK_SLACK_S, late_s
    # ... and the figure it freed was published after the TTL, never before.
    version = client.hget(redis_keys.version_key("ats", channel), sku)
    assert version is not None
    published_ms = int(str(version).rsplit(":", 1)[1])
    assert published_ms >= expires_at.timestamp() * 1000
    decisions = asyncio.run(read_all(isolated, isolated.topics.decisions))
    assert [d["outcome"] for d in decisions if d["hold_id"] == hold["hold_id"]] == ["accepted"]
    metrics = worker.metrics_text()
    assert "tally_holds_expired_total 1.0" in metrics
