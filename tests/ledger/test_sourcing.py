"""The sourcing planner: stock bounds, fewest shipments against brute force, determinism,
explanations, and one story per rule."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.sourcing import Line, PlanRequest, Shipment, Site, plan

SKUS = ("A", "B", "C")


def sites(*names: str, **overrides: Mapping[str, object]) -> dict[str, Site]:
    made = {}
    for priority, name in enumerate(names):
        fields: dict[str, object] = {"location": name, "priority": priority}
        fields.update(overrides.get(name, {}))
        made[name] = Site(**fields)  # type: ignore[arg-type]
    return made


@st.composite
def instances(draw: st.DrawFn) -> PlanRequest:
    location_count = draw(st.integers(1, 6))
    names = tuple(f"L{i}" for i in range(location_count))
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3, unique=True))
    lines = tuple(Line(sku, draw(st.integers(1, 6))) for sku in skus)
    stock = {
        sku: {name: draw(st.integers(0, 6)) for name in names if draw(st.booleans())}
        for sku in skus
    }
    return PlanRequest(
        lines=lines,
        stock=stock,
        sites=sites(*names),
        rules=("fewest_shipments",),
        max_shipments=draw(st.integers(1, 4)),
        allow_partial=draw(st.booleans()),
    )


def brute_force_fewest(request: PlanRequest) -> int | None:
    """The fewest locations whose stock covers every line (reference: no planner code)."""
    names = sorted(request.sites)
    for size in range(1, request.max_shipments + 1):
        for chosen in itertools.combinations(names, size):
            if all(
                sum(max(0, request.stock.get(line.sku, {}).get(n, 0)) for n in chosen) >= line.qty
                for line in request.lines
            ):
                return size
    return None


@settings(max_examples=300, deadline=None)
@given(instances())
def test_a_plan_never_takes_more_than_the_stock_it_was_given(request: PlanRequest) -> None:
    result = plan(request)
    taken: dict[tuple[str, str], int] = {}
    for shipment in result.shipments:
        for line in shipment.lines:
            assert line.qty > 0
            key = (line.sku, shipment.location)
            taken[key] = taken.get(key, 0) + line.qty
    for (sku, location), units in taken.items():
        assert units <= request.stock[sku][location]
    for line in request.lines:
        planned = sum(u for (sku, _), u in taken.items() if sku == line.sku)
        unfilled = sum(u.qty for u in result.unfilled if u.sku == line.sku)
        assert planned + unfilled == line.qty
    assert len(result.locations) <= request.max_shipments


@settings(max_examples=300, deadline=None)
@given(instances())
def test_fewest_shipments_matches_a_brute_force_optimum(request: PlanRequest) -> None:
    complete_only = replace(request, allow_partial=False)
    result = plan(complete_only)
    best = brute_force_fewest(complete_only)
    if best is None:
        assert not result.found and result.unfilled == complete_only.lines
    else:
        assert result.complete and len(result.locations) == best


@settings(max_examples=100, deadline=None)
@given(instances(), st.randoms())
def test_a_plan_is_deterministic_whatever_the_order_of_its_inputs(
    request: PlanRequest, rng: random.Random
) -> None:
    names = list(request.sites)
    rng.shuffle(names)
    shuffled = replace(request, sites={n: request.sites[n] for n in names})
    assert plan(shuffled) == plan(request)


def test_the_explanation_lists_every_rules_ranking() -> None:
    request = PlanRequest(
        lines=(Line("A", 2),),
        stock={"A": {"near": 2, "far": 5}},
        sites=sites(
            "far",
            "near",
            far={"latitude": 40.0, "longitude": -100.0},
            near={"latitude": 40.7, "longitude": -74.0},
        ),
        rules=(
            "pickup_location_only",
            "exclude_over_capacity",
            "fewest_shipments",
            "closest",
            "location_priority",
        ),
        destination=(40.71, -74.01),
    )
    result = plan(request)
    assert [r.rule for r in result.rankings] == [
        "pickup_location_only",
        "exclude_over_capacity",
        "fills_every_line",  # the order must be filled whole: incomplete candidates go
        "fewest_shipments",
        "closest",
        "location_priority",
    ]
    closest = next(r for r in result.rankings if r.rule == "closest")
    assert closest.seen == 2 and closest.kept == 1
    assert closest.ranked[0].locations == ("near",)
    assert closest.ranked[0].score < closest.ranked[1].score  # type: ignore[operator]
    assert result.locations == ("near",)


def test_closest_beats_priority_and_priority_breaks_a_distance_tie() -> None:
    here = {"latitude": 51.5, "longitude": -0.12}
    request = PlanRequest(
        lines=(Line("A", 1),),
        stock={"A": {"first": 1, "second": 1, "third": 1}},
        sites=sites(
            "first",
            "second",
            "third",
            second=here,
            third=here,
            first={"latitude": 48.85, "longitude": 2.35},
        ),
        rules=("closest", "location_priority"),
        destination=(51.5, -0.12),
    )
    assert plan(request).locations == ("second",)


def test_fewest_shipments_prefers_one_store_that_has_everything() -> None:
    request = PlanRequest(
        lines=(Line("A", 2), Line("B", 1)),
        stock={"A": {"dc": 2, "store": 2}, "B": {"other": 1, "store": 1}},
        sites=sites("dc", "other", "store"),
        rules=("fewest_shipments", "location_priority"),
    )
    result = plan(request)
    assert result.locations == ("store",)
    assert result.shipments == (Shipment("store", (Line("A", 2), Line("B", 1))),)


def test_a_split_when_no_single_location_has_it_all_and_none_when_ship_complete() -> None:
    request = PlanRequest(
        lines=(Line("A", 5),),
        stock={"A": {"x": 3, "y": 2}},
        sites=sites("x", "y"),
        rules=("fewest_shipments",),
    )
    split = plan(request)
    assert sorted(split.locations) == ["x", "y"] and split.complete
    complete_only = plan(replace(request, max_shipments=1))
    assert not complete_only.found and complete_only.unfilled == (Line("A", 5),)


def test_a_partial_order_fills_what_it_can() -> None:
    request = PlanRequest(
        lines=(Line("A", 5), Line("B", 1)),
        stock={"A": {"x": 3}, "B": {}},
        sites=sites("x"),
        rules=("fewest_shipments",),
        allow_partial=True,
    )
    result = plan(request)
    assert result.shipments == (Shipment("x", (Line("A", 3),)),)
    assert result.unfilled == (Line("A", 2), Line("B", 1))
    assert result.rankings[0].rule == "fill_most"


def test_lowest_cost_weighs_handling_and_shipping_bands() -> None:
    request = PlanRequest(
        lines=(Line("A", 10),),
        stock={"A": {"cheap-far": 10, "dear-near": 10}},
        sites=sites(
            "dear-near",
            "cheap-far",
            **{
                "dear-near": {"latitude": 0.0, "longitude": 0.0, "handling_per_unit_cents": 100},
                "cheap-far": {"latitude": 0.0, "longitude": 5.0, "handling_per_unit_cents": 10},
            },
        ),
        rules=("lowest_cost",),
        destination=(0.0, 0.0),
    )
    result = plan(request)
    # near: 1,000 handling + 500 (0-50 km band); far (556 km): 100 handling + 1,200
    assert result.locations == ("cheap-far",)
    ranking = result.rankings[-1]
    assert ranking.rule == "lowest_cost"
    assert [r.score for r in ranking.ranked] == [100 + 1_200, 1_000 + 500]


def test_a_location_without_capacity_is_excluded_or_ranked_down_by_rule() -> None:
    base = PlanRequest(
        lines=(Line("A", 1),),
        stock={"A": {"full": 1, "free": 1}},
        sites=sites("full", "free", full={"capacity_left": 0}),
    )
    excluded = replace(base, rules=("exclude_over_capacity", "location_priority"))
    assert plan(excluded).locations == ("free",)
    assert plan(replace(base, rules=("location_priority",))).locations == ("full",)
    ranked_down = replace(base, rules=("prefer_capacity", "location_priority"))
    assert plan(ranked_down).locations == ("free",)
    only_full = replace(excluded, stock={"A": {"full": 1}})
    assert not plan(only_full).found


def test_a_pickup_order_is_filled_at_its_pickup_store_only() -> None:
    request = PlanRequest(
        lines=(Line("A", 2),),
        stock={"A": {"store": 1, "dc": 5}},
        sites=sites("dc", "store", store={"can_pickup": True}),
        rules=("pickup_location_only", "fewest_shipments"),
        pickup_location="store",
    )
    assert not plan(request).found
    stocked = replace(request, stock={"A": {"store": 2, "dc": 5}})
    assert plan(stocked).locations == ("store",)


def test_a_replan_keeps_fixed_shipments_and_avoids_what_failed() -> None:
    request = PlanRequest(
        lines=(Line("B", 2),),
        stock={"B": {"held": 2, "other": 2, "third": 2}},
        sites=sites("held", "other", "third"),
        rules=("fewest_shipments", "location_priority"),
        fixed=(Shipment("held", (Line("A", 1),)),),
        excluded=frozenset({("B", "held")}),
        max_shipments=2,
    )
    result = plan(request)
    assert result.locations == ("held", "other")
    assert result.shipments == (Shipment("other", (Line("B", 2),)),)
    no_room = plan(replace(request, max_shipments=1))
    assert not no_room.found and no_room.locations == ("held",)


def test_the_search_bound_is_reported() -> None:
    names = tuple(f"L{i:02d}" for i in range(20))
    request = PlanRequest(
        lines=(Line("A", 3),),
        stock={"A": dict.fromkeys(names, 1)},
        sites=sites(*names),
        rules=("fewest_shipments",),
        locations_considered_max=5,
    )
    result = plan(request)
    assert result.truncated and result.complete and len(result.locations) == 3
    assert result.candidates_considered == sum(math.comb(5, k) for k in (1, 2, 3))
