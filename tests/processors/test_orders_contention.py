"""200 concurrent multi-line orders competing for scarce stock over 5 locations, through a
real stream worker and a real order processor: no oversell, every order decided, no hold
left open, every allocated unit committed where the order says; and the same with the order
processor killed (kill -9) mid-run and restarted, at_least_once and exactly_once: each order
decided once."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
import redis

from base import redis_keys
from base.settings import Settings
from connectors.inspect.kafka_read import read_table
from ledger.codec import encode
from ledger.orders.ids import HOLD_PREFIX, order_ref
from ledger.orders.records import OrderLine, PlaceOrder, ShipTo
from ops.child_worker import ChildOrderProcessor
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, now_iso, produce, produce_json
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration

ORDERS = 200
SKUS = 12
UNITS_PER_LOCATION = 3
SETTLED = {"allocated", "partially_allocated", "refused"}
DECIDE_TIMEOUT_S = 180.0
HERE = (40.7, -74.0)


class Market:
    """Five locations, a channel over them, scarce stock of a dozen SKUs, 200 orders."""

    def __init__(self, settings: Settings) -> None:
        rng = random.Random(20261205)
        self.settings = settings
        self.channel = unique("web")
        self.locations = [unique(f"loc{i}") for i in range(5)]
        self.points = {loc: (rng.uniform(30, 47), rng.uniform(-120, -75)) for loc in self.locations}
        self.skus = [unique(f"S{i}") for i in range(SKUS)]
        self.orders = [self._order(f"o{n:04d}", rng) for n in range(ORDERS)]

    def _order(self, order_id: str, rng: random.Random) -> PlaceOrder:
        skus = rng.sample(
            self.skus[: SKUS // 2] if rng.random() < 0.7 else self.skus, rng.randint(1, 3)
        )
        return PlaceOrder(
            ref=order_ref(self.channel, order_id),
            issued_at=datetime.now(UTC),
            channel=self.channel,
            order_id=order_id,
            lines=tuple(OrderLine(sku=sku, qty=rng.randint(1, 3)) for sku in skus),
            delivery=ShipTo(latitude=HERE[0], longitude=HERE[1]),
            max_shipments=3,
            allow_partial=rng.random() < 0.3,
            digest=f"d{order_id}",
        )

    def stock_up(self) -> None:
        settings = self.settings
        records = [
            {"kind": "location", "location": loc, "latitude": lat, "longitude": lon,
             "version": 1, "updated_at": now_iso()}
            for loc, (lat, lon) in self.points.items()
        ]  # fmt: skip
        asyncio.run(produce_json(settings, settings.topics.policy, records, "location"))
        channel = channel_policy(self.channel, self.locations)
        asyncio.run(produce_json(settings, settings.topics.policy, [channel], "channel"))
        facts = [
            fact(unique("e"), "received", sku, loc, UNITS_PER_LOCATION)
            for sku in self.skus
            for loc in self.locations
        ]
        asyncio.run(produce_json(settings, settings.topics.events, facts))
        client = redis_client(settings)
        for sku in self.skus:
            for loc in self.locations:
                wait_for_figure(client, redis_keys.loc_key(loc), sku, str(UNITS_PER_LOCATION))

    def place(self, orders: list[PlaceOrder]) -> None:
        topic = self.settings.topics.orders
        asyncio.run(produce(self.settings, topic, [(o.ref.encode(), encode(o)) for o in orders]))

    def views(self, client: redis.Redis) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for placed in self.orders:
            raw = client.hget(redis_keys.order_key(placed.ref), "view")
            if raw is not None:
                found[placed.ref] = orjson.loads(raw)
        return found

    def wait_all_settled(self, client: redis.Redis) -> dict[str, dict[str, Any]]:
        def settled() -> dict[str, dict[str, Any]]:
            return {r: v for r, v in self.views(client).items() if v["status"] in SETTLED}

        return wait_until(
            settled,
            lambda s: len(s) == ORDERS,
            timeout_s=DECIDE_TIMEOUT_S,
            what="every order decided",
        )

    def settled_statuses_in_stream(self, client: redis.Redis) -> dict[str, list[str]]:
        """ref -> the settled statuses each order's change stream announced, in order."""
        key = redis_keys.order_changes_key(self.channel)
        entries = cast(list[tuple[str, dict[str, str]]], client.xrange(key))
        seen: dict[str, list[str]] = {}
        for _, fields in entries:
            if fields["status"] in SETTLED:
                statuses = seen.setdefault(fields["ref"], [])
                if not statuses or statuses[-1] != fields["status"]:
                    statuses.append(fields["status"])
        return seen


def _committed(table: dict[str, Any]) -> Counter[tuple[str, str]]:
    """(sku, location) -> units committed in the ledger's table."""
    return Counter(
        {
            (sku, loc): pos.committed
            for sku, state in table.items()
            for loc, pos in state.positions.items()
            if pos.committed
        }
    )


def check_books(market: Market, views: dict[str, dict[str, Any]], worker: WorkerProcess) -> None:
    """The ledger and the orders agree: committed units = allocated lines, per SKU and
    location; no order hold pending; nothing oversold; every order decided."""
    assert len(views) == ORDERS
    allocated: Counter[tuple[str, str]] = Counter()
    for view in views.values():
        assert view["status"] in SETTLED
        shipped_units = sum(li["qty"] for s in view["shipments"] for li in s["lines"])
        ordered_units = sum(li["qty"] for li in view["lines"])
        if view["status"] == "allocated":
            assert shipped_units == ordered_units, view
        if view["status"] == "refused":
            assert shipped_units == 0, view
        for shipment in view["shipments"]:
            for line in shipment["lines"]:
                allocated[(line["sku"], shipment["location"])] += line["qty"]
    # The order processor hears a decision once the worker's changelog write is acknowledged;
    # the table (read committed) has it once the worker's transaction commits, a commit
    # interval later: so the books are awaited, and must agree within the bound.
    table = wait_until(
        lambda: asyncio.run(read_table(market.settings)),
        lambda t: (
            _committed(t) == allocated
            and not any(h.startswith(HOLD_PREFIX) for s in t.values() for h in s.holds)
        ),
        timeout_s=60,
        what="committed units = allocated lines, and no order hold left pending in the ledger",
    )
    assert _committed(table) == allocated
    for state in table.values():
        for position in state.positions.values():
            assert position.on_hand - position.committed - position.reserved >= 0
    assert "tally_oversells_total 0.0" in worker.metrics_text()
    outcomes = Counter(view["status"] for view in views.values())
    assert outcomes["allocated"] > 0 and outcomes["refused"] > 0, outcomes  # stock was scarce


def test_two_hundred_orders_for_scarce_stock_are_all_decided_with_no_oversell(
    isolated: Settings, worker: WorkerProcess, order_processor: ChildOrderProcessor
) -> None:
    market = Market(isolated)
    market.stock_up()
    market.place(market.orders)
    client = redis_client(isolated)
    views = market.wait_all_settled(client)
    check_books(market, views, worker)
    flips = {r: s for r, s in market.settled_statuses_in_stream(client).items() if len(s) > 1}
    assert flips == {}


def test_an_order_processor_killed_mid_run_decides_each_order_once(
    isolated: Settings, worker: WorkerProcess, order_processor: ChildOrderProcessor
) -> None:
    kill_mid_run(isolated, worker, order_processor)


def test_under_exactly_once_an_order_processor_killed_mid_run_decides_each_order_once(
    isolated: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    """Its tables written in transactions (ChangelogSender.write), the kill aborts
    the open ones: the restarted processor replays from the last commit."""
    orders = isolated.orders.model_copy(update={"processing_guarantee": "exactly_once"})
    settings = isolated.model_copy(update={"orders": orders})
    process = ChildOrderProcessor(settings, tmp_path / "orders.log").start()
    try:
        process.wait_metrics_up()
        kill_mid_run(settings, worker, process)
    finally:
        process.stop()


def kill_mid_run(
    isolated: Settings, worker: WorkerProcess, order_processor: ChildOrderProcessor
) -> None:
    """Half the orders placed, the processor killed (-9) once some are decided, the rest
    placed while it is down: each order decided once, the books agree."""
    market = Market(isolated)
    market.stock_up()
    client = redis_client(isolated)
    market.place(market.orders[: ORDERS // 2])
    wait_until(
        lambda: sum(v["status"] in SETTLED for v in market.views(client).values()),
        lambda n: n >= ORDERS // 8,
        timeout_s=DECIDE_TIMEOUT_S,
        what="some orders decided before the kill",
    )
    order_processor.kill_hard()
    market.place(market.orders[ORDERS // 2 :])  # placed while it is down
    time.sleep(1.0)
    order_processor.start()
    order_processor.wait_metrics_up()
    views = market.wait_all_settled(client)
    check_books(market, views, worker)
    flips = {r: s for r, s in market.settled_statuses_in_stream(client).items() if len(s) > 1}
    assert flips == {}, "an order announced two different decisions"
