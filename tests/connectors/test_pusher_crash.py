"""Crash safety: a pusher killed with SIGKILL mid-burst resumes from its consumer group.

The external side (a local fake) must end with the newest figure of every SKU and must
never have seen an older figure of a SKU after a newer one (duplicates are allowed: the
delivery is at-least-once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from base.redis_keys import changes_key
from base.settings import Settings
from connectors.pushers import keys
from ops.stack.ports import free_port
from tests.connectors.fakes.amazon import FakeAmazon, amazon_overrides
from tests.connectors.fakes.harness import (
    LOCATION,
    WEBHOOK_SECRET,
    fast_settings,
    item_id,
    pusher_process,
    write_mapping,
)
from tests.connectors.fakes.server import FakeServer
from tests.connectors.fakes.shopify import FakeShopify
from tests.connectors.fakes.webhook import FakeWebhookReceiver
from tests.support.isolation import unique
from tests.support.waiting import redis_client, wait_until

pytestmark = pytest.mark.integration

SKUS_PER_TEST = 12
FIRST_ROUNDS = 15
SECOND_ROUNDS = 5


def quantity(round_no: int, sku_index: int) -> int:
    """Grows with the version, so a history per SKU must never decrease."""
    return round_no * 100 + sku_index


def write_rounds(client: redis.Redis, channel: str, skus: list[str], rounds: range) -> None:
    now_ms = int(time.time() * 1000)
    pipe = client.pipeline(transaction=False)
    for round_no in rounds:
        for n, sku in enumerate(skus):
            fields = {
                "sku": sku,
                "available": quantity(round_no, n),
                "version": f"{round_no}-1",
                "ingested_at": now_ms,
            }
            pipe.xadd(changes_key(channel), fields)  # type: ignore[arg-type]
    pipe.execute()


def shopify_history(fake: FakeServer, skus: list[str]) -> dict[str, list[int]]:
    assert isinstance(fake, FakeShopify)
    with fake.lock:
        return {sku: list(fake.history.get(item_id(sku), [])) for sku in skus}


def webhook_history(fake: FakeServer, skus: list[str]) -> dict[str, list[int]]:
    assert isinstance(fake, FakeWebhookReceiver)
    history: dict[str, list[int]] = {sku: [] for sku in skus}
    with fake.lock:
        for _, payload in fake.delivered:
            for figure in payload.get("changes", [payload]):
                history[figure["sku"]].append(figure["available"])
    return history


def amazon_history(fake: FakeServer, skus: list[str]) -> dict[str, list[int]]:
    assert isinstance(fake, FakeAmazon)
    with fake.lock:
        return {sku: list(fake.history.get(sku, [])) for sku in skus}


HISTORIES: dict[str, Callable[[FakeServer, list[str]], dict[str, list[int]]]] = {
    "shopify": shopify_history,
    "webhook": webhook_history,
    "amazon": amazon_history,
}


def new_fake(kind: str) -> FakeServer:
    if kind == "shopify":
        return FakeShopify()
    if kind == "amazon":
        return FakeAmazon()
    return FakeWebhookReceiver(WEBHOOK_SECRET)


def calls_done(fake: FakeServer) -> int:
    if isinstance(fake, FakeAmazon):
        return fake.patches
    if isinstance(fake, FakeShopify):
        return len(fake.keys_applied)
    assert isinstance(fake, FakeWebhookReceiver)
    return len(fake.delivered)


@pytest.mark.parametrize("kind", ["shopify", "webhook", "amazon"])
def test_pusher_killed_mid_burst_resumes_and_ends_with_the_latest_figures(
    live_stack: Settings, tmp_path: Path, kind: str
) -> None:
    channel, skus = unique("crash"), [unique("SKU") for _ in range(SKUS_PER_TEST)]
    fake = new_fake(kind)
    history = HISTORIES[kind]
    fake.delay_s = 0.03  # a slow receiver, so the kill lands mid-burst
    client = redis_client(live_stack)
    with fake.running():
        overrides: dict[str, Any] = {
            "metrics_port": free_port(),
            "consumer": "crash-1",
            "read_entries_max": SKUS_PER_TEST,
            "read_block_ms": 100,
            "shopify_shop_url": fake.url,
            "shopify_quantities_per_call_max": 3,
            "webhook_url": fake.url + "/hooks/tally",
            "webhook_figures_per_request_max": 3,
            "http_timeout_s": 5.0,
            **amazon_overrides(fake.url),
        }
        settings = live_stack.model_copy(update={"pusher": fast_settings(**overrides)})
        args = ["--channel", channel, "--pusher", kind]
        if kind == "shopify":
            args += ["--mapping", str(write_mapping(tmp_path / "mapping.json", skus))]
        write_rounds(client, channel, skus, range(1, FIRST_ROUNDS + 1))

        first = pusher_process(settings, args, tmp_path / "pusher-1.log").start()
        try:
            wait_until(
                lambda: calls_done(fake),
                lambda done: done >= 4 or not first.alive(),
                timeout_s=60,
                what="the first pushes",
            )
            assert first.alive(), first.log_tail()
        finally:
            first.kill_hard()
        newest_first = {sku: quantity(FIRST_ROUNDS, n) for n, sku in enumerate(skus)}
        seen = history(fake, skus)
        assert any(seen[sku][-1:] != [newest_first[sku]] for sku in skus), "burst not cut"

        write_rounds(
            client, channel, skus, range(FIRST_ROUNDS + 1, FIRST_ROUNDS + SECOND_ROUNDS + 1)
        )
        expected = {sku: quantity(FIRST_ROUNDS + SECOND_ROUNDS, n) for n, sku in enumerate(skus)}
        second = pusher_process(settings, args, tmp_path / "pusher-2.log").start()
        try:
            wait_until(
                lambda: {sku: values[-1:] for sku, values in history(fake, skus).items()},
                lambda last: (
                    last == {sku: [value] for sku, value in expected.items()} or not second.alive()
                ),
                timeout_s=90,
                what="the newest figure of every SKU at the external side",
            )
            assert second.alive(), second.log_tail()
            wait_until(
                lambda: client.xpending(changes_key(channel), keys.group_name(kind))["pending"],  # type: ignore[arg-type]
                lambda pending: pending == 0,
                timeout_s=30,
                what="every entry acked",
            )
        finally:
            assert second.stop() == 0, second.log_tail()

    final = history(fake, skus)
    for sku in skus:
        assert final[sku] == sorted(final[sku]), f"{sku} went backwards: {final[sku]}"
    assert fake.violations == []
    if isinstance(fake, FakeShopify):
        assert {fake.levels[(item_id(s), LOCATION)] for s in skus} == set(expected.values())
    assert client.xlen(keys.dlq_key(channel)) == 0


def test_a_pusher_outlives_its_stream_being_deleted_under_a_blocked_read(
    live_stack: Settings, tmp_path: Path
) -> None:
    """FLUSHALL (a fault the seeded runs inject) or a deleted stream unblocks the pusher's
    XREADGROUP with `UNBLOCKED ... no longer exists`; it recreates its group and goes on."""
    channel, skus = unique("flush"), [unique("SKU") for _ in range(3)]
    fake = FakeWebhookReceiver(WEBHOOK_SECRET)
    client = redis_client(live_stack)
    with fake.running():
        overrides: dict[str, Any] = {
            "metrics_port": free_port(),
            "consumer": "flush-1",
            "read_block_ms": 5_000,  # blocked when the key goes
            "webhook_url": fake.url + "/hooks/tally",
            "http_timeout_s": 5.0,
        }
        settings = live_stack.model_copy(update={"pusher": fast_settings(**overrides)})
        args = ["--channel", channel, "--pusher", "webhook"]
        write_rounds(client, channel, skus, range(1, 2))
        pusher = pusher_process(settings, args, tmp_path / "pusher.log").start()
        try:
            wait_until(
                lambda: webhook_history(fake, skus),
                lambda seen: all(seen[sku] for sku in skus),
                timeout_s=60,
                what="the first figures pushed",
            )
            time.sleep(0.5)  # the pusher is back in its blocking read
            client.delete(changes_key(channel))
            time.sleep(0.5)
            assert pusher.alive(), pusher.log_tail()
            write_rounds(client, channel, skus, range(2, 3))
            wait_until(
                lambda: {sku: values[-1:] for sku, values in webhook_history(fake, skus).items()},
                lambda last: last == {sku: [quantity(2, n)] for n, sku in enumerate(skus)},
                timeout_s=60,
                what="figures written after the stream was deleted pushed",
            )
        finally:
            assert pusher.stop() == 0, pusher.log_tail()
