"""The gateway's promise reads, with Kafka and Redis faked: availability on a day ahead
(`?by=`), its bounds, and what it answers with nothing expected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from base.horizons import horizon_json
from ledger.orders.ids import order_ref
from ledger.policy import ChannelPolicy, LocationPolicy, PolicyBook, apply_policy
from ledger.promise.atp import Horizon
from tests.connectors.test_gateway import Gateway, build

TODAY = datetime.now(UTC).date()


def day(offset: int) -> date:
    return TODAY + timedelta(days=offset)


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    yield from build(tmp_path)


def by(gw: Gateway, when: date, sku: str = "SKU-1") -> dict[str, object]:
    reply = gw.get(f"/v1/availability/web/{sku}", "web", params={"by": when.isoformat()})
    assert reply.status_code == 200, reply.text
    body: dict[str, object] = reply.json()
    return body


def test_a_sold_out_sku_shows_its_receipt_date(gw: Gateway) -> None:
    gw.reads.ats_units[("web", "SKU-1")] = 0
    horizon = Horizon(day(0), day(14), ((day(0), 0), (day(3), 10)))
    gw.reads.horizons[("web", "SKU-1")] = horizon_json(horizon)
    assert by(gw, day(2))["available"] == 0
    on_the_day = by(gw, day(3))
    assert on_the_day == {
        "channel": "web",
        "sku": "SKU-1",
        "available": 10,
        "version": "2-1",
        "by": day(3).isoformat(),
        "through": day(14).isoformat(),
    }
    # without ?by= the reply is today's figure, shaped as before
    today = gw.get("/v1/availability/web/SKU-1", "web").json()
    assert today == {"channel": "web", "sku": "SKU-1", "available": 0, "version": "1-1"}


def test_with_nothing_expected_every_day_is_todays_figure(gw: Gateway) -> None:
    gw.reads.ats_units[("web", "SKU-1")] = 4
    assert by(gw, day(5))["available"] == 4
    gw.reads.horizons[("web", "SKU-1")] = horizon_json(Horizon(day(0), day(14), ()))
    assert by(gw, day(5)) == {
        "channel": "web",
        "sku": "SKU-1",
        "available": 4,
        "version": "1-1",
        "by": day(5).isoformat(),
    }


def test_an_unreadable_horizon_falls_back_to_today(gw: Gateway) -> None:
    gw.reads.ats_units[("web", "SKU-1")] = 2
    gw.reads.horizons[("web", "SKU-1")] = '{"first": "not a day"}'
    assert by(gw, day(1))["available"] == 2


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        (day(-2), f"before {day(-1).isoformat()}: availability by date looks ahead only"),
        (day(15), f"after {day(14).isoformat()}: beyond the 15-day horizon"),
    ],
)
def test_a_date_out_of_range_is_refused_by_name(gw: Gateway, when: date, reason: str) -> None:
    reply = gw.get("/v1/availability/web/SKU-1", "web", params={"by": when.isoformat()})
    assert reply.status_code == 422
    assert reply.json()["errors"] == [{"index": None, "field": "query.by", "reason": reason}]


def test_a_date_that_is_not_one_is_refused(gw: Gateway) -> None:
    reply = gw.get("/v1/availability/web/SKU-1", "web", params={"by": "2026-02-30"})
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "query.by"


# --- GET /v1/promise -------------------------------------------------------------------------

NOW = datetime.now(UTC)
NY = "America/New_York"


def promise_gateway(tmp_path: Path) -> Iterator[Gateway]:
    for gateway in build(tmp_path):
        catalog = gateway.client.app.state.gateway.catalog  # type: ignore[attr-defined]
        catalog.book = the_book()
        catalog.postal_codes = {"10001": (40.7506, -73.9972)}
        gateway.reads.loc_units = {"dc": {"TEE": 8}, "store": {"TEE": 2}, "far": {"TEE": 9}}
        yield gateway


def the_book() -> PolicyBook:
    records: list[ChannelPolicy | LocationPolicy] = [
        ChannelPolicy(
            channel="web",
            locations=("dc", "store", "far"),
            pickup_locations=("store",),
            version=1,
            updated_at=NOW,
        ),
        LocationPolicy(location="dc", latitude=40.73, longitude=-74.17, time_zone=NY,
                       version=1, updated_at=NOW),
        LocationPolicy(location="store", latitude=40.72, longitude=-74.0, time_zone=NY,
                       capabilities=("ship", "pickup"), processing_minutes=60,
                       version=1, updated_at=NOW),
        LocationPolicy(location="far", latitude=41.88, longitude=-87.63, time_zone=NY,
                       version=1, updated_at=NOW),
    ]  # fmt: skip
    book = PolicyBook()
    for record in records:
        book = apply_policy(book, record)
    return book


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Gateway]:
    yield from promise_gateway(tmp_path)


def test_a_promise_lists_the_locations_that_have_it_earliest_first(shop: Gateway) -> None:
    reply = shop.get("/v1/promise", "web", params={"sku": "TEE", "qty": 2, "to": "10001"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [o["location"] for o in body["options"]] == ["store", "dc", "far"]
    near, _, far = body["options"]
    assert near["distance_km"] == 3 and far["distance_km"] > 1_000
    assert date.fromisoformat(far["deliver_on"]) > date.fromisoformat(near["deliver_on"])
    assert body["earliest"] == near and body["back_in_stock_on"] is None
    three = shop.get("/v1/promise", "web", params={"sku": "TEE", "qty": 3, "to": "10001"})
    assert [o["location"] for o in three.json()["options"]] == ["dc", "far"]


def test_a_pickup_promise_has_a_ready_time(shop: Gateway) -> None:
    reply = shop.get("/v1/promise", "web", params={"sku": "TEE", "qty": 2, "pickup": "store"})
    (option,) = reply.json()["options"]  # the default rules: the pickup store only
    assert option["location"] == "store" and option["deliver_on"] is None
    ready = datetime.fromisoformat(option["ready_at"])
    assert ready >= NOW + timedelta(minutes=59)


def test_a_sold_out_sku_says_when_it_is_back(shop: Gateway) -> None:
    horizon = Horizon(day(0), day(14), ((day(0), 0), (day(3), 1), (day(5), 10)))
    shop.reads.horizons[("web", "CAP")] = horizon_json(horizon)
    body = shop.get("/v1/promise", "web", params={"sku": "CAP", "qty": 4, "to": "10001"}).json()
    assert (body["options"], body["earliest"]) == ([], None)
    assert body["back_in_stock_on"] == day(5).isoformat()


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"sku": "TEE"}, "query.to", "give one of `to` (a postal code) or `pickup` (a location)"),
        (
            {"sku": "TEE", "to": "10001", "pickup": "store"},
            "query.to",
            "give one of `to` (a postal code) or `pickup` (a location)",
        ),
        ({"sku": "TEE", "to": "99999"}, "query.to", "unknown postal code"),
        (
            {"sku": "TEE", "pickup": "dc"},
            "query.pickup",
            "channel 'web' does not hand over orders at 'dc'",
        ),
    ],
)
def test_a_promise_that_cannot_be_answered_says_why(
    shop: Gateway, params: dict[str, str], field: str, reason: str
) -> None:
    reply = shop.get("/v1/promise", "web", params=params)
    assert reply.status_code == 422
    assert reply.json()["errors"] == [{"index": None, "field": field, "reason": reason}]


def test_a_promise_is_bounded(shop: Gateway) -> None:
    too_many = shop.get("/v1/promise", "web", params={"sku": "TEE", "qty": 10_001, "to": "1"})
    assert too_many.status_code == 422
    other = shop.get("/v1/promise", "web", params={"sku": "TEE", "to": "1", "channel": "pos"})
    assert other.status_code == 403


def test_a_delivery_is_reported_with_its_day(gw: Gateway) -> None:
    ref = order_ref("web", "1001")
    shipment = {"location": "dc", "status": "shipped"}
    gw.reads.order_views[ref] = orjson.dumps(
        {"status": "completed", "shipments": [shipment]}
    ).decode()
    body = {"location": "dc", "delivered_on": day(-1).isoformat()}  # reported the day after
    path = "/v1/orders/1001/delivered?channel=web"
    reply = gw.post(path, "admin", json=body)
    assert reply.status_code == 202, reply.text
    (_, key, value) = gw.bus.produced[-1]
    record = orjson.loads(value)
    assert (key, record["type"], record["delivered_on"]) == (
        ref.encode(),
        "delivered",
        day(-1).isoformat(),
    )
    shipment["status"] = "allocated"
    gw.reads.order_views[ref] = orjson.dumps(
        {"status": "allocated", "shipments": [shipment]}
    ).decode()
    assert gw.post(path, "admin", json=body).status_code == 409


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (2, f"after {day(1).isoformat()}: a delivery day in the future"),
        (-91, f"before {day(-90).isoformat()}: reported more than 90 days after the delivery"),
    ],
)
def test_a_delivery_day_that_cannot_be_is_refused_by_name(
    gw: Gateway, offset: int, reason: str
) -> None:
    body = {"location": "dc", "delivered_on": day(offset).isoformat()}
    reply = gw.post("/v1/orders/1001/delivered?channel=web", "admin", json=body)
    assert reply.status_code == 422
    assert reply.json()["errors"] == [
        {"index": None, "field": "body.delivered_on", "reason": reason}
    ]
    assert gw.bus.produced == []


def test_a_location_in_an_unknown_time_zone_is_refused_by_name(gw: Gateway) -> None:
    body = {"time_zone": "Mars/Base", "cutoff_local": "14:00"}
    reply = gw.put("/v1/policy/locations/dc", "admin", json=body)
    assert reply.status_code == 422
    assert reply.json()["errors"] == [
        {
            "index": None,
            "field": "time_zone",
            "reason": "time_zone: unknown IANA time zone 'Mars/Base'",
        }
    ]
    assert gw.bus.produced == []
