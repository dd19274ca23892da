"""The order routes with Kafka, Redis and policy faked: placing (idempotent by order id),
every bad input refused with its field and nothing produced, reads, cancel, and shipment
reports only where the key may report and the shipment waits for it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from base.settings import GatewaySettings, Settings
from connectors.gateway import create_app
from ledger import limits
from ledger.orders.codec import decode_order_record
from ledger.orders.ids import order_ref
from ledger.orders.records import PlaceOrder
from ledger.policy import ChannelPolicy, LocationPolicy, PolicyBook
from tests.connectors.test_gateway_fakes import FakeBus, FakeCatalog, FakeReads, Keys, make_keys

NOW = datetime.now(UTC)
ORDERS = Settings().topics.orders


def book() -> PolicyBook:
    web = ChannelPolicy(
        channel="web",
        locations=("store-1", "dc-1"),
        pickup_locations=("store-1", "store-2"),
        max_shipments=2,
        version=1,
        updated_at=NOW,
    )
    no_pickup = LocationPolicy(
        location="store-2", capabilities=("ship",), version=1, updated_at=NOW
    )
    return PolicyBook(channels={"web": web}, locations={"store-2": no_pickup})


class Orders:
    def __init__(self, client: TestClient, bus: FakeBus, reads: FakeReads, keys: Keys) -> None:
        self.client, self.bus, self.reads, self.keys = client, bus, reads, keys

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=self.keys.bearer(who), **kwargs)

    def placed(self) -> list[Any]:
        return [
            decode_order_record(value) for topic, _, value in self.bus.produced if topic == ORDERS
        ]


@pytest.fixture
def orders(tmp_path: Path) -> Iterator[Orders]:
    keys = make_keys(tmp_path / "keys.json")
    bus, reads = FakeBus(), FakeReads()
    catalog = FakeCatalog(
        book=book(),
        known_skus={("web", "SKU-1"), ("web", "SKU-2")},
        postal_codes={"10001": (40.75, -73.99)},
    )
    app = create_app(
        Settings(gateway=GatewaySettings()), bus=bus, reads=reads, keys=keys.store, catalog=catalog
    )
    with TestClient(app) as client:
        yield Orders(client, bus, reads, keys)


def order(**fields: Any) -> dict[str, Any]:
    return {
        "order_id": "1001",
        "lines": [{"sku": "SKU-1", "qty": 2}, {"sku": "SKU-2", "qty": 1}],
        "delivery": {"mode": "ship", "latitude": 40.7, "longitude": -74.0},
        **fields,
    }


def test_an_order_is_placed_on_its_own_log_with_the_channel_defaults(orders: Orders) -> None:
    reply = orders.call("POST", "/v1/orders", "web", json=order())
    assert reply.status_code == 202, reply.text
    ref = order_ref("web", "1001")
    assert reply.json() == {
        "order_id": "1001",
        "ref": ref,
        "status": "placed",
        "url": "/v1/orders/1001?channel=web",
    }
    ((topic, key, _),) = orders.bus.produced
    assert (topic, key) == (ORDERS, ref.encode())
    (record,) = orders.placed()
    assert isinstance(record, PlaceOrder)
    assert (record.channel, record.max_shipments, record.allow_partial) == ("web", 2, False)
    assert [(line.sku, line.qty) for line in record.lines] == [("SKU-1", 2), ("SKU-2", 1)]


def test_placing_again_is_safe_and_another_body_under_the_same_id_is_409(orders: Orders) -> None:
    orders.call("POST", "/v1/orders", "web", json=order())
    (record,) = orders.placed()
    view = {"status": "allocated", "digest": record.digest}
    orders.reads.order_views[record.ref] = orjson.dumps(view).decode()
    again = orders.call("POST", "/v1/orders", "web", json=order())
    assert again.status_code == 202 and again.json()["status"] == "allocated"
    other = orders.call("POST", "/v1/orders", "web", json=order(lines=[{"sku": "SKU-1", "qty": 9}]))
    assert other.status_code == 409
    assert len(orders.placed()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (order(lines=[{"sku": "NOPE", "qty": 1}]), "lines.0.sku"),
        (order(lines=[{"sku": "SKU-1", "qty": 0}]), "body.lines.0.qty"),
        (
            order(lines=[{"sku": "SKU-1", "qty": limits.ORDER_LINE_UNITS_MAX + 1}]),
            "body.lines.0.qty",
        ),
        (
            order(lines=[{"sku": f"S{i}", "qty": 1} for i in range(limits.ORDER_LINES_MAX + 1)]),
            "body.lines",
        ),
        (order(lines=[]), "body.lines"),
        (order(delivery={"mode": "pickup", "location": "store-9"}), "delivery.location"),
        (order(delivery={"mode": "pickup", "location": "store-2"}), "delivery.location"),
        (
            order(delivery={"mode": "ship_to_postal_code", "postal_code": "99999"}),
            "delivery.postal_code",
        ),
        (
            order(delivery={"mode": "ship", "latitude": 91, "longitude": 0}),
            "body.delivery.ship.latitude",
        ),
        (order(max_shipments=limits.ORDER_SHIPMENTS_MAX + 1), "body.max_shipments"),
    ],
)
def test_bad_orders_are_422_with_the_field_and_nothing_is_produced(
    orders: Orders, body: dict[str, Any], field: str
) -> None:
    reply = orders.call("POST", "/v1/orders", "web", json=body)
    assert reply.status_code == 422, reply.text
    assert field in [error["field"] for error in reply.json()["errors"]]
    assert orders.bus.produced == []


def test_a_sku_listed_twice_and_an_unknown_channel_are_refused(orders: Orders) -> None:
    twice = order(lines=[{"sku": "SKU-1", "qty": 1}, {"sku": "SKU-1", "qty": 1}])
    assert orders.call("POST", "/v1/orders", "web", json=twice).status_code == 422
    unknown = orders.call("POST", "/v1/orders?channel=pos", "admin", json=order())
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "channel"
    assert orders.bus.produced == []


def test_a_pickup_and_a_postal_code_are_placed_where_they_resolve(orders: Orders) -> None:
    pickup = order(order_id="p", delivery={"mode": "pickup", "location": "store-1"})
    assert orders.call("POST", "/v1/orders", "web", json=pickup).status_code == 202
    postal = order(order_id="z", delivery={"mode": "ship_to_postal_code", "postal_code": "100 01"})
    assert orders.call("POST", "/v1/orders", "web", json=postal).status_code == 202
    first, second = orders.placed()
    assert first.delivery.model_dump() == {"mode": "pickup", "location": "store-1"}
    assert (second.delivery.latitude, second.delivery.postal_code) == (40.75, "10001")


def test_a_key_places_orders_for_its_own_channel_only(orders: Orders) -> None:
    assert orders.call("POST", "/v1/orders?channel=web", "pos", json=order()).status_code == 403
    assert orders.call("POST", "/v1/orders", "scanner", json=order()).status_code == 403
    assert orders.call("POST", "/v1/orders", "admin", json=order()).status_code == 403  # no channel
    assert orders.call("POST", "/v1/orders?channel=web", "admin", json=order()).status_code == 202


def _with_view(orders: Orders, shipments: list[dict[str, Any]], status: str = "allocated") -> str:
    ref = order_ref("web", "1001")
    view = {
        "ref": ref,
        "channel": "web",
        "order_id": "1001",
        "status": status,
        "digest": "d",
        "lines": [{"sku": "SKU-1", "qty": 2}],
        "delivery": {"mode": "ship", "latitude": 40.7, "longitude": -74.0, "postal_code": None},
        "shipments": shipments,
        "unfilled": [],
        "rejections": [],
        "plans": [],
        "version": 3,
        "placed_at": NOW.isoformat(),
        "updated_at": NOW.isoformat(),
    }
    orders.reads.order_views[ref] = orjson.dumps(view).decode()
    return ref


def test_an_order_is_read_and_an_unknown_one_is_404(orders: Orders) -> None:
    assert orders.call("GET", "/v1/orders/1001", "web").status_code == 404
    _with_view(orders, [])
    assert orders.call("GET", "/v1/orders/1001", "web").json()["status"] == "allocated"
    assert orders.call("GET", "/v1/orders/1001", "pos").status_code == 404  # another channel's id
    assert orders.call("GET", "/v1/orders/1001?channel=web", "admin").status_code == 200


def test_cancel_needs_the_order_and_not_after_it_shipped(orders: Orders) -> None:
    assert orders.call("POST", "/v1/orders/1001/cancel", "web", json={}).status_code == 404
    _with_view(orders, [], status="completed")
    assert orders.call("POST", "/v1/orders/1001/cancel", "web", json={}).status_code == 409
    _with_view(orders, [])
    reply = orders.call("POST", "/v1/orders/1001/cancel", "web", json={"reason": "changed mind"})
    assert reply.status_code == 202
    assert orders.placed()[-1].type == "cancel"


def test_a_pick_rejection_comes_from_that_store_or_admin_for_a_waiting_shipment(
    orders: Orders,
) -> None:
    _with_view(orders, [{"location": "store-1", "status": "allocated", "lines": []}])
    body = {"location": "store-1", "reason": "not_found"}
    path = "/v1/orders/1001/rejections?channel=web"
    elsewhere = {"location": "store-2", "reason": "damaged"}
    assert orders.call("POST", path, "scanner-store-1", json=elsewhere).status_code == 403
    assert orders.call("POST", path, "admin", json=elsewhere).status_code == 409  # none there
    assert orders.call("POST", path, "scanner-store-1", json=body).status_code == 202
    assert orders.placed()[-1].type == "reject_pick"
    _with_view(orders, [{"location": "store-1", "status": "shipped", "lines": []}])
    assert orders.call("POST", path, "admin", json=body).status_code == 409


def test_picked_and_shipped_follow_the_shipment(orders: Orders) -> None:
    _with_view(orders, [{"location": "store-1", "status": "allocated", "lines": []}])
    body = {"location": "store-1"}
    assert (
        orders.call("POST", "/v1/orders/1001/picked?channel=web", "admin", json=body).status_code
        == 202
    )
    assert (
        orders.call("POST", "/v1/orders/1001/shipped?channel=web", "admin", json=body).status_code
        == 202
    )
    assert [r.type for r in orders.placed()] == ["picked", "shipped"]


def test_a_location_record_is_set_by_admin_only(orders: Orders) -> None:
    body = {
        "location_type": "store",
        "coordinates": {"latitude": 40.72, "longitude": -73.99},
        "capabilities": ["ship", "pickup"],
        "daily_order_capacity": 10,
        "cutoff_local": "14:00",
        "time_zone": "America/New_York",
        "holidays": ["2026-12-25"],
    }
    assert orders.call("PUT", "/v1/policy/locations/store-1", "web", json=body).status_code == 403
    reply = orders.call("PUT", "/v1/policy/locations/store-1", "admin", json=body)
    assert reply.status_code == 202, reply.text
    record = reply.json()
    assert (record["latitude"], record["cutoff_local"], record["holidays"]) == (
        40.72,
        "14:00",
        ["2026-12-25"],
    )
    ((_, key, value),) = orders.bus.produced
    assert (
        key == b"location:store-1"
        and LocationPolicy.model_validate_json(value).daily_order_capacity == 10
    )
    bad = orders.call(
        "PUT", "/v1/policy/locations/store-1", "admin", json={**body, "time_zone": "Mars/Base"}
    )
    assert bad.status_code == 422
