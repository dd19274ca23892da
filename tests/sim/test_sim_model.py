"""The simulator's model on tiny traces whose outcomes are computed by hand, under batch sync
(every 5 minutes) and streaming (0.1 s): oversells, lost sales, stranded spells, shrink."""

from __future__ import annotations

import pytest

from devtools.sim.check import expected_counters
from devtools.sim.model import BatchSync, Model, Streaming, replay
from devtools.sim.trace import (
    Count,
    Demand,
    Replenish,
    ReturnArrival,
    Shrink,
    SimConfig,
    Trace,
    WebOrder,
    generate,
)
from devtools.sim.world import LOCATIONS, policy_book

SKU = "S"
LATER_S = 7_200.0  # ships after the one-hour trace: never in it
BATCH = BatchSync(300)
STREAMING = Streaming((0.1,))


def tiny(stock: dict[str, int], *demand: Demand) -> Trace:
    """One SKU over one hour; `stock` the order-up-to units by location (0 elsewhere),
    received at t=0; `demand` as given."""
    targets = {(SKU, location): stock.get(location, 0) for location in LOCATIONS}
    opening = tuple(Replenish(0.0, location) for location in LOCATIONS)
    config = SimConfig(seed=1, hours=1.0, receipt_error_share=0.0)
    return Trace(config, (SKU,), targets, (*opening, *demand))


def both(trace: Trace) -> tuple[Model, Model]:
    return replay(trace, BATCH), replay(trace, STREAMING)


def test_a_stale_figure_oversells_under_batch_and_is_refused_when_streaming() -> None:
    # wh-west has 2 (marketplace's pool); 2 sell at 1 min; at 2 min the batch still shows 2.
    trace = tiny(
        {"wh-west": 2},
        WebOrder(60.0, SKU, "marketplace", 2, LATER_S),
        WebOrder(120.0, SKU, "marketplace", 1, LATER_S),
    )
    batch, streaming = both(trace)
    assert (batch.counts.units_sold, batch.counts.cancelled_orders) == (2, 1)
    assert batch.counts.oversold_units_online == 1
    assert batch.counts.stockout_orders == 0
    assert (streaming.counts.units_sold, streaming.counts.cancelled_orders) == (2, 0)
    assert streaming.counts.stockout_orders == 1
    # The oversell is in the ledger too: order_placed at -1, then cancelled.
    assert [f.type for f in batch.facts] == [
        "received", "order_placed", "order_placed", "order_cancelled",
    ]  # fmt: skip
    assert batch.counts.oversold_units == 1


def test_stock_arriving_between_syncs_is_shown_0_and_loses_a_sale_under_batch() -> None:
    # A return graded back into stock at 2 min; the batch shows it at the 5-minute sync.
    trace = tiny(
        {},
        ReturnArrival(100.0, SKU, "wh-west", 1, "restock", grade_after_s=20.0),
        WebOrder(200.0, SKU, "marketplace", 1, LATER_S),
    )
    batch, streaming = both(trace)
    # web and marketplace both sell from wh-west: each showed 0 from 120 s to 300 s
    assert batch.counts.stale_s == {"web": 180.0, "marketplace": 180.0}
    assert (batch.counts.lost_orders, batch.counts.lost_units) == (1, 1)
    assert batch.counts.units_sold == 0
    assert streaming.counts.stale_s == pytest.approx({"web": 0.1, "marketplace": 0.1})
    assert (streaming.counts.lost_units, streaming.counts.units_sold) == (0, 1)


def test_stock_only_outside_a_pool_is_stranded_the_whole_trace_under_both() -> None:
    # store-3 is in no online pool: 2 units, 1 held back as safety stock.
    for model in both(tiny({"store-3": 2})):
        assert model.counts.outside_s == {"web": 3_600.0, "marketplace": 3_600.0}
        assert model.counts.stale_s == {}


def test_shrink_fails_the_pick_and_the_count_that_follows_finds_the_variance() -> None:
    # store-1 ships web orders: 3 units (web sees 2: 1 is safety stock); 3 stolen unseen.
    trace = tiny(
        {"store-1": 3},
        Shrink(10.0, SKU, "store-1", 3),
        WebOrder(20.0, SKU, "web", 1, ship_after_s=100.0),
        Count(3_000.0, SKU, "store-1"),  # already counted at the failed pick: matches
    )
    model = replay(trace, BATCH)
    assert model.counts.pick_failures == 1
    assert [(f.type, f.qty) for f in model.facts] == [
        ("received", 3), ("order_placed", 1), ("order_cancelled", 1), ("counted", 0),
        ("counted", 0),
    ]  # fmt: skip
    counters = expected_counters(model.facts, policy_book())
    assert counters["counts"] == {"store-1": 2}
    assert counters["matched"] == {"store-1": 1}
    assert counters["variance_units"] == {"store-1": 3}
    assert counters["sold"] == {"web": 1}


def test_the_same_seed_gives_the_same_trace_and_the_same_counts() -> None:
    config = SimConfig(seed=3, hours=2.0, skus=30)
    first, second = generate(config), generate(config)
    assert first == second
    assert replay(first, BATCH).counts == replay(second, BATCH).counts


def test_the_channels_start_the_trace_showing_the_opening_stock() -> None:
    slow = replay(tiny({"wh-west": 2}), Streaming((60.0,)))
    assert slow.counts.stale_s == {}  # not 60 s of "0 while in stock" per SKU and channel
