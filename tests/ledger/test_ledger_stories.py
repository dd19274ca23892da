"""The retail stories, end to end through decide / apply_event / availability."""

from __future__ import annotations

from ledger.availability import changed_figures, channel_ats, figures, location_available
from ledger.commands import Decision
from ledger.decide import decide
from ledger.fold import apply_event, fold
from ledger.policy import PolicyBook
from ledger.state import SkuState
from tests.support.ledger_builders import (
    SKU,
    book,
    channel,
    commit,
    expire,
    fact,
    release,
    reserve,
    safety,
)


def stocked(**units: int) -> SkuState:
    """A SKU with `units` received at each named location."""
    return fold([fact("received", loc, qty) for loc, qty in units.items()], SkuState.empty(SKU))


def run(state: SkuState, command: object, policies: PolicyBook) -> tuple[SkuState, Decision]:
    decided = decide(state, command, policies)  # type: ignore[arg-type]
    after = fold(decided.events, state)
    assert after == decided.state
    assert decided.decision is not None
    return after, decided.decision


def test_buy_online_pick_up_in_store() -> None:
    policies = book(channel("web", "DC", pickup_locations=("STORE-7",)))
    state = stocked(DC=10, **{"STORE-7": 2})

    state, held = run(state, reserve("h1", "web", 2, location="STORE-7"), policies)
    assert (held.outcome, held.location, held.available_after) == ("accepted", "STORE-7", 0)
    assert location_available(state, "STORE-7", policies) == 0
    assert channel_ats(state, policies.channels["web"], policies) == 10  # DC untouched

    state, committed = run(state, commit("h1", t=60), policies)
    assert committed.outcome == "accepted"
    state = apply_event(state, fact("shipped", "STORE-7", 2, t=3600)).state  # handed over
    assert state.position("STORE-7").on_hand == 0
    assert state.position("STORE-7").committed == 0


def test_buy_online_return_in_store() -> None:
    policies = book(channel("web", "DC", "STORE-7"))
    state = stocked(DC=1)
    state = apply_event(state, fact("order_placed", "DC", 1)).state
    state = apply_event(state, fact("shipped", "DC", 1, t=10)).state
    # The customer brings it back to a store that never stocked it.
    state = apply_event(state, fact("return_received", "STORE-7", 1, t=100)).state
    assert state.position("STORE-7").inspection == 1
    assert location_available(state, "STORE-7", policies) == 0  # awaiting inspection
    state = apply_event(
        state, fact("return_graded", "STORE-7", 1, t=200, disposition="restock")
    ).state
    assert location_available(state, "STORE-7", policies) == 1
    assert channel_ats(state, policies.channels["web"], policies) == 1


def test_last_unit_raced_by_two_channels() -> None:
    policies = book(channel("web", "DC"), channel("marketplace", "DC"))
    state = stocked(DC=1)
    state, first = run(state, reserve("web-h", "web", 1, t=1), policies)
    state, second = run(state, reserve("mkt-h", "marketplace", 1, t=1), policies)
    assert first.outcome == "accepted"
    assert (second.outcome, second.reason) == ("rejected", "insufficient_stock")
    assert figures(state, policies).channels == {"web": 0, "marketplace": 0}
    # The loser retrying the same hold_id gets the same answer, even after stock arrives.
    state = apply_event(state, fact("received", "DC", 5, t=2)).state
    again = decide(state, reserve("mkt-h", "marketplace", 1, t=3), policies)
    assert again.decision == second
    assert again.events == ()


def test_cycle_count_finds_three_missing() -> None:
    state = stocked(STORE=10)
    applied = apply_event(state, fact("counted", "STORE", 7, t=50))
    assert applied.variance_units == -3
    assert applied.state.position("STORE").on_hand == 7
    counters = applied.state.counters
    assert (counters.counts, counters.counts_exact, counters.variance_abs_units) == (1, 0, 3)


def test_transfer_between_stores() -> None:
    policies = book(channel("pos", "A", "B"))
    state = stocked(A=5)
    out = fact("transfer_out", "A", 3, t=10, target_location="B", order_id="TO-9", eta=None)
    state = apply_event(state, out).state
    assert state.position("A").on_hand == 2
    (transit,) = state.incoming_at("B")
    assert (transit.kind, transit.qty, transit.source_location) == ("transfer", 3, "A")
    assert location_available(state, "B", policies) == 0  # incoming is never available
    state = apply_event(state, fact("transfer_in", "B", 3, t=99, order_id="TO-9")).state
    assert state.position("B").on_hand == 3
    assert state.incoming_at("B") == ()
    assert channel_ats(state, policies.channels["pos"], policies) == 5


def test_damaged_return() -> None:
    state = stocked(STORE=2)
    state = apply_event(state, fact("return_received", "STORE", 1)).state
    state = apply_event(state, fact("return_graded", "STORE", 1, disposition="damaged")).state
    position = state.position("STORE")
    assert (position.on_hand, position.damaged, position.inspection) == (3, 1, 0)
    assert position.free_units == 2
    state = apply_event(state, fact("return_received", "STORE", 1)).state
    state = apply_event(state, fact("return_graded", "STORE", 1, disposition="dispose")).state
    assert state.position("STORE").on_hand == 3


def test_a_sale_past_zero_is_recorded_as_an_oversell() -> None:
    policies = book(channel("web", "STORE"))
    state = stocked(STORE=1)
    applied = apply_event(state, fact("sold_in_store", "STORE", 3))
    assert applied.outcome == "applied"
    assert applied.oversell_units == 2
    assert applied.state.counters.oversold_units == 2
    assert location_available(applied.state, "STORE", policies) == -2  # raw, not hidden
    assert figures(applied.state, policies) == ({"web": 0}, {"STORE": 0})  # published >= 0


def test_hold_expiry_runs_on_log_time_and_resolves_once() -> None:
    policies = book(channel("web", "DC"))
    state = stocked(DC=3)
    state, _ = run(state, reserve("h1", "web", 2, t=0, ttl_s=60), policies)
    assert decide(state, expire(59), policies).events == ()
    decided = decide(state, expire(60), policies)
    assert [e.type for e in decided.events] == ["hold_expired"]
    state = decided.state
    assert location_available(state, "DC", policies) == 3
    state, late = run(state, commit("h1", t=61), policies)
    assert (late.outcome, late.reason) == ("rejected", "hold_expired")


def test_a_commit_past_expiry_is_rejected_without_a_timer_tick() -> None:
    policies = book(channel("web", "DC"))
    state, _ = run(stocked(DC=3), reserve("h1", "web", 1, ttl_s=30), policies)
    decided = decide(state, commit("h1", t=31), policies)
    assert [e.type for e in decided.events] == ["hold_expired", "command_rejected"]
    assert decided.decision is not None and decided.decision.reason == "hold_expired"


def test_second_resolution_is_a_typed_rejection() -> None:
    policies = book(channel("web", "DC"))
    state, _ = run(stocked(DC=3), reserve("h1", "web", 1), policies)
    state, ok = run(state, commit("h1", request_id="c1"), policies)
    state, again = run(state, release("h1"), policies)
    assert ok.outcome == "accepted"
    assert (again.outcome, again.reason) == ("rejected", "hold_already_committed")
    repeat = decide(state, commit("h1", request_id="c1"), policies)
    assert repeat.decision == ok and repeat.events == ()
    _, missing = run(state, release("nope"), policies)
    assert missing.reason == "hold_not_found"


def test_policy_strategies_choose_one_location_and_never_split() -> None:
    base = stocked(A=2, B=5, C=3)
    priority = book(channel("web", "A", "B", "C"))
    most = book(channel("web", "A", "B", "C", strategy="most_available"))
    _, by_priority = run(base, reserve("h1", "web", 2), priority)
    _, by_stock = run(base, reserve("h1", "web", 2), most)
    assert (by_priority.location, by_stock.location) == ("A", "B")
    _, split = run(base, reserve("h2", "web", 6), priority)
    assert (split.outcome, split.reason, split.available_after) == (
        "rejected",
        "split_required",
        10,
    )


def test_safety_stock_buffer_and_cap_shape_the_channel_figure() -> None:
    policies = book(
        channel("web", "A", "B", buffer_units=1, allocation_cap_units=4), safety("A", 2)
    )
    state = stocked(A=3, B=4)
    assert location_available(state, "A", policies) == 1
    assert channel_ats(state, policies.channels["web"], policies) == 4  # min(cap, 1 + 4 - 1)
    # Safety stock at an empty store holds back nothing and never goes negative.
    assert location_available(stocked(B=1), "A", policies) == 0
    state, rejected = run(state, reserve("h1", "web", 2, location="A"), policies)
    assert (rejected.outcome, rejected.reason) == ("rejected", "insufficient_stock")


def test_unknown_channel_and_ineligible_location_are_rejected() -> None:
    policies = book(channel("web", "A"))
    state = stocked(A=3, B=3)
    _, unknown = run(state, reserve("h1", "pos", 1), policies)
    _, elsewhere = run(state, reserve("h2", "web", 1, location="B"), policies)
    assert unknown.reason == "unknown_channel"
    assert elsewhere.reason == "location_not_eligible"


def test_supply_expected_is_incoming_until_received() -> None:
    policies = book(channel("web", "DC"))
    state = fold([fact("supply_expected", "DC", 10, order_id="PO-1")], SkuState.empty(SKU))
    assert location_available(state, "DC", policies) == 0
    assert [i.qty for i in state.incoming_at("DC")] == [10]
    state = apply_event(state, fact("received", "DC", 4, order_id="PO-1")).state
    assert [i.qty for i in state.incoming_at("DC")] == [6]
    assert location_available(state, "DC", policies) == 4


def test_changed_figures_names_only_what_moved() -> None:
    policies = book(channel("web", "A"), channel("pos", "B"))
    before = stocked(A=3, B=3)
    after = apply_event(before, fact("sold_in_store", "B", 1)).state
    assert changed_figures(before, after, policies) == ({"pos": 2}, {"B": 2})
    same = apply_event(after, fact("supply_expected", "B", 5)).state
    assert changed_figures(after, same, policies) == ({}, {})


def test_another_channel_cannot_commit_or_release_a_hold() -> None:
    """A marketplace cannot resolve the web shop's cart hold; the web shop still can."""
    policies = book(channel("web", "A"), channel("market", "A"))
    state, placed = run(stocked(A=3), reserve("cart-1", "web", 2), policies)
    assert placed.outcome == "accepted"
    for command in (
        commit("cart-1", t=1).model_copy(update={"channel": "market"}),
        release("cart-1", t=1).model_copy(update={"channel": "market"}),
    ):
        state, refused = run(state, command, policies)
        # Hold ids are each channel's own: the web shop's is not the marketplace's to find.
        assert (refused.outcome, refused.reason) == ("rejected", "hold_not_found")
    hold = state.find_hold("web", "cart-1")
    assert hold is not None and hold.status == "pending"
    state, owner = run(state, commit("cart-1", t=2).model_copy(update={"channel": "web"}), policies)
    assert owner.outcome == "accepted"


def test_two_channels_may_use_the_same_hold_id_for_two_holds() -> None:
    """A channel reusing another's hold id once got that hold's first decision back (201)."""
    policies = book(channel("web", "A"), channel("market", "A"))
    state, web = run(stocked(A=5), reserve("cart-1", "web", 2), policies)
    state, market = run(state, reserve("cart-1", "market", 3), policies)
    assert (web.outcome, market.outcome) == ("accepted", "accepted")
    assert state.position("A").reserved == 5
    repeated = reserve("cart-1", "market", 1).model_copy(update={"request_id": "r-again"})
    state, refused = run(state, repeated, policies)
    assert refused == market  # the same channel's repeated hold id: its first decision
    web_commit = commit("cart-1", t=1).model_copy(update={"channel": "web"})
    state, committed = run(state, web_commit, policies)
    assert committed.outcome == "accepted"
    assert state.position("A") == state.position("A")._replace(committed=2, reserved=3)
    market_hold = state.find_hold("market", "cart-1")
    assert market_hold is not None and market_hold.status == "pending"


def test_another_channels_request_id_cannot_answer_the_owners_request() -> None:
    """A release under the owner's default commit id once made the owner's commit replay a
    rejection: request ids are each channel's own too."""
    policies = book(channel("web", "A"), channel("market", "A"))
    state, _ = run(stocked(A=3), reserve("cart-1", "web", 2), policies)
    owners_id = "commit:web:cart-1"
    spoof = release("cart-1", t=1, request_id=owners_id).model_copy(update={"channel": "market"})
    state, refused = run(state, spoof, policies)
    assert refused.outcome == "rejected"
    owner = commit("cart-1", t=2, request_id=owners_id).model_copy(update={"channel": "web"})
    state, committed = run(state, owner, policies)
    assert (committed.command, committed.outcome) == ("commit", "accepted")


def test_an_admin_resolves_a_hold_by_id_only_when_one_channel_has_it() -> None:
    policies = book(channel("web", "A"), channel("market", "A"))
    state, _ = run(stocked(A=5), reserve("cart-1", "web", 2), policies)
    state, released = run(state, release("cart-1", t=1), policies)  # an admin: no channel
    assert released.outcome == "accepted"
    state, again = run(state, release("cart-1", t=2), policies)
    assert again.reason == "hold_already_released"
    state, _ = run(state, reserve("cart-2", "web", 1), policies)
    state, _ = run(state, reserve("cart-2", "market", 1), policies)
    state, ambiguous = run(state, commit("cart-2", t=3), policies)
    assert (ambiguous.outcome, ambiguous.reason) == ("rejected", "hold_not_found")
    assert state.position("A").reserved == 2
