"""`simulate`: past orders re-planned under other rules, against the stock they saw."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.orders.records import (
    OrderLine,
    PlaceOrder,
    Planned,
    PlannedShipment,
    ShipTo,
)
from ledger.orders.simulate import simulate
from ledger.policy import ChannelPolicy, LocationPolicy, PolicyBook

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def book() -> PolicyBook:
    def location(name: str, lat: float, lon: float, per_unit: int) -> LocationPolicy:
        return LocationPolicy(
            location=name,
            latitude=lat,
            longitude=lon,
            handling_cost_per_unit_cents=per_unit,
            version=1,
            updated_at=NOW,
        )

    channel = ChannelPolicy(
        channel="web",
        locations=("near", "far"),
        sourcing_rules=("fewest_shipments", "closest"),
        version=1,
        updated_at=NOW,
    )
    return PolicyBook(
        channels={"web": channel},
        locations={
            "near": location("near", 40.7, -74.0, 300),
            "far": location("far", 41.9, -87.6, 10),
        },
    )


def order(order_id: str, happened_at: str) -> tuple[PlaceOrder, Planned]:
    place = PlaceOrder(
        ref=f"o{order_id}",
        issued_at=NOW,
        channel="web",
        order_id=order_id,
        lines=(OrderLine(sku="A", qty=10),),
        delivery=ShipTo(latitude=40.71, longitude=-74.0),
        max_shipments=3,
        allow_partial=False,
        digest="d",
    )
    planned = Planned(
        ref=place.ref,
        issued_at=NOW,
        plan_seq=1,
        shipments=(
            PlannedShipment(
                location=happened_at,
                lines=(OrderLine(sku="A", qty=10),),
                capacity_day=NOW.date(),
            ),
        ),
        locations=(happened_at,),
        unfilled=(),
        rankings=(),
        candidates_considered=2,
        truncated=False,
        stock_seen={"A": {"near": 10, "far": 10}},
    )
    return place, planned


def test_a_cost_first_rule_moves_orders_to_the_cheaper_location_and_counts_the_change() -> None:
    report = simulate([order("1", "near"), order("2", "near")], book(), ("lowest_cost",))
    assert report.changed == 2
    first = report.orders[0]
    assert first.happened.locations == ("near",) and first.simulated.locations == ("far",)
    # near: 10 x 300 + 500 (first band); far (1,145 km): 10 x 10 + 2,000 (beyond 1,000 km)
    assert (first.happened.cost_cents, first.simulated.cost_cents) == (3_500, 2_100)
    assert first.simulated.km > 1_000 > first.happened.km
    assert report.happened.cost_cents == 7_000 and report.simulated.cost_cents == 4_200
    assert report.happened.split_orders == report.simulated.split_orders == 0


def test_the_same_rules_change_nothing() -> None:
    report = simulate([order("1", "near")], book(), {"web": ("fewest_shipments", "closest")})
    assert report.changed == 0
    assert report.orders[0].simulated == report.orders[0].happened
