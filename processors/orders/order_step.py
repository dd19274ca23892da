"""One batch of the order log through the order processor: fold, plan, send, write, publish.

Outputs are sent and acknowledged BEFORE the orders' new states are written: a durable
state always implies its asks went out; a replay of records whose state was not durable
folds them again and sends the same asks (same ids), which the ledger answers as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import faust
import orjson

from base.redis_keys import count_tasks_key
from ledger.codec import encode
from ledger.orders.codec import decode_order_state
from ledger.orders.planning import candidate_locations, dated_record, local_day, planned_record
from ledger.orders.saga import NeedPlan, Outputs
from ledger.orders.state import OrderState
from ledger.policy import PolicyBook
from processors.orders import metrics
from processors.orders.fold import FoldedBatch, fold_orders
from processors.orders.parts import OrderWorker
from processors.orders.stock_view import PlanAsk, read_plan_views
from processors.side_producer import Record

log = logging.getLogger("tally.orders")
SETTLED = ("allocated", "partially_allocated", "refused")


async def handle_order_batch(worker: OrderWorker, batch: Sequence[faust.EventT[bytes]]) -> None:
    batch = await worker.repairs.in_partition_order(batch)
    if not batch:
        return
    worker.repairs.note_processed(batch)
    clock = metrics.PhaseClock("orders", len(batch))
    by_partition = {event.message.partition: event for event in batch}
    partition_of = {e.message.key: e.message.partition for e in batch if e.message.key}
    messages = [(e.message.partition, e.message.key, e.message.value) for e in batch]

    def load(ref: str) -> OrderState | None:
        cached = worker.states.get(ref)
        if cached is not None:
            return cached
        partition = partition_of.get(ref.encode())
        if partition is None:
            return None
        worker.repairs.enter_partition(by_partition[partition])
        raw = worker.orders.get(ref.encode())
        return None if raw is None else decode_order_state(raw)

    folded = fold_orders(messages, load, worker.rules)
    clock.lap("fold")
    records = _side_records(worker, folded.outputs) + await _plans(worker, folded)
    records += _dated_records(worker, folded)
    clock.lap("plan")
    await worker.side_producer.send_all(records)
    clock.lap("send")
    async with worker.durable:
        await _write_states(worker, folded)
    for state in folded.states.values():
        worker.timeouts.track(state)
    clock.lap("write")
    await worker.views.publish(list(folded.touched.values()))  # compare-and-set: replays too
    await _count_tasks(worker, folded.outputs)
    clock.lap("publish")
    _count(folded)
    worker.kpis.count(folded.changes, worker.policy.book)


def _side_records(worker: OrderWorker, outputs: Outputs) -> list[Record]:
    topics = worker.settings.topics
    records: list[Record] = [(topics.commands, c.sku.encode(), encode(c)) for c in outputs.commands]
    records += [(topics.events, f.sku.encode(), encode(f)) for f in outputs.facts]
    records += [(topics.capacity, a.location.encode(), encode(a)) for a in outputs.capacity]
    return records


async def _plans(worker: OrderWorker, folded: FoldedBatch) -> list[Record]:
    """Each plan an order asked for, computed now from the published stock (the batch's
    figures read in one trip), as a record of the order's log (adopted when the order folds
    it)."""
    needs = folded.outputs.plans
    if not needs:
        return []
    book, now = worker.policy.book, datetime.now(UTC)
    asks = [_plan_ask(book, folded.states[need.ref], need, now) for need in needs]
    views = await read_plan_views(worker.redis, asks)
    records: list[Record] = []
    for need, view in zip(needs, views, strict=True):
        state = folded.states[need.ref]
        planned = planned_record(need, state, book, view.stock, view.taken, now, view.supply)
        metrics.PLANS.labels(str(bool(planned.shipments)).lower()).inc()
        records.append((worker.settings.topics.orders, need.ref.encode(), encode(planned)))
    return records


def _plan_ask(book: PolicyBook, state: OrderState, need: NeedPlan, now: datetime) -> PlanAsk:
    locations = candidate_locations(book, state, need)
    return PlanAsk(
        skus=[line.sku for line in need.lines],
        locations=locations,
        days={loc: local_day(book.locations.get(loc), now) for loc in locations},
        with_supply=state.allow_backorder,
    )


def _dated_records(worker: OrderWorker, folded: FoldedBatch) -> list[Record]:
    """New dates for shipments whose units wait on a supply that moved (a `dated` record on
    the order's log), from today's calendars."""
    topic, book, now = worker.settings.topics.orders, worker.policy.book, datetime.now(UTC)
    return [
        (topic, ask.ref.encode(), encode(dated_record(ask, folded.states[ask.ref], book, now)))
        for ask in folded.outputs.dates
    ]


async def _write_states(worker: OrderWorker, folded: FoldedBatch) -> None:
    rows = [
        (folded.partitions[ref], ref.encode(), encode(state))
        for ref, state in folded.states.items()
    ]
    for ref, state in folded.states.items():
        worker.states.put(ref, state)
    await worker.orders_changelog.write(rows)


async def _count_tasks(worker: OrderWorker, outputs: Outputs) -> None:

    if not outputs.count_tasks:
        return
    async with worker.redis.pipeline(transaction=False) as pipe:
        for task in outputs.count_tasks:
            detail = {"reason": task.reason, "ref": task.ref, "at": task.at.isoformat()}
            pipe.hset(count_tasks_key(task.location), task.sku, orjson.dumps(detail))
            metrics.PICK_REJECTIONS.labels(task.location, task.reason).inc()
        await pipe.execute()


def _count(folded: FoldedBatch) -> None:
    for record_type, result in folded.records:
        metrics.ORDER_RECORDS.labels(record_type, result).inc()
    for partition, reason in folded.bad:
        metrics.BAD_RECORDS.labels("orders").inc()
        log.warning("order record on partition %d skipped: %s", partition, reason)
    for score in folded.outputs.delivered:
        on_time = str(score.on_time).lower()
        metrics.PROMISE_DELIVERIES.labels(score.channel, score.location, on_time).inc()
        if score.days_late:
            metrics.PROMISE_DAYS_LATE.labels(score.channel, score.location).inc(score.days_late)
    for ref, state in folded.states.items():
        before = folded.before.get(ref)
        if state.promise_version and (
            before is None or before.promise_version != state.promise_version
        ):
            metrics.PROMISES_CHANGED.labels(state.channel).inc()
        was_settled = before is not None and before.status in SETTLED
        if state.status in SETTLED and not was_settled:
            metrics.ORDERS_SETTLED.labels(state.channel, state.status).inc()
            seconds = (state.updated_at - state.placed_at).total_seconds()
            metrics.ORDER_DECISION_SECONDS.labels(state.channel).observe(max(0.0, seconds))
