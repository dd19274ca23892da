"""The positions table's layout: a small core per SKU plus write-once journal chunks."""

from __future__ import annotations

from base.table_layout import (
    chunk_key,
    is_key_of,
    is_state_key,
    read_all_states,
    read_state,
    state_key,
    state_writes,
)
from ledger import limits
from ledger.codec import HOLDS_PART
from ledger.fold import fold
from tests.ledger.test_ledger_journal import held_and_committed
from tests.support.ledger_builders import fact


def apply(table: dict[bytes, bytes], writes: list[tuple[bytes, bytes | None]]) -> None:
    for key, value in writes:
        if value is None:
            del table[key]
        else:
            table[key] = value


def test_chunks_are_written_before_the_core_and_dropped_after_it() -> None:
    stored = held_and_committed(700)
    table: dict[bytes, bytes] = {}
    apply(table, state_writes(stored, None))
    state = held_and_committed(40, start=700, state=stored)
    writes = state_writes(state, stored)
    keys = [key for key, _ in writes]
    core_at = keys.index(state.sku.encode())
    assert all(not is_state_key(key) and value is not None for key, value in writes[:core_at])
    assert all(value is None for _, value in writes[core_at + 1 :])
    assert writes[core_at + 1 :], "the first chunks were dropped"
    apply(table, writes)
    assert read_state(table.get, state.sku) == state


def test_a_batch_of_a_hot_sku_writes_only_its_holds_part_and_core_until_a_chunk_seals() -> None:
    stored = held_and_committed(700)
    state = held_and_committed(1, start=700, state=stored)
    # 1,400 decisions and 700 resolved holds leave room for one more round in the fresh parts
    fresh_max = limits.JOURNAL_FRESH_MAX
    assert len(stored.decisions.fresh) + 2 <= fresh_max
    assert len(stored.resolved.fresh) + 1 <= fresh_max
    sku = state.sku
    assert [key for key, _ in state_writes(state, stored)] == [
        chunk_key(sku, HOLDS_PART),
        state_key(sku),
    ]


def test_a_fact_on_a_hot_sku_writes_only_its_core() -> None:
    stored = held_and_committed(700)
    state = fold([fact("received", "A", 3)], stored)
    assert [key for key, _ in state_writes(state, stored)] == [state_key(state.sku)]


def test_readers_see_states_only_never_chunks() -> None:
    state = held_and_committed(700)
    table: dict[bytes, bytes | None] = {}
    apply(table, state_writes(state, None))  # type: ignore[arg-type]
    assert chunk_key(state.sku, ("decisions", state.decisions.first_seq)) in table
    assert list(read_all_states(table)) == [state]
    assert read_state(table.get, "NEVER-SEEN") is None


def test_a_skus_keys_are_its_core_and_its_chunks_only() -> None:
    assert is_key_of(b"SKU-1", "SKU-1")
    assert is_key_of(chunk_key("SKU-1", ("seen", 3)), "SKU-1")
    assert not is_key_of(b"SKU-10", "SKU-1")  # a longer SKU with the same start
    assert not is_key_of(chunk_key("SKU-10", ("seen", 3)), "SKU-1")
