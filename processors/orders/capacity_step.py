"""One batch of capacity asks: each (location, day) decided by its one owner, the answers
sent to the orders (acknowledged before the table is written), the counts to Redis."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date

import faust

from ledger.codec import encode
from ledger.errors import DecodeError
from ledger.orders.capacity import CapacityDay, capacity_key, decide_capacity
from ledger.orders.codec import decode_capacity_ask, decode_capacity_day
from ledger.orders.records import CapacityAnswer
from processors.faust_repairs import ChangelogRecord
from processors.orders import metrics
from processors.orders.parts import OrderWorker
from processors.orders.stock_view import publish_capacity
from processors.side_producer import Record

log = logging.getLogger("tally.orders.capacity")


async def handle_capacity_batch(worker: OrderWorker, batch: Sequence[faust.EventT[bytes]]) -> None:
    batch = await worker.repairs.in_partition_order(batch)
    if not batch:
        return
    worker.repairs.note_processed(batch)
    clock = metrics.PhaseClock("capacity", len(batch))
    days: dict[str, tuple[CapacityDay | None, int]] = {}  # key -> (day, its partition)
    answers: list[Record] = []
    for event in batch:
        try:
            ask = decode_capacity_ask(event.message.value or b"")
        except DecodeError as error:
            metrics.BAD_RECORDS.labels("capacity").inc()
            log.warning("capacity ask skipped: %s", error.reason)
            continue
        key = capacity_key(ask.location, ask.day)
        if key not in days:
            days[key] = (_load(worker, event, key), event.message.partition)
        current, partition = days[key]
        record = worker.policy.book.locations.get(ask.location)
        limit = None if record is None else record.daily_order_capacity
        decided = decide_capacity(current, ask, limit)
        days[key] = (decided.day, partition)
        if decided.outcome is not None:
            metrics.CAPACITY_DECISIONS.labels(decided.outcome).inc()
            answer = CapacityAnswer(
                ref=ask.ref,
                issued_at=ask.issued_at,
                location=ask.location,
                day=ask.day,
                outcome=decided.outcome,
            )
            answers.append((worker.settings.topics.orders, ask.ref.encode(), encode(answer)))
    clock.lap("decide")
    await worker.side_producer.send_all(answers)
    clock.lap("send")
    await _write(worker, days)
    clock.lap("write")


def _load(worker: OrderWorker, event: faust.EventT[bytes], key: str) -> CapacityDay | None:
    worker.repairs.enter_partition(event)
    raw = worker.capacity.get(key.encode())
    return None if raw is None else decode_capacity_day(raw)


async def _write(worker: OrderWorker, days: dict[str, tuple[CapacityDay | None, int]]) -> None:
    rows: list[ChangelogRecord] = []
    counts: dict[tuple[str, date], int] = {}
    for key, (day, partition) in days.items():
        if day is None:
            continue
        rows.append((partition, key.encode(), encode(day)))
        counts[(day.location, day.day)] = day.taken
    await worker.capacity_changelog.write(rows)
    await publish_capacity(worker.redis, counts)
