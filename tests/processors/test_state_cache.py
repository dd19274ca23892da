"""processors.state_cache: bounded, least recently used out, emptied on demand."""

from __future__ import annotations

from ledger.state import SkuState
from processors.state_cache import StateCache


def test_the_least_recently_used_state_leaves_first() -> None:
    cache: StateCache[SkuState] = StateCache(skus_max=2)
    a, b, c = SkuState.empty("A"), SkuState.empty("B"), SkuState.empty("C")
    cache.put(a.sku, a)
    cache.put(b.sku, b)
    assert cache.get("A") is a  # A is now the most recent
    cache.put(c.sku, c)
    assert cache.get("B") is None
    assert cache.get("A") is a and cache.get("C") is c
    assert len(cache) == 2


def test_clear_forgets_everything_and_zero_keeps_nothing() -> None:
    cache: StateCache[SkuState] = StateCache(skus_max=10)
    cache.put("A", SkuState.empty("A"))
    cache.clear()
    assert cache.get("A") is None
    none_kept: StateCache[SkuState] = StateCache(skus_max=0)
    none_kept.put("A", SkuState.empty("A"))
    assert len(none_kept) == 0
