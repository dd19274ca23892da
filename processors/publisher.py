"""Push changed figures to Redis with compare-and-set on the figure version.

One Lua script call per batch writes every figure whose version is newer than the one
stored, appends channel figures to the channel's change stream, and publishes each changed
SKU's new version once on its pub/sub channel (the console's live pages; nothing stored).
A replay after a crash re-sends older versions; the script skips them, so a stale number can never
overwrite a newer one (DESIGN.md invariant 4).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis

from base.redis_keys import FigureKind, FigureVersion

# ARGV: now_ms, changes_len_max, then per figure:
#   kind, scope, sku, units, sku_version, policy_version, ingested_ms
# Returns one 1 (written) or 0 (stale, skipped) per figure.
_CAS_PUBLISH_LUA = """
local now_ms = ARGV[1]
local changes_len_max = tonumber(ARGV[2])
local results = {}
local changed = {}
for i = 3, #ARGV, 7 do
  local kind, scope, sku = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local units, sv, pv, ingested_ms = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
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
    redis.call('HSET', 'tally:' .. kind .. ':' .. scope, sku, units)
    redis.call('HSET', version_key, sku, sv .. '-' .. pv .. ':' .. now_ms)
    if kind == 'ats' then
      redis.call('XADD', 'tally:changes:' .. scope, 'MAXLEN', '~', changes_len_max, '*',
        'sku', sku, 'available', units, 'version', sv .. '-' .. pv,
        'ingested_at', ingested_ms)
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


@dataclass(frozen=True, slots=True)
class Figure:
    """One published number: channel ATS ("ats") or location availability ("loc")."""

    kind: FigureKind
    scope: str  # the channel or the location
    sku: str
    units: int
    version: FigureVersion
    ingested_ms: int  # when the causing event was stamped; 0 for republishes

    def __post_init__(self) -> None:
        # Published figures are never negative (invariant 4); the fold clamps them.
        assert self.units >= 0, f"negative figure {self}"


class RedisPublisher:
    """Writes batches of figures with one round trip per chunk."""

    def __init__(
        self, client: aioredis.Redis, *, changes_len_max: int, figures_per_call_max: int = 2_000
    ) -> None:
        self._client = client
        self._changes_len_max = changes_len_max
        self._figures_per_call_max = figures_per_call_max
        self._script = client.register_script(_CAS_PUBLISH_LUA)

    async def publish(self, figures: Sequence[Figure]) -> list[bool]:
        """Write every figure newer than Redis holds; True per figure written."""
        written: list[bool] = []
        step = self._figures_per_call_max
        for start in range(0, len(figures), step):
            chunk = figures[start : start + step]
            now_ms = int(time.time() * 1000)
            argv: list[str | int] = [now_ms, self._changes_len_max]
            for figure in chunk:
                argv += [
                    figure.kind,
                    figure.scope,
                    figure.sku,
                    figure.units,
                    figure.version.sku_version,
                    figure.version.policy_version,
                    figure.ingested_ms,
                ]
            results = await self._script(keys=[], args=argv)
            written += [bool(flag) for flag in results]
        return written
