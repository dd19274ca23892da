"""The order processor on the real stack: allocate, split, re-route a pick rejection, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from base import redis_keys
from base.settings import Settings
from ledger.codec import encode
from ledger.orders.ids import order_ref
from ledger.orders.records import CancelOrder, OrderLine, PlaceOrder, RejectPick, ShipTo
from ops.child_worker import ChildOrderProcessor
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, now_iso, produce, produce_json
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration
NYC = (40.71, -74.0)
PLACES = {"east": (40.7, -74.0), "west": (34.05, -118.24), "north": (47.6, -122.33)}


@pytest.fixture
def order_processor(
    isolated: Settings, worker: WorkerProcess, tmp_path: Path
) -> Iterator[ChildOrderProcessor]:
    process = ChildOrderProcessor(isolated, tmp_path / "orders.log").start()
    try:
        process.wait_metrics_up()
        yield process
    finally:
        process.stop()


def location_record(
    location: str, coordinates: tuple[float, float], **extra: Any
) -> dict[str, Any]:
    return {
        "kind": "location",
        "location": location,
        "latitude": coordinates[0],
        "longitude": coordinates[1],
        "version": 1,
        "updated_at": now_iso(),
        **extra,
    }


def place(channel: str, order_id: str, lines: dict[str, int]) -> PlaceOrder:
    return PlaceOrder(
        ref=order_ref(channel, order_id),
        issued_at=datetime.now(UTC),
        channel=channel,
        order_id=order_id,
        lines=tuple(OrderLine(sku=sku, qty=qty) for sku, qty in lines.items()),
        delivery=ShipTo(latitude=NYC[0], longitude=NYC[1]),
        max_shipments=3,
        allow_partial=False,
        digest="test",
    )


def send_orders(settings: Settings, *records: Any) -> None:
    asyncio.run(
        produce(settings, settings.topics.orders, [(r.ref.encode(), encode(r)) for r in records])
    )


def order_view(
    settings: Settings, ref: str, status: str, timeout_s: float = 60.0
) -> dict[str, Any]:
    client = redis_client(settings)

    def read() -> dict[str, Any] | None:
        raw = client.hget(redis_keys.order_key(ref), "view")
        return None if raw is None else orjson.loads(raw)

    view = wait_until(
        read,
        lambda v: v is not None and v["status"] == status,
        timeout_s=timeout_s,
        what=f"order {ref} {status}",
    )
    assert view is not None
    return view


def test_orders_are_routed_split_rerouted_and_cancelled(
    isolated: Settings, order_processor: ChildOrderProcessor
) -> None:
    channel = unique("web")
    names = {key: unique(key) for key in PLACES}
    a, b = unique("A"), unique("B")
    policy = [location_record(names[k], PLACES[k]) for k in PLACES]
    asyncio.run(produce_json(isolated, isolated.topics.policy, policy, "location"))
    asyncio.run(
        produce_json(
            isolated,
            isolated.topics.policy,
            [channel_policy(channel, [names["east"], names["west"], names["north"]])],
            "channel",
        )
    )
    stock = [(a, "east", 2), (a, "west", 5), (b, "west", 1), (b, "north", 3)]
    asyncio.run(
        produce_json(
            isolated,
            isolated.topics.events,
            [fact(unique("e"), "received", sku, names[loc], qty) for sku, loc, qty in stock],
        )
    )
    client = redis_client(isolated)
    for sku, loc, qty in stock:
        wait_for_figure(client, redis_keys.loc_key(names[loc]), sku, str(qty))

    both = place(channel, "1001", {a: 2, b: 1})
    send_orders(isolated, both)
    view = order_view(isolated, both.ref, "allocated")
    assert [(s["location"], s["status"]) for s in view["shipments"]] == [
        (names["west"], "allocated")
    ]
    assert view["plans"][0]["rankings"][0]["rule"] == "pickup_location_only"
    wait_for_figure(client, redis_keys.loc_key(names["west"]), a, "3")

    near = place(channel, "1002", {a: 2})
    send_orders(isolated, near)
    view = order_view(isolated, near.ref, "allocated")
    assert [s["location"] for s in view["shipments"]] == [names["east"]]

    rejection = RejectPick(
        ref=near.ref, issued_at=datetime.now(UTC), location=names["east"], reason="not_found"
    )
    send_orders(isolated, rejection)
    view = wait_until(
        lambda: orjson.loads(client.hget(redis_keys.order_key(near.ref), "view") or b"{}"),
        lambda v: v.get("status") == "allocated" and len(v.get("shipments", [])) == 2,
        timeout_s=60,
        what="the rejected shipment re-routed",
    )
    statuses = {s["location"]: s["status"] for s in view["shipments"]}
    assert statuses == {names["east"]: "rejected", names["west"]: "allocated"}
    assert view["rejections"][0]["reason"] == "not_found"
    task = client.hget(redis_keys.count_tasks_key(names["east"]), a)
    assert task is not None and orjson.loads(task)["reason"] == "not_found"
    wait_for_figure(client, redis_keys.loc_key(names["west"]), a, "1")

    send_orders(isolated, CancelOrder(ref=both.ref, issued_at=datetime.now(UTC)))
    order_view(isolated, both.ref, "cancelled")
    wait_for_figure(client, redis_keys.loc_key(names["west"]), a, "3")
    wait_for_figure(client, redis_keys.loc_key(names["west"]), b, "1")
