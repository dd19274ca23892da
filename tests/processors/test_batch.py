"""processors.batch without Kafka: routing, dead letters, duplicates, figures, versions."""

from __future__ import annotations

from typing import Any

from base.topics import partition_for
from ledger.codec import encode
from ledger.state import SkuState
from processors.batch import BatchOutcome, RawMessage, TopicKind, process_batch
from tests.support import ledger_builders as t

SKU_KEY = t.SKU.encode()
BOOK = t.book(t.channel("web", "A", "B"), t.channel("pos", "B"))


PARTITIONS = 4


def message(
    value: bytes | None,
    kind: TopicKind = "events",
    key: bytes | None = SKU_KEY,
    partition: int | None = None,
) -> RawMessage:
    """A record on its key's partition, unless `partition` says otherwise."""
    if partition is None:
        partition = 0 if key is None else partition_for(key.decode(), PARTITIONS)
    return RawMessage(
        kind, f"tally.{kind}", partition, 0, key, value, timestamp_ms=1_700_000_000_000
    )


def run(*args: Any, **kwargs: Any) -> BatchOutcome:
    return process_batch(*args, partitions=PARTITIONS, **kwargs)


def empty_loader(sku: str, partition: int) -> SkuState:
    return SkuState.empty(sku)


def test_facts_fold_into_changed_figures_at_the_new_version() -> None:
    messages = [
        message(encode(t.fact("received", "A", 5))),
        message(encode(t.fact("received", "B", 2))),
    ]
    outcome = run(messages, empty_loader, BOOK, policy_version=3)
    state = outcome.states[t.SKU]
    assert state.version == 2
    figures = {(f.kind, f.scope): f for f in outcome.figures}
    assert figures[("ats", "web")].units == 7
    assert figures[("ats", "pos")].units == 2
    assert figures[("loc", "A")].units == 5
    assert {f.version for f in outcome.figures} == {(2, 3)}
    assert all(f.ingested_ms == 1_700_000_000_000 for f in outcome.figures)


def test_bad_records_become_dead_letters_and_good_ones_still_fold() -> None:
    good = encode(t.fact("received", "A", 1))
    messages = [
        message(None),
        message(b"{oops"),
        message(good, key=b"other-sku"),
        message(good),
        message(b'{"type": "reserve"}', kind="commands"),
    ]
    outcome = run(messages, empty_loader, BOOK, policy_version=0)
    assert [d.reason_kind for d in outcome.dead_letters] == [
        "empty",
        "invalid",
        "key_mismatch",
        "invalid",
    ]
    assert outcome.states[t.SKU].position("A").on_hand == 1


def test_duplicate_event_is_counted_and_changes_nothing() -> None:
    received = encode(t.fact("received", "A", 4))
    outcome = run([message(received), message(received)], empty_loader, BOOK, 0)
    assert outcome.events_folded == {("received", "applied"): 1, ("received", "duplicate"): 1}
    assert outcome.states[t.SKU].position("A").on_hand == 4


def test_commands_are_decided_in_log_order_against_the_folded_state() -> None:
    messages = [
        message(encode(t.fact("received", "B", 1))),
        message(encode(t.reserve("h1", "pos", 1)), kind="commands"),
        message(encode(t.reserve("h2", "web", 1)), kind="commands"),
    ]
    outcome = run(messages, empty_loader, BOOK, 0)
    assert [(d.hold_id, d.outcome) for d in outcome.decisions] == [
        ("h1", "accepted"),
        ("h2", "rejected"),
    ]
    assert outcome.hold_decisions == {("reserve", "accepted"): 1, ("reserve", "rejected"): 1}


def test_an_oversell_is_recorded_with_its_size_and_published_as_zero() -> None:
    stocked = run([message(encode(t.fact("received", "A", 1)))], empty_loader, BOOK, 0)
    state = stocked.states[t.SKU]
    outcome = run([message(encode(t.fact("sold_in_store", "A", 3)))], lambda sku, p: state, BOOK, 0)
    assert outcome.oversells == [2]
    assert {(f.kind, f.scope, f.units) for f in outcome.figures} == {
        ("loc", "A", 0),
        ("ats", "web", 0),
    }


def test_a_batch_counts_duplicates_and_the_cycle_count_variance() -> None:
    received = t.fact("received", "A", 5)
    messages = [
        message(encode(received)),
        message(encode(received)),  # a redelivery: the same event_id
        message(encode(t.fact("counted", "A", 2, t=1))),  # 3 missing
        message(encode(t.fact("counted", "A", 4, t=2))),  # 2 found
    ]
    outcome = run(messages, empty_loader, BOOK, 0)
    assert outcome.events_folded == {
        ("received", "applied"): 1,
        ("received", "duplicate"): 1,
        ("counted", "applied"): 2,
    }
    assert outcome.variance_units == 5  # |2 - 5| + |4 - 2|
    assert outcome.states[t.SKU].version == 3


def test_an_untouched_figure_is_not_republished() -> None:
    state = run([message(encode(t.fact("received", "A", 5)))], empty_loader, BOOK, 0).states[t.SKU]
    outcome = run([message(encode(t.fact("received", "C", 1)))], lambda sku, p: state, BOOK, 0)
    assert {(f.kind, f.scope) for f in outcome.figures} == {("loc", "C")}


def _stocked_then_sold_back() -> tuple[SkuState, list[RawMessage]]:
    """A stored state at 0 units, and a replay that takes A to 4 and back to 0 (seed 42)."""
    stored = run([message(encode(t.fact("counted", "A", 0)))], empty_loader, BOOK, 0).states[t.SKU]
    replay = [
        message(encode(t.fact("received", "A", 4))),
        message(encode(t.fact("sold_in_store", "A", 4))),
    ]
    return stored, replay


def test_a_replay_ending_on_the_stored_figures_still_publishes_them_at_its_version() -> None:
    stored, replay = _stocked_then_sold_back()
    outcome = run(replay, lambda sku, p: stored, BOOK, 0, replayed=lambda m: True)
    published = {(f.kind, f.scope): (f.units, f.version) for f in outcome.figures}
    # every figure of the SKU, at the version after the replay (over whatever a lost run
    # published at the versions in between)
    assert published == {
        ("loc", "A"): (0, (stored.version + 2, 0)),
        ("ats", "web"): (0, (stored.version + 2, 0)),
        ("ats", "pos"): (0, (stored.version + 2, 0)),
    }


def test_outside_a_replay_unchanged_figures_are_not_published() -> None:
    stored, replay = _stocked_then_sold_back()
    outcome = run(replay, lambda sku, p: stored, BOOK, 0)
    assert outcome.states[t.SKU].version == stored.version + 2
    assert outcome.figures == []


def test_units_past_the_bound_are_dead_lettered_and_the_reserve_after_them_is_decided() -> None:
    # Two receipts of 10^9 units made available_after fail validation in the reserve's
    # HoldPlaced: not a LimitExceeded, so the worker restarted on the batch for good.
    limit = 1_000_000_000
    messages = [
        message(encode(t.fact("received", "A", limit))),
        message(encode(t.fact("received", "A", limit))),
        message(encode(t.reserve("h1", "web", 5)), kind="commands"),
    ]
    outcome = run(messages, empty_loader, BOOK, 0)
    assert [d.reason_kind for d in outcome.dead_letters] == ["limit"]
    assert "on_hand 2000000000" in outcome.dead_letters[0].reason
    [decision] = outcome.decisions
    assert (decision.outcome, decision.available_after) == ("accepted", limit - 5)
    assert outcome.states[t.SKU].position("A").on_hand == limit


def test_a_split_over_a_channel_ats_past_the_bound_is_a_valid_rejection() -> None:
    limit = 1_000_000_000
    messages = [
        message(encode(t.fact("received", "A", limit - 1))),
        message(encode(t.fact("received", "B", limit - 1))),
        message(encode(t.reserve("h1", "web", limit)), kind="commands"),
    ]
    outcome = run(messages, empty_loader, BOOK, 0)
    [decision] = outcome.decisions
    assert (decision.reason, decision.available_after) == ("split_required", limit)


def test_a_record_off_its_skus_partition_is_dead_lettered_not_folded() -> None:
    # kcat's default partitioner (CRC32) puts a SKU elsewhere than the gateway's murmur2:
    # folded there, a second worker would write the SKU beside its owner.
    home = partition_for(t.SKU, PARTITIONS)
    elsewhere = (home + 1) % PARTITIONS
    messages = [
        message(encode(t.fact("received", "A", 5)), partition=elsewhere),
        message(encode(t.fact("received", "A", 2))),
        message(encode(t.reserve("h1", "web", 1)), kind="commands", partition=elsewhere),
        message(encode(t.fact("received", "A", 7)), partition=elsewhere),
    ]
    outcome = run(messages, empty_loader, BOOK, 0)
    assert [d.reason_kind for d in outcome.dead_letters] == ["wrong_partition"] * 3
    assert f"belongs on partition {home}, not {elsewhere}" in outcome.dead_letters[0].reason
    assert outcome.states[t.SKU].position("A").on_hand == 2
    assert outcome.partitions == {t.SKU: home}
    assert outcome.decisions == []
