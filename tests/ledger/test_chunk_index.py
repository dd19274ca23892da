"""Figures derived from a journal's sealed chunks: once per tuple of chunks, bounded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ledger import chunk_index

FEW = chunk_index.MEMOIZED_FROM_CHUNKS - 1


def chunks(count: int, tag: str = "") -> tuple[Mapping[str, int], ...]:
    return tuple({f"{tag}k{n}": n} for n in range(count))


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, sealed: Sequence[Mapping[str, int]]) -> int:
        self.calls += 1
        return sum(len(chunk) for chunk in sealed)


def test_a_tuple_of_chunks_is_derived_once() -> None:
    derive, sealed = Counting(), chunks(chunk_index.MEMOIZED_FROM_CHUNKS)
    figures = [chunk_index.derived(sealed, "test-once", derive) for _ in range(5)]
    assert figures == [len(sealed)] * 5 and derive.calls == 1


def test_an_equal_tuple_that_is_another_object_is_derived_again() -> None:
    derive = Counting()
    first, second = chunks(8), chunks(8)
    assert first == second and first is not second
    chunk_index.derived(first, "test-identity", derive)
    chunk_index.derived(second, "test-identity", derive)
    assert derive.calls == 2


def test_each_name_is_its_own_figure() -> None:
    sealed = chunks(8)
    assert chunk_index.derived(sealed, "test-a", lambda s: "a") == "a"
    assert chunk_index.derived(sealed, "test-b", lambda s: "b") == "b"


def test_few_chunks_are_derived_every_time() -> None:
    derive, sealed = Counting(), chunks(FEW)
    for _ in range(3):
        chunk_index.derived(sealed, "test-few", derive)
    assert derive.calls == 3


def test_the_memo_keeps_at_most_its_bound_dropping_the_oldest() -> None:
    derive = Counting()
    tuples = [chunks(8, tag=f"t{n}-") for n in range(chunk_index.MEMO_MAX + 1)]
    for sealed in tuples:
        chunk_index.derived(sealed, "test-bound", derive)
    assert len(chunk_index._memo) <= chunk_index.MEMO_MAX
    calls = derive.calls
    chunk_index.derived(tuples[-1], "test-bound", derive)  # the newest is kept
    assert derive.calls == calls
    chunk_index.derived(tuples[0], "test-bound", derive)  # the oldest was dropped
    assert derive.calls == calls + 1
