"""Stranded stock as the worker sees it: which of its SKUs each channel shows at 0 while
locations outside the channel's pool hold sellable units (ledger.availability).

Updated for every SKU whose state a batch changes, and for every SKU of the table when
figures are republished (a policy change, a rebalance). Keeps per channel the stranded SKUs
and units (gauges), integrates them over time (SKU-seconds, unit-seconds), and mirrors the
stranded SKUs into `tally:kpi:stranded:{channel}` (a sorted set scored by units, trimmed to
the top `stranded_top_skus`). Bounded: at most `tracked_max` (channel, SKU) pairs in memory.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import redis.asyncio as aioredis

from base.redis_keys import stranded_key
from ledger.availability import stranded_by_channel
from ledger.policy import PolicyBook
from ledger.state import SkuState
from processors import metrics

log = logging.getLogger("tally.worker")


class StrandedTracker:
    def __init__(self, tracked_max: int, top_skus: int) -> None:
        self._tracked_max = tracked_max
        self._top_skus = top_skus
        self._by_sku: dict[str, dict[str, int]] = {}  # sku -> channel -> stranded units
        self._skus: Counter[str] = Counter()  # channel -> stranded SKUs
        self._units: Counter[str] = Counter()  # channel -> stranded units
        self._pairs = 0
        self._over_bound_logged = False
        # (channel, sku) -> units (0: no longer stranded), not yet written to Redis
        self._unwritten: dict[tuple[str, str], int] = {}
        self._last_tick_s = time.monotonic()

    def observe(self, state: SkuState, book: PolicyBook) -> None:
        """Take the SKU's stranded units per channel from its current state."""
        now = stranded_by_channel(state, book)
        before = self._by_sku.get(state.sku)
        if before is None:
            if not now:
                return  # the common case: not stranded, and was not
            before = {}
        kept: dict[str, int] = {}
        for channel in before.keys() | now.keys():
            units = self._move(state.sku, channel, before.get(channel, 0), now.get(channel, 0))
            if units:
                kept[channel] = units
        if kept:
            self._by_sku[state.sku] = kept
        else:
            self._by_sku.pop(state.sku, None)

    def _move(self, sku: str, channel: str, old: int, new: int) -> int:
        """Count one pair's change; returns the units now tracked for it (0: none)."""
        if old == new:
            return new
        if not old:
            if self._pairs >= self._tracked_max:
                self._note_over_bound()
                return 0
            self._pairs += 1
            self._skus[channel] += 1
        elif not new:
            self._pairs -= 1
            self._skus[channel] -= 1
        self._units[channel] += new - old
        self._unwritten[(channel, sku)] = new
        return new

    def _note_over_bound(self) -> None:
        if not self._over_bound_logged:
            self._over_bound_logged = True
            log.warning(
                "stranded stock: %d (channel, SKU) pairs tracked, the bound "
                "(TALLY_WORKER__STRANDED_TRACKED_MAX); further ones are not counted",
                self._tracked_max,
            )

    def reset(self) -> None:
        """Forget every SKU (partitions moved): their entries leave Redis at the next flush;
        the republish that follows a rebalance observes the SKUs still owned again."""
        for sku, channels in self._by_sku.items():
            for channel in channels:
                self._unwritten[(channel, sku)] = 0
        self._by_sku.clear()
        self._pairs = 0
        for channel in self._skus:
            self._skus[channel] = 0
            self._units[channel] = 0

    def tick(self) -> None:
        """Integrate the stranded SKUs and units since the last tick; set the gauges."""
        now_s = time.monotonic()
        elapsed_s, self._last_tick_s = now_s - self._last_tick_s, now_s
        for channel, skus in self._skus.items():
            units = self._units[channel]
            metrics.STRANDED_SKUS.labels(channel).set(skus)
            metrics.STRANDED_UNITS.labels(channel).set(units)
            if skus:
                metrics.STRANDED_SKU_SECONDS.labels(channel).inc(skus * elapsed_s)
                metrics.STRANDED_UNIT_SECONDS.labels(channel).inc(units * elapsed_s)

    async def flush(self, client: aioredis.Redis) -> None:
        """Write what changed to the channels' sorted sets; on a Redis error keep it."""
        if not self._unwritten:
            return
        changes, self._unwritten = self._unwritten, {}
        grown: set[str] = set()
        pipe = client.pipeline(transaction=False)
        for (channel, sku), units in changes.items():
            if units:
                pipe.zadd(stranded_key(channel), {sku: units})
                grown.add(channel)
            else:
                pipe.zrem(stranded_key(channel), sku)
        for channel in grown:
            pipe.zremrangebyrank(stranded_key(channel), 0, -(self._top_skus + 1))
        try:
            await pipe.execute()
        except (aioredis.RedisError, OSError) as error:
            self._unwritten = {**changes, **self._unwritten}  # newer changes win
            log.error("stranded stock: Redis write failed, kept for the next batch: %s", error)
