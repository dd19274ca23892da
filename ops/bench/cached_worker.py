"""`python -m ops.bench.cached_worker`: the stock worker plus a decoded-state cache (a prototype).

The bench's profile of the worker shows `ledger.codec.decode_state` (pydantic
`validate_json` of a whole SkuState) taking about half of the worker's time: each batch
decodes every SKU it touches from the table again, and a popular SKU's state carries up to
1,024 seen ids, 1,024 stored decisions and 1,024 resolved holds. This prototype keeps the
decoded state of each SKU beside the bytes it was decoded from (or encoded to) and reuses it
when the table still holds exactly those bytes, so a state is decoded only on a miss
(start-up, a partition newly assigned, eviction) and correctness never rests on the cache:
a state is reused only when its stored bytes compare equal.

It patches two names of `processors.app` at start-up and runs the worker unchanged
otherwise; the bench runs it beside the stock worker (`--cached-worker`) to give the
before/after figures. The real fix belongs in processors/app.py.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import processors.app as app_module
from ledger.codec import decode_state, encode_state
from ledger.state import SkuState
from processors import worker

CACHED_STATES_MAX = 200_000


class StateCache:
    """SKU -> (stored bytes, decoded state), least recently used evicted past the bound."""

    def __init__(self, entries_max: int) -> None:
        self._entries_max = entries_max
        self._by_sku: OrderedDict[str, tuple[bytes, SkuState]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def put(self, sku: str, raw: bytes, state: SkuState) -> None:
        self._by_sku[sku] = (raw, state)
        self._by_sku.move_to_end(sku)
        if len(self._by_sku) > self._entries_max:
            self._by_sku.popitem(last=False)

    def decode(self, sku: str, raw: bytes) -> SkuState:
        cached = self._by_sku.get(sku)
        if cached is not None and cached[0] == raw:
            self.hits += 1
            self._by_sku.move_to_end(sku)
            return cached[1]
        self.misses += 1
        state = decode_state(raw)
        self.put(sku, raw, state)
        return state


def install(cache: StateCache) -> None:
    def load_state(
        positions: Any, events_by_partition: dict[int, Any], sku: str, partition: int
    ) -> SkuState:
        app_module._enter_partition(events_by_partition[partition])
        raw = positions.get(sku.encode())
        return SkuState.empty(sku) if raw is None else cache.decode(sku, raw)

    def encode_and_remember(state: SkuState) -> bytes:
        raw = encode_state(state)
        cache.put(state.sku, raw, state)
        return raw

    app_module._load_state = load_state
    setattr(app_module, "encode_state", encode_and_remember)  # noqa: B010  (not re-exported)


def main() -> None:
    install(StateCache(CACHED_STATES_MAX))
    worker.main()


if __name__ == "__main__":
    main()
