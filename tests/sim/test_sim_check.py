"""The simulator's check of the real worker: the counters the model's facts must give, read
back from /metrics text, and what differs (pure)."""

from __future__ import annotations

from connectors.inspect.top import parse_samples
from devtools.sim.check import differences, expected_counters, worker_counters
from devtools.sim.world import policy_book
from ledger.events import Fact
from tests.support.ledger_builders import fact

METRICS = """
# TYPE tally_units_sold_total counter
tally_units_sold_total{channel="run1-web"} 2.0
tally_units_sold_total{channel="run1-pos-store-1"} 1.0
# TYPE tally_channel_oversold_units_total counter
tally_channel_oversold_units_total{channel="run1-web"} 0.0
tally_channel_oversold_units_total{channel="run1-pos-store-1"} 1.0
tally_channel_oversold_units_total{channel="(none)"} 1.0
# TYPE tally_cycle_counts_total counter
tally_cycle_counts_total{location="store-1"} 1.0
# TYPE tally_cycle_counts_matched_total counter
tally_cycle_counts_matched_total{location="store-1"} 0.0
# TYPE tally_location_variance_units_total counter
tally_location_variance_units_total{location="store-1"} 1.0
# TYPE tally_oversold_units counter
tally_oversold_units_total 2.0
"""


def story() -> list[Fact]:
    return [
        fact("received", "store-1", 2),
        fact("order_placed", "store-1", 2, source="web"),
        fact("sold_in_store", "store-1", 1, source="pos"),  # 1 unit promised to web: oversold
        # the shelf had 0 left: 1 unit of variance, and 1 more unit short of the order
        fact("counted", "store-1", 0),
    ]


def test_the_expected_counters_follow_the_worker_s_attribution() -> None:
    assert expected_counters(story(), policy_book()) == {
        "counts": {"store-1": 1},
        "matched": {},
        "variance_units": {"store-1": 1},
        "sold": {"web": 2, "pos-store-1": 1},
        "oversold": {"pos-store-1": 1, "(none)": 1},
        "oversold_total": {"": 2},
    }


def test_the_worker_s_counters_read_back_match_and_a_difference_is_named() -> None:
    got = worker_counters(parse_samples(METRICS), "run1-")
    expected = expected_counters(story(), policy_book())
    assert differences(expected, got) == []
    got["sold"]["web"] = 3
    assert differences(expected, got) == ["sold[web]: expected 2.0, worker 3"]
