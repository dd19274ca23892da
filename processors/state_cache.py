"""Decoded SKU states kept in memory between batches (bounded, least recently used out).

Decoding a hot SKU's state from the table on every batch dominated the worker's profile
(devtools/bench FINDINGS: `decode_state` 23-49% of samples). The worker is the only writer of
its partitions' SKUs, so a state it wrote stays current until a rebalance, when the cache
is emptied.
"""

from __future__ import annotations

from collections import OrderedDict

from ledger.state import SkuState


class StateCache:
    def __init__(self, skus_max: int) -> None:
        self._skus_max = skus_max
        self._states: OrderedDict[str, SkuState] = OrderedDict()

    def get(self, sku: str) -> SkuState | None:
        state = self._states.get(sku)
        if state is not None:
            self._states.move_to_end(sku)
        return state

    def put(self, state: SkuState) -> None:
        self._states[state.sku] = state
        self._states.move_to_end(state.sku)
        if len(self._states) > self._skus_max:
            self._states.popitem(last=False)

    def clear(self) -> None:
        self._states.clear()

    def __len__(self) -> int:
        return len(self._states)
