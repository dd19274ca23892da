"""The KPIs computed by the stream, without Kafka: a batch's counts (processors.batch), their
labelled counters (processors.kpi_metrics) and the stranded-stock tracker, on constructed
stories with exact values."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY

from base.redis_keys import stranded_key
from ledger.codec import encode
from ledger.fold import fold
from ledger.policy import PolicyBook
from ledger.state import SkuState
from processors.kpi_counts import KpiCounts
from processors.kpi_metrics import KpiTracker
from processors.stranded import StrandedTracker
from tests.processors.test_batch import empty_loader, message
from tests.processors.test_batch import run as process_batch
from tests.support import ledger_builders as t


def names() -> tuple[str, str, str]:
    """A web channel, a store and a warehouse no other test uses (the registry is global)."""
    run = uuid.uuid4().hex[:8]
    return f"web-{run}", f"store-{run}", f"wh-{run}"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_batch_counts_cycle_counts_sales_and_oversells_by_place() -> None:
    policies = t.book(t.channel("web", "WH", "A"), t.channel("pos-a", "A"))
    messages = [
        message(encode(t.fact("received", "A", 5))),
        message(encode(t.fact("counted", "A", 5, t=1))),  # matches
        message(encode(t.fact("counted", "A", 3, t=2))),  # 2 missing
        message(encode(t.fact("sold_in_store", "A", 2, t=3, source="till-1"))),
        message(encode(t.fact("order_placed", "A", 3, t=4, source="web"))),  # 2 oversold
        message(encode(t.fact("damaged", "WH", 1, t=5))),  # nothing there: 1 oversold
    ]
    counts = process_batch(messages, empty_loader, policies, 0).kpis
    assert counts.counts == {("A", True): 1, ("A", False): 1}
    assert counts.variance_units == {"A": 2}
    assert counts.sales == {("A", "till-1"): 2, ("A", "web"): 3}
    assert counts.oversold == {("order_placed", "A", "web"): 2, ("damaged", "WH", "test"): 1}
    assert counts.held_sales == {}


def test_a_committed_hold_is_a_sale_of_its_channel_and_a_release_is_not() -> None:
    policies = t.book(t.channel("web", "A"))
    messages = [
        message(encode(t.fact("received", "A", 5))),
        message(encode(t.reserve("h1", "web", 2)), kind="commands"),
        message(encode(t.reserve("h2", "web", 1)), kind="commands"),
        message(encode(t.commit("h1", t=1)), kind="commands"),
        message(encode(t.release("h2", t=1)), kind="commands"),
    ]
    counts = process_batch(messages, empty_loader, policies, 0).kpis
    assert counts.held_sales == {"web": 2}
    assert counts.sales == {}


def test_the_counters_take_their_labels_from_policy() -> None:
    web, store, warehouse = names()
    policies = t.book(t.channel(web, warehouse, store), t.channel(f"pos-{store}", store))
    counts = KpiCounts()
    counts.counts.update({(store, True): 3, (store, False): 1, ("nowhere", True): 2})
    counts.variance_units.update({store: 4})
    counts.sales.update({(store, "till"): 5, (warehouse, web): 7})
    counts.held_sales.update({web: 1})
    counts.oversold.update({("order_placed", warehouse, web): 2, ("counted", store, "x"): 3})
    KpiTracker(StrandedTracker(10, 10)).count(counts, policies)

    assert sample("tally_cycle_counts_total", location=store) == 4
    assert sample("tally_cycle_counts_matched_total", location=store) == 3
    assert sample("tally_location_variance_units_total", location=store) == 4
    assert sample("tally_cycle_counts_total", location="(unlisted)") >= 2
    assert sample("tally_units_sold_total", channel=web) == 7 + 1
    assert sample("tally_units_sold_total", channel=f"pos-{store}") == 5
    assert sample("tally_channel_oversold_units_total", channel=web) == 2
    # the store's channel sold with no oversell: its oversold series exists, at 0
    assert (
        REGISTRY.get_sample_value("tally_channel_oversold_units_total", {"channel": f"pos-{store}"})
        == 0.0
    )
    assert sample("tally_channel_oversold_units_total", channel="(none)") >= 3


def test_every_location_and_channel_policy_names_has_its_counters_from_0() -> None:
    """A series first seen above 0 hides that step from increase(): created when the
    policy names them, the first count and the first sale are seen."""
    web, store, warehouse = names()
    KpiTracker(StrandedTracker(10, 10)).attribution(
        t.book(t.channel(web, warehouse), t.safety(store, 1))
    )
    for location in (store, warehouse):
        assert REGISTRY.get_sample_value("tally_cycle_counts_total", {"location": location}) == 0
        assert (
            REGISTRY.get_sample_value("tally_cycle_counts_matched_total", {"location": location})
            == 0
        )
    assert REGISTRY.get_sample_value("tally_units_sold_total", {"channel": web}) == 0
    assert REGISTRY.get_sample_value("tally_channel_oversold_units_total", {"channel": web}) == 0


# --- stranded stock ---------------------------------------------------------------------


def state_of(*steps: tuple[str, str, int], sku: str = t.SKU) -> SkuState:
    return fold([t.fact(kind, loc, qty, sku=sku) for kind, loc, qty in steps], SkuState.empty(sku))


class FakePipeline:
    def __init__(self, calls: list[tuple[Any, ...]], fail: bool = False) -> None:
        self.calls, self.fail = calls, fail

    def zadd(self, key: str, mapping: dict[str, int]) -> None:
        self.calls.append(("zadd", key, mapping))

    def zrem(self, key: str, member: str) -> None:
        self.calls.append(("zrem", key, member))

    def zremrangebyrank(self, key: str, start: int, stop: int) -> None:
        self.calls.append(("trim", key, start, stop))

    async def execute(self) -> None:
        if self.fail:
            raise ConnectionError("redis down")


class FakeRedis:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail = False

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        return FakePipeline(self.calls, self.fail)


def stranded_story() -> tuple[str, PolicyBook, StrandedTracker]:
    web, _, warehouse = names()
    return web, t.book(t.channel(web, warehouse)), StrandedTracker(tracked_max=10, top_skus=2)


async def test_a_sku_entering_and_leaving_stranded_moves_the_gauges_and_the_top_list() -> None:
    web, policies, tracker = stranded_story()
    warehouse = policies.channels[web].locations[0]
    client = FakeRedis()
    tracker.observe(state_of(("received", "S1", 4)), policies)
    tracker.tick()
    assert sample("tally_stranded_skus", channel=web) == 1
    assert sample("tally_stranded_units", channel=web) == 4
    await tracker.flush(client)  # type: ignore[arg-type]
    assert client.calls == [
        ("zadd", stranded_key(web), {t.SKU: 4}),
        ("trim", stranded_key(web), 0, -3),
    ]

    client.calls.clear()
    tracker.observe(state_of(("received", "S1", 4), ("received", warehouse, 1)), policies)
    tracker.tick()
    await tracker.flush(client)  # type: ignore[arg-type]
    assert sample("tally_stranded_skus", channel=web) == 0
    assert sample("tally_stranded_units", channel=web) == 0
    assert client.calls == [("zrem", stranded_key(web), t.SKU)]


async def test_stranded_seconds_integrate_the_stranded_skus_over_time() -> None:
    web, policies, tracker = stranded_story()
    tracker.observe(state_of(("received", "S1", 4), sku="A"), policies)
    tracker.observe(state_of(("received", "S1", 1), sku="B"), policies)
    before = sample("tally_stranded_sku_seconds_total", channel=web)
    tracker._last_tick_s -= 30.0  # as if 30 s had passed since the last tick
    tracker.tick()
    assert sample("tally_stranded_sku_seconds_total", channel=web) - before == pytest.approx(
        60.0, abs=0.5
    )
    assert sample("tally_stranded_unit_seconds_total", channel=web) == pytest.approx(150, abs=3)


async def test_the_tracker_is_bounded_and_a_failed_write_is_kept() -> None:
    web, policies, _ = stranded_story()
    tracker = StrandedTracker(tracked_max=1, top_skus=5)
    tracker.observe(state_of(("received", "S1", 4), sku="A"), policies)
    tracker.observe(state_of(("received", "S1", 9), sku="B"), policies)  # past the bound
    tracker.tick()
    assert sample("tally_stranded_skus", channel=web) == 1
    assert sample("tally_stranded_units", channel=web) == 4
    client = FakeRedis()
    client.fail = True
    await tracker.flush(client)  # type: ignore[arg-type]
    client.fail = False
    client.calls.clear()
    await tracker.flush(client)  # type: ignore[arg-type]
    assert client.calls[0] == ("zadd", stranded_key(web), {"A": 4})


async def test_a_reset_takes_every_tracked_sku_out_of_redis() -> None:
    web, policies, tracker = stranded_story()
    tracker.observe(state_of(("received", "S1", 4), sku="A"), policies)
    await tracker.flush(FakeRedis())  # type: ignore[arg-type]
    tracker.reset()
    tracker.tick()
    assert sample("tally_stranded_skus", channel=web) == 0
    client = FakeRedis()
    await tracker.flush(client)  # type: ignore[arg-type]
    assert client.calls == [("zrem", stranded_key(web), "A")]
