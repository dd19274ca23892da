"""The order's public view (`GET /v1/orders/{id}`, `tally explain-order`) and its publishing
to Redis: written only when newer (compare-and-set on the order's version), and appended to
the channel's order change stream (with the order's promise, and `promise_changed` when it
moved)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from base.redis_keys import order_changes_key, order_key
from ledger.orders.state import HOLDING, OrderState

# KEYS: the order's hash, the channel's change stream.
# ARGV: version, view JSON, ttl_s (0: none), changes_len_max, order_id, ref, status,
#       event ("changed" or "promise_changed"), promised ("": none), promised_before.
# Returns 1 (written) or 0 (Redis already holds this version or a newer one).
_CAS_ORDER_LUA = """
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'view', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
if ARGV[8] == 'promise_changed' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
    'order_id', ARGV[5], 'ref', ARGV[6], 'status', ARGV[7], 'version', ARGV[1],
    'event', ARGV[8], 'promised', ARGV[9], 'promised_before', ARGV[10])
else
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
    'order_id', ARGV[5], 'ref', ARGV[6], 'status', ARGV[7], 'version', ARGV[1],
    'event', ARGV[8], 'promised', ARGV[9])
end
return 1
"""


def order_view(state: OrderState) -> dict[str, Any]:
    """What a channel (or a person) sees of an order: no internal hold bookkeeping."""
    return {
        "ref": state.ref,
        "channel": state.channel,
        "order_id": state.order_id,
        "status": state.status,
        "digest": state.digest,  # of the order as placed: the gateway refuses another body
        "lines": [line.model_dump() for line in state.lines],
        "delivery": state.delivery.model_dump(),
        "shipments": _shipments(state),
        # what could not be sourced: known once the order is decided (not for a cancel)
        "unfilled": [line.model_dump() for line in state.unfilled()]
        if state.status in ("partially_allocated", "refused")
        else [],
        "rejections": [r.model_dump(mode="json") for r in state.rejections],
        "plans": [p.model_dump(mode="json") for p in state.plans],
        # the promise (docs/PROMISE.md): the latest delivery day (a pickup: ready time)
        "promised": state.promised,
        "promised_before": state.promised_before,
        "version": state.version,
        "placed_at": state.placed_at.isoformat(),
        "updated_at": state.updated_at.isoformat(),
    }


def _shipments(state: OrderState) -> list[dict[str, Any]]:
    by_location: dict[str, list[dict[str, Any]]] = {}
    for hold in state.holds:
        if hold.status in HOLDING or (
            hold.status == "given_back" and state.shipments.get(hold.location) == "rejected"
        ):
            by_location.setdefault(hold.location, []).append({"sku": hold.sku, "qty": hold.qty})
    return [
        {
            "location": location,
            "status": _shipment_status(state, location),
            "lines": lines,
            **_dates(state, location),
        }
        for location, lines in by_location.items()
    ]


def _shipment_status(state: OrderState, location: str) -> str:
    """As the saga keeps it; `backordered` while units wait on supply (not shippable),
    `delivered` once reported."""
    status = state.shipments.get(location, "allocating")
    if status == "shipped" and location in state.delivered:
        return "delivered"
    if status in ("allocated", "picked") and state.waits_until(location) is not None:
        return "backordered"
    return status


def _dates(state: OrderState, location: str) -> dict[str, str | None]:
    promise = state.promises.get(location)
    if promise is None:
        return {}
    waits = state.waits_until(location)
    return {
        "ship_on": None if promise.ship_on is None else promise.ship_on.isoformat(),
        "deliver_on": None if promise.deliver_on is None else promise.deliver_on.isoformat(),
        "ready_at": None if promise.ready_at is None else promise.ready_at.isoformat(),
        "waits_until": None if waits is None else waits.isoformat(),
    }


def change_event(state: OrderState) -> str:
    """The change stream's `event`: `promise_changed` on the version where the allocated
    order's promise moved, else `changed`."""
    if state.promise_version and state.promise_version == state.version:
        return "promise_changed"
    return "changed"


class OrderViews:
    def __init__(self, client: aioredis.Redis, changes_len_max: int, ttl_s: int) -> None:
        self._client = client
        self._changes_len_max = changes_len_max
        self._ttl_s = ttl_s
        self._script = client.register_script(_CAS_ORDER_LUA)

    async def publish(self, states: Sequence[OrderState]) -> int:
        """Write each state's view if Redis holds an older one; returns how many were written."""
        if not states:
            return 0
        async with self._client.pipeline(transaction=False) as pipe:
            for state in states:
                await self._script(
                    keys=[order_key(state.ref), order_changes_key(state.channel)],
                    args=[
                        state.version,
                        orjson.dumps(order_view(state)),
                        self._ttl_s,
                        self._changes_len_max,
                        state.order_id,
                        state.ref,
                        state.status,
                        change_event(state),
                        state.promised or "",
                        state.promised_before or "",
                    ],
                    client=pipe,
                )
            written = await pipe.execute()
        return sum(int(flag) for flag in written)
