"""Journals (stored decisions, resolved holds): bounded, newest kept, stored in parts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from ledger import limits
from ledger.codec import HOLDS_PART, STATE_FORMAT, ChunkId, join_state, split_state
from ledger.commands import Commit
from ledger.decide import decide
from ledger.errors import DecodeError
from ledger.fold import fold
from ledger.state import Journal, SkuState, journal_put
from tests.support.ledger_builders import SKU, book, channel, commit, fact, reserve

FRESH = limits.JOURNAL_FRESH_MAX
POLICIES = book(channel("web", "A"))
WHOLE_STATE = TypeAdapter(SkuState)


def whole_state_bytes(state: SkuState) -> int:
    """The size of `state` as one JSON document, every chunk inline: what a core is not."""
    return len(WHOLE_STATE.dump_json(state))


def put_all(count: int, size_max: int = 1024) -> Journal[int]:
    journal: Journal[int] = Journal()
    for n in range(count):
        journal = journal_put(journal, f"k{n}", n, size_max)
    return journal


def held_and_committed(holds: int, start: int = 0, state: SkuState | None = None) -> SkuState:
    """`holds` reserve + commit rounds on SKU (2 decisions and 1 resolved hold each)."""
    if state is None:
        state = fold([fact("received", "A", 100_000)], SkuState.empty(SKU))
    for n in range(start, start + holds):
        for command in (reserve(f"h{n}", "web", 1, t=n), commit(f"h{n}", t=n)):
            decided = decide(state, command, POLICIES)
            assert decided.decision is not None and decided.decision.outcome == "accepted"
            state = decided.state
    return state


def test_a_journal_keeps_the_newest_entries_between_its_bounds() -> None:
    journal = put_all(5000)
    assert 1024 - FRESH <= journal.size() <= 1024
    kept = list(journal.ids())
    assert kept == [f"k{n}" for n in range(5000 - len(kept), 5000)]  # oldest first, no gaps
    assert journal.get("k4999") == 4999
    assert journal.get(kept[0]) == int(kept[0][1:])
    assert not journal.has(f"k{5000 - len(kept) - 1}")  # dropped, with its whole chunk
    assert journal.first_seq == (5000 - FRESH) // FRESH - len(journal.sealed) + 1


def test_a_small_journal_is_all_fresh() -> None:
    journal = put_all(FRESH)
    assert journal.sealed == () and journal.size() == FRESH and journal.next_seq == 0


def test_a_newer_value_of_a_key_wins() -> None:
    journal = journal_put(put_all(FRESH + 1), "k0", -1, 1024)  # k0 is sealed, -1 fresh
    assert journal.get("k0") == -1


def test_a_state_split_and_joined_is_the_same_state() -> None:
    state = held_and_committed(700)  # 1,400 decisions: chunks sealed and dropped
    assert state.decisions.first_seq > 0 and state.resolved.sealed
    parts = split_state(state, None)
    assert parts.dropped_chunks == []
    sealed = len(state.decisions.sealed) + len(state.resolved.sealed)
    assert len(parts.new_chunks) == sealed + 1  # and the holds part
    assert HOLDS_PART in parts.new_chunks
    chunks = parts.new_chunks
    assert join_state(parts.core, chunks.get) == state


def test_a_split_writes_only_what_changed_since_the_stored_state() -> None:
    stored = held_and_committed(700)
    store = dict(split_state(stored, None).new_chunks)
    state = held_and_committed(40, start=700, state=stored)  # 80 more decisions, 40 resolved
    parts = split_state(state, stored)
    new_decisions = range(stored.decisions.next_seq, state.decisions.next_seq)
    assert sorted(seq for kind, seq in parts.new_chunks if kind == "decisions") == list(
        new_decisions
    )
    dropped = range(stored.decisions.first_seq, state.decisions.first_seq)
    assert [seq for kind, seq in parts.dropped_chunks if kind == "decisions"] == list(dropped)
    store.update(parts.new_chunks)
    for chunk in parts.dropped_chunks:
        del store[chunk]
    assert join_state(parts.core, store.get) == state


def test_the_core_stays_small_however_many_records_a_sku_keeps() -> None:
    small = split_state(held_and_committed(FRESH // 2), None).core
    hot = held_and_committed(700)
    core = split_state(hot, None).core
    placeholders = len(hot.decisions.sealed) + len(hot.resolved.sealed)
    assert len(core) - len(small) <= 4 * placeholders  # `{},` a chunk, not its records
    assert len(core) * 10 < whole_state_bytes(hot)


def test_a_missing_chunk_is_a_decode_error_naming_it() -> None:
    parts = split_state(held_and_committed(700), None)
    chunks = dict(parts.new_chunks)
    missing = min(chunks)
    del chunks[missing]
    with pytest.raises(DecodeError) as error:
        join_state(parts.core, chunks.get)
    assert f"{missing[0]} chunk {missing[1]} missing" in error.value.reason


def test_a_corrupt_chunk_is_a_decode_error() -> None:
    parts = split_state(held_and_committed(700), None)
    chunks = {chunk: b'{"x": 1}' for chunk in parts.new_chunks}
    with pytest.raises(DecodeError):
        join_state(parts.core, chunks.get)


def received_many(count: int, state: SkuState | None = None) -> SkuState:
    start = SkuState.empty(SKU) if state is None else state
    return fold([fact("received", "A", 1) for _ in range(count)], start)


def test_seen_id_chunks_are_stored_apart_and_dropped_by_sequence() -> None:
    stored = received_many(1_200)  # > SEEN_IDS_PER_SKU_MAX: chunks sealed and dropped
    assert stored.seen_first_seq > 0 and stored.seen_chunks
    store = dict(split_state(stored, None).new_chunks)
    state = received_many(200, stored)
    parts = split_state(state, stored)
    assert {kind for kind, _ in parts.new_chunks} == {"seen"}
    assert [seq for _, seq in parts.dropped_chunks] == list(
        range(stored.seen_first_seq, state.seen_first_seq)
    )
    store.update(parts.new_chunks)
    for chunk in parts.dropped_chunks:
        del store[chunk]
    joined = join_state(parts.core, store.get)
    assert joined == state
    assert len(parts.core) * 5 < whole_state_bytes(state)  # the ids travel once, in chunks


def stored_and_joined(
    state: SkuState, stored: SkuState | None, store: dict[ChunkId, bytes]
) -> SkuState:
    """Apply `split_state(state, stored)` to `store` (chunk id -> bytes) and read it back."""
    parts = split_state(state, stored)
    store.update(parts.new_chunks)
    for chunk in parts.dropped_chunks:
        del store[chunk]
    return join_state(parts.core, store.get)


def test_a_fact_leaves_the_holds_part_unwritten() -> None:
    stored = held_and_committed(FRESH // 2)
    store = dict(split_state(stored, None).new_chunks)
    state = fold([fact("received", "A", 5)], stored)
    parts = split_state(state, stored)
    assert parts.new_chunks == {} and parts.dropped_chunks == []
    assert len(parts.core) * 3 < whole_state_bytes(state)  # the decisions stay out of it
    assert join_state(parts.core, store.get) == state


def test_a_hold_command_rewrites_the_holds_part() -> None:
    stored = held_and_committed(2)
    store = dict(split_state(stored, None).new_chunks)
    state = decide(stored, reserve("h-new", "web", 1, t=9), POLICIES).state
    assert set(split_state(state, stored).new_chunks) == {HOLDS_PART}
    assert stored_and_joined(state, stored, store) == state


def test_a_sku_without_holds_has_no_holds_part_and_an_emptied_one_is_dropped() -> None:
    facts_only = fold([fact("received", "A", 5)], SkuState.empty(SKU))
    assert split_state(facts_only, None).new_chunks == {}
    store: dict[ChunkId, bytes] = {}
    held = decide(facts_only, reserve("h1", "web", 1, t=1), POLICIES).state
    assert stored_and_joined(held, facts_only, store) == held and HOLDS_PART in store
    # the hold resolved and its journals emptied: nothing of a holds part is left to keep
    emptied = held._replace(holds={}, resolved=Journal(), decisions=Journal())
    assert stored_and_joined(emptied, held, store) == emptied
    assert HOLDS_PART not in store


def test_a_missing_holds_part_is_a_decode_error() -> None:
    parts = split_state(held_and_committed(1), None)
    with pytest.raises(DecodeError) as error:
        join_state(parts.core, lambda _chunk: None)
    assert "holds part missing" in error.value.reason


def test_a_whole_state_is_not_read_as_a_core() -> None:
    with pytest.raises(DecodeError) as error:
        whole = bytes((STATE_FORMAT,)) + WHOLE_STATE.dump_json(held_and_committed(1))
        join_state(whole, lambda _chunk: None)
    assert "parts byte" in error.value.reason


def newest_in_chunks(journal: Journal[int], key: str) -> int | None:
    """The reference lookup: fresh first, then each sealed chunk, newest first."""
    for chunk in (journal.fresh, *reversed(journal.sealed)):
        if key in chunk:
            return chunk[key]
    return None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=150), min_size=200, max_size=600))
def test_a_lookup_finds_the_newest_value_kept_in_any_chunk(keys: list[int]) -> None:
    journal: Journal[int] = Journal()
    looked_up: list[Journal[int]] = []
    for serial, key in enumerate(keys):  # keys repeat: a key is in several chunks
        journal = journal_put(journal, f"k{key}", serial, 8 * FRESH)  # up to 7 sealed chunks
        looked_up.append(journal)
    for kept in looked_up[-40:]:  # states that share a tuple of chunks, and ones that don't
        for key in range(152):
            assert kept.get(f"k{key}") == newest_in_chunks(kept, f"k{key}"), key


TWO_CHANNELS = book(channel("web", "A"), channel("app", "A"))


def channel_commit(hold_id: str, channel_name: str, t: float) -> Commit:
    return commit(hold_id, t=t).model_copy(update={"channel": channel_name})


def test_an_admin_finds_a_hold_of_a_hot_sku_by_its_id_alone() -> None:
    state = fold([fact("received", "A", 100_000)], SkuState.empty(SKU))
    for command in (reserve("h-app", "app", 1, t=0), channel_commit("h-app", "app", 0)):
        state = decide(state, command, TWO_CHANNELS).state  # app's only hold, long resolved
    state = held_and_committed(300, state=state)  # web's: many sealed chunks after app's
    assert len(state.resolved.sealed) >= 4
    assert all(hold.channel == "web" for hold in state.resolved.fresh.values())
    state = decide(state, reserve("h-open", "web", 1, t=402), TWO_CHANNELS).state

    def named(hold_id: str) -> set[tuple[str, str]]:
        return {(hold.channel, hold.status) for hold in state.holds_named(hold_id)}

    assert named("h-app") == {("app", "committed")}  # sealed, its channel in no fresh hold
    assert named("h250") == {("web", "committed")}
    assert named("h-open") == {("web", "pending")}
    assert named("h-never") == set()
    once_more = decide(state, commit("h250", t=403), TWO_CHANNELS).decision
    assert once_more is not None and once_more.outcome == "rejected"
    assert once_more.reason != "hold_not_found"  # found: it was committed long ago
    opened = decide(state, commit("h-open", t=404), TWO_CHANNELS).decision
    assert opened is not None and opened.outcome == "accepted"
    # two channels' holds of one id: an admin's commit guesses at neither
    for command in (reserve("h250", "app", 1, t=405), channel_commit("h250", "app", 406)):
        state = decide(state, command, TWO_CHANNELS).state
    assert named("h250") == {("web", "committed"), ("app", "committed")}
    ambiguous = decide(state, commit("h250", t=407), TWO_CHANNELS).decision
    assert ambiguous is not None and ambiguous.reason == "hold_not_found"
