"""The KPIs' pure definitions on constructed stories, with exact expected values:
stranded stock (ledger.availability), sale attribution and the KPI formulas (ledger.kpis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.availability import channel_ats, location_available, stranded_units
from ledger.availability import stranded_by_channel as stranded
from ledger.fold import fold
from ledger.kpis import (
    UNATTRIBUTED,
    UNLISTED,
    Attribution,
    error_budget_left,
    inventory_accuracy,
    oversell_rate,
)
from ledger.policy import PolicyBook
from ledger.state import SkuState
from tests.support.ledger_builders import SKU, book, channel, fact, safety

# web ships from the warehouse and store A; marketplace from the warehouse only; each
# store has its own POS channel.
BOOK = book(
    channel("web", "WH", "A"),
    channel("marketplace", "WH"),
    channel("pos-a", "A"),
    channel("pos-b", "B"),
    safety("B", 1),
)


def stocked(*facts_: tuple[str, str, int]) -> SkuState:
    return fold([fact(kind, loc, qty) for kind, loc, qty in facts_], SkuState.empty(SKU))


# --- stranded stock ---------------------------------------------------------------------


def test_a_channel_at_zero_with_units_outside_its_pool_is_stranded_by_those_units() -> None:
    # Store A sold its last unit; the warehouse has 4, store B 2 (1 of them safety stock).
    state = stocked(("received", "WH", 4), ("received", "B", 2), ("received", "A", 1))
    state = fold([fact("sold_in_store", "A", 1)], state)
    assert stranded(state, BOOK) == {"pos-a": 4 + 1}


def test_the_figures_in_the_stranded_story_are_what_the_definition_says() -> None:
    state = stocked(("received", "A", 3), ("received", "B", 5))
    assert channel_ats(state, BOOK.channels["marketplace"], BOOK) == 0
    assert location_available(state, "B", BOOK) == 4  # safety 1 held back
    # marketplace: A 3 + B 4 outside its pool; pos-b shows 4, web shows 3: not stranded
    assert stranded(state, BOOK) == {"marketplace": 7}
    assert stranded_units(state, BOOK.channels["marketplace"], BOOK) == 7
    assert stranded_units(state, BOOK.channels["web"], BOOK) == 0


def test_a_channel_showing_stock_is_never_stranded() -> None:
    state = stocked(("received", "WH", 1), ("received", "B", 9))
    assert "marketplace" not in stranded(state, BOOK)
    assert "web" not in stranded(state, BOOK)


def test_no_sellable_units_anywhere_strands_nothing() -> None:
    state = stocked(("received", "A", 2), ("damaged", "A", 2), ("received", "B", 1))
    assert stranded(state, BOOK) == {}  # A: all damaged; B: 1 unit, all of it safety stock


def test_the_buffer_and_an_oversold_pool_count_as_showing_zero() -> None:
    buffered = book(channel("web", "WH", buffer_units=2), channel("pos-a", "A"))
    state = stocked(("received", "WH", 2), ("received", "A", 5))
    assert stranded(state, buffered) == {"web": 5}  # 2 units - buffer 2 = 0
    oversold = fold([fact("order_placed", "WH", 4)], state)  # WH at -2
    assert stranded(oversold, buffered) == {"web": 5}


def test_a_channel_capped_at_zero_is_switched_off_not_stranded() -> None:
    capped = book(channel("web", "WH", allocation_cap_units=0), channel("pos-a", "A"))
    assert stranded(stocked(("received", "A", 5)), capped) == {}


def test_pickup_locations_are_outside_the_pool() -> None:
    pickup = book(channel("web", "WH", pickup_locations=("A",)))
    assert stranded(stocked(("received", "A", 2)), pickup) == {"web": 2}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["received", "sold_in_store", "damaged", "order_placed"]),
            st.sampled_from(["WH", "A", "B", "C"]),
            st.integers(1, 6),
        ),
        max_size=12,
    )
)
def test_the_inline_computation_matches_the_definition(steps: list[tuple[str, str, int]]) -> None:
    """stranded_by_channel computes availability inline: it must agree with channel_ats and
    location_available, the definition in the module docstring."""
    state = stocked(*steps)
    expected: dict[str, int] = {}
    for name, policy in BOOK.channels.items():
        outside = sum(
            max(0, location_available(state, loc, BOOK))
            for loc in state.positions
            if loc not in policy.locations
        )
        if channel_ats(state, policy, BOOK) == 0 and outside > 0:
            expected[name] = outside
    assert stranded(state, BOOK) == expected


# --- attribution ------------------------------------------------------------------------


def test_a_sale_belongs_to_the_channel_its_source_names() -> None:
    labels = Attribution.of(BOOK)
    assert labels.sale_channel("WH", "marketplace") == "marketplace"
    assert labels.sale_channel("A", "web") == "web"


def test_otherwise_to_the_most_specific_channel_selling_from_its_location() -> None:
    labels = Attribution.of(BOOK)
    assert labels.sale_channel("A", "pos-terminal-7") == "pos-a"  # pos-a (1) over web (2)
    assert labels.sale_channel("WH", "oms") == "marketplace"  # marketplace (1) over web (2)
    assert labels.sale_channel("B", "oms") == "pos-b"
    assert labels.sale_channel("D", "oms") == UNATTRIBUTED


def test_ties_go_to_the_first_channel_by_name() -> None:
    labels = Attribution.of(book(channel("web", "A", "B"), channel("app", "B", "C")))
    assert labels.sale_channel("B", "oms") == "app"


def test_an_oversell_is_its_sales_channel_or_no_channel() -> None:
    labels = Attribution.of(BOOK)
    assert labels.oversell_channel("sold_in_store", "A", "till-3") == "pos-a"
    assert labels.oversell_channel("order_placed", "WH", "web") == "web"
    assert labels.oversell_channel("counted", "A", "web") == UNATTRIBUTED
    assert labels.oversell_channel("damaged", "WH", "scanner") == UNATTRIBUTED


def test_location_labels_are_the_locations_policy_names() -> None:
    labels = Attribution.of(book(channel("web", "WH", pickup_locations=("P",)), safety("S", 1)))
    assert [labels.location_label(x) for x in ("WH", "P", "S", "X")] == ["WH", "P", "S", UNLISTED]
    assert Attribution.of(PolicyBook()).location_label("WH") == UNLISTED


# --- formulas ---------------------------------------------------------------------------


def test_inventory_accuracy_is_the_share_of_counts_that_matched() -> None:
    assert inventory_accuracy(counts=200, matched=199) == 0.995
    assert inventory_accuracy(counts=0, matched=0) is None


def test_oversell_rate_is_per_ten_thousand_units_sold() -> None:
    assert oversell_rate(oversold_units=3, units_sold=1_500) == pytest.approx(20.0)
    assert oversell_rate(oversold_units=0, units_sold=80) == 0.0
    assert oversell_rate(oversold_units=2, units_sold=0) is None


def test_error_budget_left_is_one_minus_the_late_share_over_the_budget() -> None:
    assert error_budget_left(on_time=1_000, total=1_000) == 1.0
    assert error_budget_left(on_time=995, total=1_000) == pytest.approx(0.5)  # half spent
    assert error_budget_left(on_time=990, total=1_000) == pytest.approx(0.0)
    assert error_budget_left(on_time=980, total=1_000) == pytest.approx(-1.0)  # missed
    assert error_budget_left(on_time=0, total=0) is None
