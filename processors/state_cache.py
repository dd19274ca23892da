"""Decoded states kept in memory between batches (bounded, least recently used out).

Decoding a hot SKU's state from the table on every batch dominated the worker's profile
(devtools/bench FINDINGS: `decode_state` 23-49% of samples). The worker is the only writer of
its partitions' SKUs, so a state it wrote stays current until a rebalance, when the cache
is emptied.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class StateCache(Generic[V]):
    """Decoded states by key (a SKU, an order ref), the least recently used dropped first."""

    def __init__(self, skus_max: int) -> None:
        self._skus_max = skus_max
        self._states: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        state = self._states.get(key)
        if state is not None:
            self._states.move_to_end(key)
        return state

    def put(self, key: str, state: V) -> None:
        self._states[key] = state
        self._states.move_to_end(key)
        if len(self._states) > self._skus_max:
            self._states.popitem(last=False)

    def clear(self) -> None:
        self._states.clear()

    def __len__(self) -> int:
        return len(self._states)
