"""Route the ledger's decisions on order holds (hold id `o.<ref>.…`) into the orders' logs."""

from __future__ import annotations

from collections.abc import Sequence

import faust
from pydantic import ValidationError

from ledger.codec import encode
from ledger.commands import Decision
from ledger.orders.ids import HOLD_PREFIX, ref_of_hold
from ledger.orders.records import OrderDecision
from processors.orders import metrics
from processors.orders.parts import OrderWorker
from processors.side_producer import Record

_PREFIX = b'"hold_id":"' + HOLD_PREFIX.encode()


async def route_decisions(worker: OrderWorker, batch: Sequence[faust.EventT[bytes]]) -> None:
    batch = await worker.repairs.in_partition_order(batch)
    if not batch:
        return
    worker.repairs.note_processed(batch)
    clock = metrics.PhaseClock("decisions", len(batch))
    records: list[Record] = []
    for event in batch:
        record = order_decision(event.message.value)
        if record is not None:
            records.append((worker.settings.topics.orders, record.ref.encode(), encode(record)))
    metrics.DECISIONS_ROUTED.inc(len(records))
    clock.lap("route")
    await worker.side_producer.send_all(records)
    clock.lap("send")


def order_decision(raw: bytes | None) -> OrderDecision | None:
    """The order-log record for a decision on an order's hold (None: not an order's)."""
    if not raw or _PREFIX not in raw:
        return None  # most decisions are channels' own holds: skip them before decoding
    try:
        decision = Decision.model_validate_json(raw)
    except ValidationError:
        return None  # the worker wrote it; the gateway reports unreadable decisions
    ref = ref_of_hold(decision.hold_id)
    if ref is None:
        return None
    return OrderDecision(ref=ref, issued_at=decision.decided_at, decision=decision)
