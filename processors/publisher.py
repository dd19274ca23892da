"""Push changed figures to Redis with compare-and-set on the figure version.

One Lua script call per batch writes every figure whose version is newer than the one
stored, appends channel figures to the channel's change stream, and publishes each changed
SKU's new version once on its pub/sub channel (the console's live pages; nothing stored).
A replay after a crash re-sends older versions; the script skips them, so a stale number can never
overwrite a newer one (DESIGN.md invariant 4).

The same script compares a written channel figure with the one it replaces and appends
stock threshold events to `tally:stock-events:{channel}`: `out_of_stock` (to 0 from more,
or a first figure of 0), `back_in_stock` (from 0 to more) and `low_stock` (into 1..N from
outside it, N the channel policy's `low_stock_units`), so a storefront can hide or show a
product without polling.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from base.redis_keys import FigureKind, FigureVersion
from ledger.policy import PolicyBook

# ARGV: now_ms, changes_len_max, and the figures as one JSON array of string arrays:
#   [kind, scope, sku, units, sku_version, policy_version, ingested_ms, low_stock_units ("": none)]
# One argument, not eight per figure: redis-py encodes every argument in Python (4.5 us per
# figure against 0.35 us for the JSON array), and the script decodes the array in C.
# Returns one 1 (written) or 0 (stale, skipped) per figure.
_CAS_PUBLISH_LUA = """
local now_ms = ARGV[1]
local changes_len_max = tonumber(ARGV[2])
local results = {}

local function stock_events(scope, sku, old, units, threshold, version, ingested_ms)
  local new, before = tonumber(units), nil
  if old then before = tonumber(old) end
  local events = {}
  if new == 0 and (before == nil or before > 0) then events[#events + 1] = 'out_of_stock' end
  if new > 0 and before == 0 then events[#events + 1] = 'back_in_stock' end
  if threshold ~= '' then
    local low = tonumber(threshold)
    local was_low = before ~= nil and before > 0 and before <= low
    if new > 0 and new <= low and not was_low then events[#events + 1] = 'low_stock' end
  end
  for _, event in ipairs(events) do
    redis.call('XADD', 'tally:stock-events:' .. scope, 'MAXLEN', '~', changes_len_max, '*',
      'event', event, 'sku', sku, 'available', units, 'previous', old or '',
      'threshold', threshold, 'version', version, 'ingested_at', ingested_ms)
  end
end

local changed = {}
for _, figure in ipairs(cjson.decode(ARGV[3])) do
  local kind, scope, sku = figure[1], figure[2], figure[3]
  local units, sv, pv, ingested_ms = figure[4], figure[5], figure[6], figure[7]
  local threshold = figure[8]
  local version_key = 'tally:ver:' .. kind .. ':' .. scope
  local current = redis.call('HGET', version_key, sku)
  local newer = true
  if current then
    local csv, cpv = string.match(current, '^(%d+)-(%d+)')
    csv, cpv = tonumber(csv), tonumber(cpv)
    local nsv, npv = tonumber(sv), tonumber(pv)
    if csv > nsv or (csv == nsv and cpv >= npv) then newer = false end
  end
  if newer then
    local old = false
    if kind == 'ats' then old = redis.call('HGET', 'tally:ats:' .. scope, sku) end
    redis.call('HSET', 'tally:' .. kind .. ':' .. scope, sku, units)
    redis.call('HSET', version_key, sku, sv .. '-' .. pv .. ':' .. now_ms)
    if kind == 'ats' then
      redis.call('XADD', 'tally:changes:' .. scope, 'MAXLEN', '~', changes_len_max, '*',
        'sku', sku, 'available', units, 'version', sv .. '-' .. pv,
        'ingested_at', ingested_ms)
      stock_events(scope, sku, old, units, threshold, sv .. '-' .. pv, ingested_ms)
    end
    changed[sku] = sv .. '-' .. pv
    results[#results + 1] = 1
  else
    results[#results + 1] = 0
  end
end
for sku, version in pairs(changed) do
  redis.call('PUBLISH', 'tally:sku-changes:' .. sku, version)
end
return results
"""


# channel -> its low-stock threshold in units (None: no low_stock events)
LowStockUnits = Callable[[str], int | None]


def no_low_stock(channel: str) -> int | None:
    return None


def policy_low_stock(book: Callable[[], PolicyBook]) -> LowStockUnits:
    """Thresholds from the current policy book (`book` is asked on every publish)."""

    def low_stock_units(channel: str) -> int | None:
        policy = book().channels.get(channel)
        return None if policy is None else policy.low_stock_units

    return low_stock_units


@dataclass(frozen=True, slots=True)
class Figure:
    """One published number: channel ATS ("ats"), location availability ("loc"), or a
    channel's availability by date ("atp": `detail` is the horizon's JSON, `units` its first
    day's figure)."""

    kind: FigureKind
    scope: str  # the channel or the location
    sku: str
    units: int
    version: FigureVersion
    ingested_ms: int  # when the causing event was stamped; 0 for republishes
    detail: str | None = None  # written in place of `units` when set

    def __post_init__(self) -> None:
        # Published figures are never negative (invariant 4); the fold clamps them.
        assert self.units >= 0, f"negative figure {self}"


class RedisPublisher:
    """Writes batches of figures with one round trip per chunk."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        changes_len_max: int,
        figures_per_call_max: int = 2_000,
        low_stock_units: LowStockUnits = no_low_stock,
    ) -> None:
        self._client = client
        self._changes_len_max = changes_len_max
        self._low_stock_units = low_stock_units
        self._figures_per_call_max = figures_per_call_max
        self._script = client.register_script(_CAS_PUBLISH_LUA)

    async def publish(self, figures: Sequence[Figure]) -> list[bool]:
        """Write every figure newer than Redis holds; True per figure written."""
        written: list[bool] = []
        step = self._figures_per_call_max
        for start in range(0, len(figures), step):
            chunk = figures[start : start + step]
            now_ms = int(time.time() * 1000)
            rows = orjson.dumps([self._row(figure) for figure in chunk])
            results = await self._script(keys=[], args=[now_ms, self._changes_len_max, rows])
            written += [bool(flag) for flag in results]
        return written

    def _row(self, figure: Figure) -> tuple[str, ...]:
        # strings only: the script would print a number in Lua's format (%.14g)
        return (
            figure.kind,
            figure.scope,
            figure.sku,
            str(figure.units) if figure.detail is None else figure.detail,
            str(figure.version.sku_version),
            str(figure.version.policy_version),
            str(figure.ingested_ms),
            self._threshold(figure),
        )

    def _threshold(self, figure: Figure) -> str:
        """The channel's low-stock threshold as the script reads it ("" for none)."""
        if figure.kind != "ats":
            return ""
        units = self._low_stock_units(figure.scope)
        return "" if units is None else str(units)
