"""Figures derived from a journal's sealed chunks, computed once per tuple of chunks.

Sealed chunks never change, and a tuple of them is shared by every state of the SKU until
the next seal (every JOURNAL_FRESH_MAX entries), so a figure derived from the tuple stays
valid as long as the tuple lives. A hot SKU keeps up to 63 chunks per journal; deriving a
figure once per seal instead of with every command that needs it keeps such a SKU's
commands from scanning a thousand entries each.

Derived figures are kept in a bounded memo keyed by the tuple's identity (the memo holds the
tuple, so its identity cannot be reused while the figure is kept); a tuple of few chunks
is not memoized (deriving is as cheap as looking up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

V = TypeVar("V")
D = TypeVar("D")

MEMOIZED_FROM_CHUNKS = 4
MEMO_MAX = 256  # the hot SKUs' journals; the oldest figure is dropped past it

_memo: dict[tuple[int, str], tuple[object, Any]] = {}


def derived(
    sealed: Sequence[Mapping[str, V]], name: str, derive: Callable[[Sequence[Mapping[str, V]]], D]
) -> D:
    """`derive(sealed)`, computed once per tuple of at least MEMOIZED_FROM_CHUNKS chunks
    (`name` names `derive`: one memo holds several kinds)."""
    if len(sealed) < MEMOIZED_FROM_CHUNKS:
        return derive(sealed)
    key = (id(sealed), name)
    kept = _memo.get(key)
    if kept is not None and kept[0] is sealed:
        figure: D = kept[1]
        return figure
    figure = derive(sealed)
    if len(_memo) >= MEMO_MAX:
        _memo.pop(next(iter(_memo)), None)  # the oldest
    _memo[key] = (sealed, figure)
    return figure
