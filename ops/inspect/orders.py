"""Orders as on-call and merchandisers read them: an order's published view (Redis), and the
orders of a past window with their first plan (the order log, for `tally sourcing simulate`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aiokafka import TopicPartition

from base.redis_keys import order_key
from base.settings import Settings
from connectors.inspect.kafka_read import kafka_consumer, partition_count, read_policy, scan
from connectors.inspect.published import redis_client
from ledger.errors import DecodeError
from ledger.orders.codec import decode_order_record
from ledger.orders.ids import order_ref
from ledger.orders.records import PlaceOrder, Planned
from ledger.policy import PolicyBook


class OrderNotFound(ValueError):
    """No view of this order in Redis (never placed, or older than the view's TTL)."""


async def order_view(settings: Settings, channel: str, order_id: str) -> dict[str, Any]:
    ref = order_ref(channel, order_id)
    async with redis_client(settings) as client:
        raw = await client.hget(order_key(ref), "view")
    if raw is None:
        raise OrderNotFound(f"order {order_id!r} of channel {channel!r} is unknown (ref {ref})")
    view: dict[str, Any] = orjson.loads(raw)
    return view


async def past_orders(
    settings: Settings, since: datetime
) -> tuple[list[tuple[PlaceOrder, Planned]], PolicyBook]:
    """Orders placed since `since`, each with its first adopted plan, and today's policy."""
    topic = settings.topics.orders
    async with kafka_consumer(settings) as consumer:
        book, _ = await read_policy(consumer, settings)
        count = await partition_count(consumer, topic, "order log")
        partitions = [TopicPartition(topic, p) for p in range(count)]
        found = await consumer.offsets_for_times(
            {tp: int(since.timestamp() * 1000) for tp in partitions}
        )
        # a partition with no record at or after `since` has nothing to read
        starts = {tp: offset.offset for tp, offset in found.items() if offset is not None}
        placed: dict[str, PlaceOrder] = {}
        first_plans: dict[str, Planned] = {}
        async for record in scan(consumer, list(starts), start_offsets=starts):
            _note(record.value, placed, first_plans)
    orders = [(placed[ref], first_plans[ref]) for ref in placed if ref in first_plans]
    return orders, book


def _note(raw: bytes | None, placed: dict[str, PlaceOrder], plans: dict[str, Planned]) -> None:
    try:
        record = decode_order_record(raw or b"")
    except DecodeError:
        return
    if isinstance(record, PlaceOrder):
        placed.setdefault(record.ref, record)
    elif isinstance(record, Planned) and record.plan_seq == 1:
        plans.setdefault(record.ref, record)
