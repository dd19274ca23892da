"""The order processor on the real stack: allocate, split, re-route a pick rejection, cancel;
and the order KPIs it exports for an order filled, one split and one rejected at pick."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from base import redis_keys
from base.settings import Settings
from connectors.inspect.top import parse_samples
from ledger.codec import encode
from ledger.orders.ids import order_ref
from ledger.orders.records import CancelOrder, OrderLine, PlaceOrder, RejectPick, ShipTo
from ops.child_worker import ChildOrderProcessor
from tests.ops.test_cli_ledger import run_json
from tests.support.isolation import unique
from tests.support.kafka_io import channel_policy, fact, now_iso, produce, produce_json, read_all
from tests.support.waiting import redis_client, wait_for_figure, wait_until
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.integration
NYC = (40.71, -74.0)
PLACES = {"east": (40.7, -74.0), "west": (34.05, -118.24), "north": (47.6, -122.33)}


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

    # where the batches went: every batch of the two agents these orders passed through timed
    # in each phase (read in one scrape, once no batch is half done)
    def batches_and_phases() -> dict[str, tuple[float | None, list[float | None]]]:
        samples = parse_samples(order_processor.metrics_text())
        return {
            agent: (
                samples.get((f"{RECORDS}_count", (("agent", agent),))),
                [samples.get((PHASE_COUNT, (("agent", agent), ("phase", p)))) for p in phases],
            )
            for agent, phases in BATCH_PHASES.items()
        }

    wait_until(
        batches_and_phases,
        lambda seen: all(n and all(t == n for t in timed) for n, timed in seen.values()),
        timeout_s=30,
        what="each agent's batches counted with every phase timed",
    )


RECORDS = "tally_order_batch_records"
PHASE_COUNT = "tally_order_batch_phase_seconds_count"
BATCH_PHASES = {
    "orders": ("fold", "plan", "send", "write", "publish"),
    "decisions": ("route", "send"),
}


# --- the order KPIs, counted by the real order processor ------------------------------------

HANDLING = {"east": (150, 40), "west": (200, 10), "north": (100, 0)}  # per order, per unit
REQUESTED = "tally_pick_requested_units_total"
REJECTED = "tally_pick_rejected_units_total"


def order_metric(process: ChildOrderProcessor, name: str, **labels: str) -> float | None:
    """A sample of the order processor's /metrics (None: the series does not exist)."""
    return parse_samples(process.metrics_text()).get((name, tuple(sorted(labels.items()))))


def stock_three_locations(
    settings: Settings, channel: str, names: dict[str, str]
) -> tuple[str, str]:
    """A at east (3) and west (5), B at north (3); each location's handling costs."""
    a, b = unique("A"), unique("B")
    policy = [
        location_record(
            names[k],
            PLACES[k],
            handling_cost_per_order_cents=HANDLING[k][0],
            handling_cost_per_unit_cents=HANDLING[k][1],
        )
        for k in PLACES
    ]
    asyncio.run(produce_json(settings, settings.topics.policy, policy, "location"))
    pool = [names["east"], names["west"], names["north"]]
    channels = [channel_policy(channel, pool)]
    asyncio.run(produce_json(settings, settings.topics.policy, channels, "channel"))
    stock = [(a, "east", 3), (a, "west", 5), (b, "north", 3)]
    facts = [fact(unique("e"), "received", sku, names[loc], qty) for sku, loc, qty in stock]
    asyncio.run(produce_json(settings, settings.topics.events, facts))
    client = redis_client(settings)
    for sku, loc, qty in stock:
        wait_for_figure(client, redis_keys.loc_key(names[loc]), sku, str(qty))
    return a, b


def test_the_order_kpis_count_an_order_filled_one_split_and_one_rejected_at_pick(
    isolated: Settings, order_processor: ChildOrderProcessor
) -> None:
    channel = unique("web")
    names = {key: unique(key) for key in PLACES}
    a, b = stock_three_locations(isolated, channel, names)

    filled = place(channel, "F", {a: 1})  # east: the closest with A
    split = place(channel, "S", {a: 1, b: 1})  # no location has both: east + north
    rejected = place(channel, "R", {a: 1})  # east, which cannot pick it: re-routed to west
    for order, shipments in ((filled, ["east"]), (split, ["east", "north"]), (rejected, ["east"])):
        send_orders(isolated, order)
        view = order_view(isolated, order.ref, "allocated")
        assert sorted(s["location"] for s in view["shipments"]) == [names[k] for k in shipments]
    send_orders(
        isolated,
        RejectPick(
            ref=rejected.ref, issued_at=datetime.now(UTC), location=names["east"], reason="damaged"
        ),
    )
    wait_until(
        lambda: order_metric(order_processor, REQUESTED, location=names["west"]),
        lambda units: units == 1,
        timeout_s=60,
        what="the re-routed shipment asked of west",
    )

    # east: 150 + 40 x 1 + 500 (1 km); north: 100 + 0 + 2,000 (beyond 1,000 km)
    east, north = 150 + 40 + 500, 100 + 2_000
    by_channel = {
        "tally_orders_decided_total": 3,
        "tally_order_units_ordered_total": 4,
        "tally_order_units_filled_total": 4,
        "tally_orders_sourced_total": 3,
        "tally_order_shipments_total": 4,
        "tally_order_cost_cents_total": east + (east + north) + east,
    }
    for name, value in by_channel.items():
        assert order_metric(order_processor, name, channel=channel) == value, name
    picks = {"east": (3, 1), "north": (1, 0), "west": (1, 0)}  # (requested, rejected)
    for short, (asked, refused) in picks.items():
        where = names[short]
        assert order_metric(order_processor, REQUESTED, location=where) == asked, short
        # every location the policy names has its series, at 0 until it rejects a pick
        assert order_metric(order_processor, REJECTED, location=where) == refused, short

    url = f"http://127.0.0.1:{isolated.orders.metrics_port}/metrics"
    body = run_json(isolated, "kpi", "--source", "metrics", "--metrics-url", url)
    (fill,) = [row for row in body["sections"]["fill_rate"] if row["channel"] == channel]
    assert (fill["units_ordered"], fill["fill_rate"], fill["meets_target"]) == (4, 1.0, True)
    (spl,) = [row for row in body["sections"]["split_rate"] if row["channel"] == channel]
    assert spl["shipments_per_order"] == 4 / 3
    (cost,) = [row for row in body["sections"]["cost_per_order"] if row["channel"] == channel]
    assert cost["cents_per_order"] == (3 * east + north) / 3
    (east_picks,) = [
        row for row in body["sections"]["pick_rejection_rate"] if row["location"] == names["east"]
    ]
    assert east_picks["rejection_rate"] == 1 / 3


# --- under exactly_once -----------------------------------------------------------------


def test_under_exactly_once_the_order_and_capacity_tables_commit_in_transactions(
    isolated: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    """TALLY_ORDERS__PROCESSING_GUARANTEE=exactly_once: an order is routed, and its state and
    the capacity slot it took reach the tables' changelogs through the transactions
    (ChangelogSender.write), readable once committed."""
    orders = isolated.orders.model_copy(update={"processing_guarantee": "exactly_once"})
    settings = isolated.model_copy(update={"orders": orders})
    process = ChildOrderProcessor(settings, tmp_path / "orders.log").start()
    try:
        process.wait_metrics_up()
        channel, east, sku = unique("web"), unique("east"), unique("A")
        policy = [location_record(east, PLACES["east"], daily_order_capacity=5)]
        asyncio.run(produce_json(settings, settings.topics.policy, policy, "location"))
        channels = [channel_policy(channel, [east])]
        asyncio.run(produce_json(settings, settings.topics.policy, channels, "channel"))
        asyncio.run(
            produce_json(
                settings, settings.topics.events, [fact(unique("e"), "received", sku, east, 2)]
            )
        )
        wait_for_figure(redis_client(settings), redis_keys.loc_key(east), sku, "2")

        order = place(channel, "EOS", {sku: 1})
        send_orders(settings, order)
        order_view(settings, order.ref, "allocated")
        committed = committed_rows(settings, "orders", lambda row: row.get("ref") == order.ref)
        assert committed[-1]["status"] == "allocated"
        slots = committed_rows(settings, "capacity", lambda row: row.get("location") == east)
        assert slots[-1]["refs"] == [order.ref]
    finally:
        process.stop()


def committed_rows(settings: Settings, table: str, wanted: Any) -> list[dict[str, Any]]:
    """The `wanted` rows of an order processor table's changelog, as committed, once any."""
    topic = f"{settings.orders.app_id}-{table}-changelog"
    rows = wait_until(
        lambda: [row for row in asyncio.run(read_all(settings, topic)) if wanted(row)],
        bool,
        timeout_s=60,
        what=f"a committed row in {topic}",
    )
    assert rows
    return rows
