"""ledger.as_of.replay: a SKU's state rebuilt from its timeline, under the policy of each
moment, exactly as the worker folds and decides (constructed stories, exact values)."""

from __future__ import annotations

from ledger.as_of import PolicyStep, replay
from ledger.availability import channel_ats
from ledger.fold import fold
from ledger.limits import LOCATIONS_PER_SKU_MAX
from ledger.state import SkuState
from tests.support.ledger_builders import SKU, channel, commit, fact, reserve


def test_facts_and_commands_replay_under_the_policy_of_their_moment() -> None:
    timeline = [
        PolicyStep(0, channel("web", "A")),
        fact("received", "A", 5),
        fact("received", "B", 4),
        reserve("h1", "web", 5, t=1),  # web sells from A only: 5 fit
        PolicyStep(1, channel("web", "A", "B", version=2)),
        reserve("h2", "web", 2, t=2),  # now B too: placed at B
        commit("h1", t=3),
        fact("sold_in_store", "B", 1, t=4),
    ]
    replayed = replay(SKU, timeline)
    assert replayed.policy_version == 2
    assert replayed.applied == 6
    assert [(d.hold_id, d.command, d.outcome, d.location) for d in replayed.decisions] == [
        ("h1", "reserve", "accepted", "A"),
        ("h2", "reserve", "accepted", "B"),
        ("h1", "commit", "accepted", "A"),
    ]
    state = replayed.state
    assert state.position("A") == (5, 5, 0, 0, 0)
    assert state.position("B") == (3, 0, 2, 0, 0)
    assert channel_ats(state, replayed.book.channels["web"], replayed.book) == 1


def test_the_replayed_state_is_the_fold_of_the_same_facts() -> None:
    facts = [fact("received", "A", 7), fact("counted", "A", 5, t=1), fact("damaged", "A", 1)]
    assert replay(SKU, facts).state == fold(facts, SkuState.empty(SKU))


def test_an_invalid_policy_record_only_moves_the_version() -> None:
    replayed = replay(SKU, [PolicyStep(0, channel("web", "A")), PolicyStep(1, None)])
    assert replayed.policy_version == 2
    assert set(replayed.book.channels) == {"web"}


def test_a_fact_past_a_per_sku_bound_is_refused_as_the_worker_refuses_it() -> None:
    crowded = [fact("received", f"L{i}", 1) for i in range(LOCATIONS_PER_SKU_MAX + 1)]
    replayed = replay(SKU, crowded)
    assert (replayed.applied, replayed.refused) == (LOCATIONS_PER_SKU_MAX, 1)
    assert len(replayed.state.positions) == LOCATIONS_PER_SKU_MAX


def test_nothing_before_the_moment_is_an_empty_sku() -> None:
    replayed = replay(SKU, [])
    assert replayed.state == SkuState.empty(SKU)
    assert (replayed.applied, replayed.policy_version) == (0, 0)
