"""An independent check of the live system: fold what Kafka acknowledged, compare with Redis."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import orjson
import redis

from base import redis_keys
from ledger.availability import figures
from ledger.codec import decode_event
from ledger.fold import evolve
from ledger.policy import PolicyBook
from ledger.state import SkuState


def reference_states(facts: Iterable[Mapping[str, Any]]) -> dict[str, SkuState]:
    """Fold every fact, per SKU in the order given (= produce order = partition order)."""
    states: dict[str, SkuState] = {}
    for record in facts:
        event = decode_event(orjson.dumps(record))
        states[event.sku] = evolve(states.get(event.sku) or SkuState.empty(event.sku), event)
    return states


def figure_mismatches(
    client: redis.Redis, states: Mapping[str, SkuState], book: PolicyBook
) -> list[str]:
    """Every published figure that differs from the reference fold (empty list = equal)."""
    wrong: list[str] = []
    for sku, state in states.items():
        expected = figures(state, book)
        for channel, units in expected.channels.items():
            got = cast(str | None, client.hget(redis_keys.ats_key(channel), sku))
            if int(got or 0) != units:
                wrong.append(f"ats {channel} {sku}: redis {got} != reference {units}")
        for location, units in expected.locations.items():
            got = cast(str | None, client.hget(redis_keys.loc_key(location), sku))
            if int(got or 0) != units:
                wrong.append(f"loc {location} {sku}: redis {got} != reference {units}")
    return wrong


def position_mismatches(table: Mapping[str, SkuState], states: Mapping[str, SkuState]) -> list[str]:
    """SKUs whose positions in the live table differ from the reference fold."""
    wrong = []
    for sku, state in states.items():
        live = table.get(sku)
        if live is None or dict(live.positions) != dict(state.positions):
            wrong.append(f"{sku}: table {None if live is None else dict(live.positions)} "
                         f"!= reference {dict(state.positions)}")  # fmt: skip
    return wrong
