"""The order KPIs' pure definitions on constructed stories, with exact expected values: an
order filled, one split, one rejected at pick and re-routed, one refused, one partly filled;
what each change of the order adds to the counts; what an order costs; the formulas."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from ledger.kpis import cost_per_order_cents, fill_rate, pick_rejection_rate, split_rate
from ledger.orders.kpis import FirstDecision, order_cost_cents, order_kpi_counts
from ledger.orders.records import OrderRecordUnion, PickUp, RejectPick
from ledger.orders.saga import Stepped
from ledger.orders.state import OrderState
from ledger.policy import ChannelPolicy, LocationPolicy, PolicyBook
from tests.ledger.test_order_saga import Run, allocate, answer, at, capacity, place, planned

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def location(name: str, point: tuple[float, float] | None, order: int, unit: int) -> LocationPolicy:
    return LocationPolicy(
        location=name,
        latitude=None if point is None else point[0],
        longitude=None if point is None else point[1],
        handling_cost_per_order_cents=order,
        handling_cost_per_unit_cents=unit,
        version=1,
        updated_at=NOW,
    )


# The orders ship to (40.7, -74.0) (tests.ledger.test_order_saga.place): east is there (0 km:
# the first band, 500), west is Los Angeles and north Seattle (beyond 1,000 km: 2,000).
BOOK = PolicyBook(
    channels={
        "web": ChannelPolicy(
            channel="web",
            locations=("east", "west", "north"),
            pickup_locations=("east",),
            version=1,
            updated_at=NOW,
        )
    },
    locations={
        "east": location("east", (40.7, -74.0), order=150, unit=40),
        "west": location("west", (34.05, -118.24), order=200, unit=10),
        "north": location("north", (47.6, -122.33), order=100, unit=0),
    },
)
EAST_A2 = 150 + 40 * 2 + 500  # 730
WEST_B1 = 200 + 10 * 1 + 2_000  # 2,210
NORTH_B1 = 100 + 0 * 1 + 2_000  # 2,100


class Story(Run):
    """A saga run that keeps the order's state after every record that changed it."""

    def __init__(self) -> None:
        super().__init__()
        self.states: list[OrderState] = []

    def __call__(self, record: OrderRecordUnion) -> Stepped:
        stepped = super().__call__(record)
        if stepped.changed and stepped.state is not None:
            self.states.append(stepped.state)
        return stepped


def settle(story: Story, plan_seq: int, location: str, lines: tuple[tuple[str, int], ...]) -> None:
    """Plan `lines` at `location`, and every ask of it accepted."""
    story(planned(plan_seq, (location, lines)))
    reserves = story.reserves()
    story(capacity(location, True, plan_seq + 0.1))
    for index, reserve in enumerate(reserves):
        story(answer(reserve, True, plan_seq + 0.2 + index / 100))
    for index, commit in enumerate(story.commits()):
        story(answer(commit, True, plan_seq + 0.5 + index / 100))


def filled() -> Story:
    story = Story()
    story(place(("A", 2)))
    settle(story, 1, "east", (("A", 2),))
    assert story.status() == "allocated"
    return story


def split() -> Story:
    story = Story()
    allocate(story)  # A x2 at east, B x1 at west
    assert story.status() == "allocated" and len(story.now.shipments) == 2
    return story


def rejected_at_pick() -> Story:
    """The split order; west cannot pick B, which is re-routed to north."""
    story = split()
    story(RejectPick(ref=story.now.ref, issued_at=at(10), location="west", reason="not_found"))
    settle(story, 2, "north", (("B", 1),))
    assert story.now.shipments == {"east": "allocated", "west": "rejected", "north": "allocated"}
    return story


def refused() -> Story:
    story = Story()
    story(place(("A", 2)))
    story(planned(1, ("east", (("A", 2),))))
    (reserve,) = story.reserves()
    story(capacity("east", True, 1.1))
    for seq in (1, 2, 3):
        if seq > 1:
            story(planned(seq, ("west", (("A", 2),))))
            (reserve,) = story.reserves()
        if seq == 2:
            story(capacity("west", True, seq + 0.1))
        story(answer(reserve, False, seq + 0.2))
    assert story.status() == "refused"
    return story


def partly_filled() -> Story:
    story = Story()
    story(place(("A", 2), ("B", 1), partial=True))
    story(planned(1, ("east", (("A", 2),)), unfilled=(("B", 1),)))
    (reserve,) = story.reserves()
    story(capacity("east", True, 1.1))
    story(answer(reserve, True, 1.2))
    (commit,) = story.commits()
    story(answer(commit, True, 1.3))
    assert story.status() == "partially_allocated"
    return story


@dataclass
class Totals:
    decisions: list[FirstDecision] = field(default_factory=list)
    requested: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)

    def add(self, other: Totals) -> Totals:
        return Totals(
            self.decisions + other.decisions,
            self.requested + other.requested,
            self.rejected + other.rejected,
        )


def totals(story: Story) -> Totals:
    """Every count the story adds, change by change (as the order processor counts)."""
    found = Totals()
    for before, after in zip([None, *story.states], story.states, strict=False):
        counts = order_kpi_counts(before, after, BOOK)
        assert counts.channel == "web"
        if counts.decision is not None:
            found.decisions.append(counts.decision)
        found.requested.update(counts.requested)
        found.rejected.update(counts.rejected)
    return found


def test_an_order_filled_counts_its_units_one_shipment_and_its_cost() -> None:
    assert totals(filled()) == Totals(
        [FirstDecision(units_ordered=2, units_filled=2, shipments=1, cost_cents=730)],
        requested=Counter(east=2),
    )


def test_a_split_order_counts_two_shipments_and_both_costs() -> None:
    assert totals(split()) == Totals(
        [FirstDecision(3, 3, shipments=2, cost_cents=EAST_A2 + WEST_B1)],
        requested=Counter(east=2, west=1),
    )


def test_a_pick_rejection_counts_at_the_location_and_the_reroute_is_no_new_decision() -> None:
    assert totals(rejected_at_pick()) == Totals(
        [FirstDecision(3, 3, shipments=2, cost_cents=2_940)],
        requested=Counter(east=2, west=1, north=1),
        rejected=Counter(west=1),
    )


def test_a_refused_order_counts_its_units_unfilled_and_no_shipment() -> None:
    assert totals(refused()) == Totals(
        [FirstDecision(units_ordered=2, units_filled=0, shipments=0, cost_cents=0)]
    )


def test_a_partly_filled_order_counts_the_units_it_got() -> None:
    assert totals(partly_filled()) == Totals(
        [FirstDecision(3, 2, shipments=1, cost_cents=EAST_A2)], requested=Counter(east=2)
    )


def test_the_order_kpis_over_the_five_stories() -> None:
    stories = [filled(), split(), rejected_at_pick(), refused(), partly_filled()]
    every = Totals()
    for story in stories:
        every = every.add(totals(story))
    decided = every.decisions
    ordered, allocated = sum(d.units_ordered for d in decided), sum(d.units_filled for d in decided)
    assert (ordered, allocated) == (2 + 3 + 3 + 2 + 3, 2 + 3 + 3 + 0 + 2)
    assert fill_rate(allocated, ordered) == pytest.approx(10 / 13)
    sourced = [d for d in decided if d.shipments]  # the refused order has none
    assert split_rate(sum(d.shipments for d in sourced), len(sourced)) == pytest.approx(6 / 4)
    cost = sum(d.cost_cents for d in sourced)
    assert cost == EAST_A2 + (EAST_A2 + WEST_B1) * 2 + EAST_A2
    assert cost_per_order_cents(cost, len(sourced)) == pytest.approx(7_340 / 4)
    assert every.requested == {"east": 2 + 2 + 2 + 2, "west": 1 + 1, "north": 1}
    west = pick_rejection_rate(every.rejected["west"], every.requested["west"])
    assert west == pytest.approx(0.5)
    assert pick_rejection_rate(every.rejected["east"], every.requested["east"]) == 0.0
    assert fill_rate(0, 0) is None and split_rate(0, 0) is None


def test_the_cost_of_an_order_handed_over_where_it_is_picked_up_has_no_shipping() -> None:
    story = filled()
    picked_up = story.now.model_copy(update={"delivery": PickUp(location="east")})
    assert order_cost_cents(picked_up, BOOK) == 150 + 40 * 2


def test_a_location_without_coordinates_pays_the_last_band_as_the_planner_ranks_it() -> None:
    unplaced = location("east", None, order=150, unit=40)
    book = BOOK.model_copy(update={"locations": {**BOOK.locations, "east": unplaced}})
    assert order_cost_cents(filled().now, book) == 150 + 40 * 2 + 2_000
